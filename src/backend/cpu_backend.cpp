// The CPU backend: the reference backend with the ops that pay for tuning overridden. Each keeps the reference's
// arithmetic per element (the same bits: tests/unit/test_ops.cpp); what changes is how the elements are walked.
#include <algorithm>
#include <cmath>

#include "backend/reference_backend.h"
#include "kernels/parallel.h"

namespace seqnet {

namespace {

// Runs part(begin, end) over [0, n) split over threads for large tensors (an embedding table's update): every
// element is computed on its own, so the result is the same on any thread count.
template <typename Part>
void split_elements(int64_t n, Part&& part) {
  kernels::split_range(long(n), 64, 16.0 * double(n), std::forward<Part>(part));
}

// One share of Adam's update, with the amsgrad test hoisted and no aliasing, so that it vectorizes (sqrt and
// divide included).
template <bool kAmsgrad>
void adam_range(float* __restrict v, const float* __restrict g, float* __restrict m, float* __restrict s,
                float* __restrict vhat, long begin, long end, float b1, float b2, float alpha, float eps) {
  for (long i = begin; i < end; ++i) {
    m[i] += (g[i] - m[i]) * (1.0f - b1);
    s[i] += (g[i] * g[i] - s[i]) * (1.0f - b2);
    float second_moment = s[i];
    if constexpr (kAmsgrad) {
      vhat[i] = std::max(vhat[i], s[i]);
      second_moment = vhat[i];
    }
    v[i] -= m[i] * alpha / (std::sqrt(second_moment) + eps);
  }
}

class CpuBackend final : public ReferenceBackend {
 public:
  const char* name() const override { return "cpu"; }

  void sgd_update(Tensor& value, const Tensor& grad, Tensor* velocity, const SgdStep& step) override {
    float* v = value.data();
    const float* g = grad.data();
    const float lr = step.learning_rate;
    if (!velocity) {
      split_elements(value.size(), [&](long begin, long end) {
        for (long i = begin; i < end; ++i) v[i] -= lr * g[i];
      });
      return;
    }
    float* m = velocity->data();
    split_elements(value.size(), [&](long begin, long end) {
      for (long i = begin; i < end; ++i) {
        m[i] = step.momentum * m[i] - lr * g[i];
        v[i] += step.nesterov ? step.momentum * m[i] - lr * g[i] : m[i];
      }
    });
  }

  void rmsprop_update(Tensor& value, const Tensor& grad, Tensor& velocity, Tensor* average_gradient, Tensor* momentum,
                      const RmspropStep& step) override {
    if (average_gradient || momentum) {
      // Centered or with momentum (not Keras's default): the reference's loop, on one thread.
      ReferenceBackend::rmsprop_update(value, grad, velocity, average_gradient, momentum, step);
      return;
    }
    // The default as a loop of its own, so that it vectorizes; the same arithmetic as the reference.
    float* __restrict v = value.data();
    const float* __restrict g = grad.data();
    float* __restrict vel = velocity.data();
    const float lr = step.learning_rate, rho = step.rho, eps = step.epsilon;
    split_elements(value.size(), [&](long begin, long end) {
      for (long i = begin; i < end; ++i) {
        const float gi = g[i];
        const float ve = rho * vel[i] + (1.0f - rho) * gi * gi;
        vel[i] = ve;
        v[i] -= lr * gi / std::sqrt(ve + eps);
      }
    });
  }

  void adam_update(Tensor& value, const Tensor& grad, Tensor& m_slot, Tensor& v_slot, Tensor* v_hat,
                   const AdamStep& step) override {
    float* v = value.data();
    const float* g = grad.data();
    float* m = m_slot.data();
    float* s = v_slot.data();
    float* vhat = v_hat ? v_hat->data() : nullptr;
    split_elements(value.size(), [&](long begin, long end) {
      if (vhat) adam_range<true>(v, g, m, s, vhat, begin, end, step.beta_1, step.beta_2, step.alpha, step.epsilon);
      else adam_range<false>(v, g, m, s, nullptr, begin, end, step.beta_1, step.beta_2, step.alpha, step.epsilon);
    });
  }

  void adagrad_update(Tensor& value, const Tensor& grad, Tensor& accumulator, const AdagradStep& step) override {
    float* v = value.data();
    const float* g = grad.data();
    float* acc = accumulator.data();
    split_elements(value.size(), [&](long begin, long end) {
      for (long i = begin; i < end; ++i) {
        acc[i] += g[i] * g[i];
        v[i] -= step.learning_rate * g[i] / std::sqrt(acc[i] + step.epsilon);
      }
    });
  }

};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend cpu;
  return cpu;
}

Backend& reference_backend() {
  static ReferenceBackend reference;
  return reference;
}

Backend& backend() { return cpu_backend(); }

const std::vector<std::string>& Backend::op_names() {
  static const std::vector<std::string> names = {
      "sgd_update",     "rmsprop_update",         "adam_update",             "adagrad_update",
      "decay_weights",  "sum_of_squares",         "scale_to_norm",           "clip_values",
      "pointwise_loss_forward", "pointwise_loss_backward", "crossentropy_forward", "crossentropy_backward",
      "first_invalid_label",    "binary_hits",             "argmax_hits"};
  return names;
}

}  // namespace seqnet
