// The reference backend: each op as the plainest loop that computes it (backend/backend.h has the formulas).
// The arithmetic of every expression here is the specification: the tuned ops must give the same bits.
#include "backend/reference_backend.h"

#include <algorithm>
#include <cmath>

namespace seqnet {

namespace {
constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon()

double sign(double e) { return double((e > 0) - (e < 0)); }

// The binary crossentropies' target with label smoothing s: y (1 - s) + s / 2.
double smoothed_binary_target(float t, float s) { return double(t) * (1.0 - double(s)) + 0.5 * double(s); }

// One row of a crossentropy's target distribution, in double.
void target_row(const Tensor& target, int64_t row, int64_t classes, const CrossentropyRows& how, double* out) {
  if (how.sparse_labels) {
    std::fill(out, out + classes, 0.0);
    out[int64_t(target[row])] = 1.0;
    return;
  }
  const float* t = target.data() + row * classes;
  for (int64_t j = 0; j < classes; ++j)
    out[j] = double(t[j]) * (1.0 - double(how.label_smoothing)) + double(how.label_smoothing) / double(classes);
}

// log(sum(exp(z))) of one row of logits, shifted by its maximum.
double log_sum_exp(const float* z, int64_t classes) {
  const double m = *std::max_element(z, z + classes);
  double s = 0;
  for (int64_t j = 0; j < classes; ++j) s += std::exp(z[j] - m);
  return m + std::log(s);
}

int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }
}  // namespace

// ---- Optimizer updates ----------------------------------------------------------------------------------------

void ReferenceBackend::sgd_update(Tensor& value, const Tensor& grad, Tensor* velocity, const SgdStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  const float lr = step.learning_rate;
  if (!velocity) {
    for (int64_t i = 0; i < value.size(); ++i) v[i] -= lr * g[i];
    return;
  }
  float* m = velocity->data();
  for (int64_t i = 0; i < value.size(); ++i) {
    m[i] = step.momentum * m[i] - lr * g[i];
    v[i] += step.nesterov ? step.momentum * m[i] - lr * g[i] : m[i];
  }
}

void ReferenceBackend::rmsprop_update(Tensor& value, const Tensor& grad, Tensor& velocity, Tensor* average_gradient,
                                      Tensor* momentum, const RmspropStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  float* vel = velocity.data();
  float* mg = average_gradient ? average_gradient->data() : nullptr;
  float* mom = momentum ? momentum->data() : nullptr;
  const float lr = step.learning_rate, rho = step.rho;
  for (int64_t i = 0; i < value.size(); ++i) {
    vel[i] = rho * vel[i] + (1.0f - rho) * g[i] * g[i];
    float denom;
    if (mg) {
      mg[i] = rho * mg[i] + (1.0f - rho) * g[i];
      denom = vel[i] - mg[i] * mg[i] + step.epsilon;
    } else {
      denom = vel[i] + step.epsilon;
    }
    const float increment = lr * g[i] / std::sqrt(denom);
    if (mom) {
      mom[i] = step.momentum * mom[i] + increment;
      v[i] -= mom[i];
    } else {
      v[i] -= increment;
    }
  }
}

void ReferenceBackend::adam_update(Tensor& value, const Tensor& grad, Tensor& m_slot, Tensor& v_slot, Tensor* v_hat,
                                   const AdamStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  float* m = m_slot.data();
  float* s = v_slot.data();
  float* vhat = v_hat ? v_hat->data() : nullptr;
  for (int64_t i = 0; i < value.size(); ++i) {
    m[i] += (g[i] - m[i]) * (1.0f - step.beta_1);
    s[i] += (g[i] * g[i] - s[i]) * (1.0f - step.beta_2);
    float second_moment = s[i];
    if (vhat) {
      vhat[i] = std::max(vhat[i], s[i]);
      second_moment = vhat[i];
    }
    v[i] -= m[i] * step.alpha / (std::sqrt(second_moment) + step.epsilon);
  }
}

void ReferenceBackend::adagrad_update(Tensor& value, const Tensor& grad, Tensor& accumulator, const AdagradStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  float* acc = accumulator.data();
  for (int64_t i = 0; i < value.size(); ++i) {
    acc[i] += g[i] * g[i];
    v[i] -= step.learning_rate * g[i] / std::sqrt(acc[i] + step.epsilon);
  }
}

void ReferenceBackend::decay_weights(Tensor& value, float weight_decay, float learning_rate) {
  float* v = value.data();
  for (int64_t i = 0; i < value.size(); ++i) v[i] -= v[i] * weight_decay * learning_rate;
}

// ---- Gradient clipping ----------------------------------------------------------------------------------------

double ReferenceBackend::sum_of_squares(const Tensor& x, double start) {
  const float* p = x.data();
  double sq = start;
  for (int64_t i = 0; i < x.size(); ++i) sq += double(p[i]) * p[i];
  return sq;
}

void ReferenceBackend::scale_to_norm(Tensor& x, double clip_norm, double norm) {
  float* p = x.data();
  for (int64_t i = 0; i < x.size(); ++i) p[i] = float(p[i] * clip_norm / norm);
}

void ReferenceBackend::clip_values(Tensor& x, float limit) {
  float* p = x.data();
  for (int64_t i = 0; i < x.size(); ++i) p[i] = std::clamp(p[i], -limit, limit);
}

// ---- Losses ---------------------------------------------------------------------------------------------------

double ReferenceBackend::pointwise_loss_forward(PointwiseLoss kind, const Tensor& pred, const Tensor& target,
                                                float param) {
  const float* p = pred.data();
  const float* t = target.data();
  double sum = 0;
  for (int64_t i = 0; i < pred.size(); ++i) {
    switch (kind) {
      case PointwiseLoss::absolute_error:
        sum += std::fabs(double(p[i]) - double(t[i]));
        break;
      case PointwiseLoss::squared_error: {
        const double e = double(p[i]) - double(t[i]);
        sum += e * e;
        break;
      }
      case PointwiseLoss::huber: {
        const double e = double(p[i]) - double(t[i]), a = std::fabs(e), d = param;
        sum += a <= d ? 0.5 * e * e : d * (a - 0.5 * d);
        break;
      }
      case PointwiseLoss::binary_crossentropy: {
        // The clip happens in float32, as in Keras: 1 - (1 - 1e-7f) is 1.19e-7, not 1e-7.
        const float lo = float(kEpsilon), hi = 1.0f - float(kEpsilon);
        const double y = smoothed_binary_target(t[i], param);
        const double q = std::clamp(p[i], lo, hi), one_minus_q = 1.0f - std::clamp(p[i], lo, hi);
        sum += -(y * std::log(q) + (1.0 - y) * std::log(one_minus_q));
        break;
      }
      case PointwiseLoss::binary_crossentropy_logits: {
        const double x = p[i], y = smoothed_binary_target(t[i], param);
        sum += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
        break;
      }
    }
  }
  return sum;
}

void ReferenceBackend::pointwise_loss_backward(PointwiseLoss kind, Tensor& dpred, const Tensor& pred,
                                               const Tensor& target, float param) {
  const float* p = pred.data();
  const float* t = target.data();
  float* d = dpred.data();
  const int64_t n = pred.size();
  for (int64_t i = 0; i < n; ++i) {
    switch (kind) {
      case PointwiseLoss::absolute_error:
        d[i] = float(sign(double(p[i]) - double(t[i]))) / float(n);
        break;
      case PointwiseLoss::squared_error:
        d[i] = float(2.0 * (double(p[i]) - double(t[i])) / double(n));
        break;
      case PointwiseLoss::huber: {
        const double e = double(p[i]) - double(t[i]), a = std::fabs(e), delta = param;
        d[i] = float((a <= delta ? e : delta * sign(e)) / double(n));
        break;
      }
      case PointwiseLoss::binary_crossentropy: {
        // The clip passes no gradient outside [eps, 1 - eps], as in TensorFlow.
        const float lo = float(kEpsilon), hi = 1.0f - float(kEpsilon);
        const double y = smoothed_binary_target(t[i], param);
        const double q = std::clamp(p[i], lo, hi), one_minus_q = 1.0f - std::clamp(p[i], lo, hi);
        d[i] = (p[i] > lo && p[i] < hi) ? float((-(y / q) + (1.0 - y) / one_minus_q) / double(n)) : 0.0f;
        break;
      }
      case PointwiseLoss::binary_crossentropy_logits: {
        const double x = p[i], y = smoothed_binary_target(t[i], param);
        d[i] = float((1.0 / (1.0 + std::exp(-x)) - y) / double(n));
        break;
      }
    }
  }
}

double ReferenceBackend::crossentropy_forward(const Tensor& pred, const Tensor& target, int64_t classes,
                                              const CrossentropyRows& how) {
  const int64_t rows = pred.size() / classes;
  std::vector<double> y(static_cast<size_t>(classes));
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = pred.data() + r * classes;
    target_row(target, r, classes, how, y.data());
    if (how.from_logits) {
      // -sum(y log softmax(z)) = sum(y) logsumexp(z) - sum(y z)
      const double lse = log_sum_exp(p, classes);
      double ysum = 0, yz = 0;
      for (int64_t j = 0; j < classes; ++j) ysum += y[size_t(j)], yz += y[size_t(j)] * p[j];
      sum += ysum * lse - yz;
    } else {
      // Keras (TF backend): q = p / sum(p), clipped to [eps, 1 - eps].
      double s = 0;
      for (int64_t j = 0; j < classes; ++j) s += p[j];
      for (int64_t j = 0; j < classes; ++j) sum += -y[size_t(j)] * std::log(std::clamp(p[j] / s, kEpsilon, 1.0 - kEpsilon));
    }
  }
  return sum / double(rows);
}

void ReferenceBackend::crossentropy_backward(Tensor& dpred, const Tensor& pred, const Tensor& target, int64_t classes,
                                             const CrossentropyRows& how) {
  const int64_t rows = pred.size() / classes;
  std::vector<double> y(static_cast<size_t>(classes)), dq(static_cast<size_t>(classes));
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = pred.data() + r * classes;
    float* d = dpred.data() + r * classes;
    target_row(target, r, classes, how, y.data());
    if (how.from_logits) {
      const double lse = log_sum_exp(p, classes);
      double ysum = 0;
      for (int64_t j = 0; j < classes; ++j) ysum += y[size_t(j)];
      for (int64_t j = 0; j < classes; ++j) d[j] = float((ysum * std::exp(p[j] - lse) - y[size_t(j)]) / double(rows));
    } else {
      // Through q = p / s: dL/dp_j = dq_j / s - sum_k(dq_k p_k) / s^2; the clip passes no gradient.
      double s = 0;
      for (int64_t j = 0; j < classes; ++j) s += p[j];
      double dq_dot_p = 0;
      for (int64_t j = 0; j < classes; ++j) {
        const double q = p[j] / s, clipped = std::clamp(q, kEpsilon, 1.0 - kEpsilon);
        dq[size_t(j)] = (q > kEpsilon && q < 1.0 - kEpsilon) ? -y[size_t(j)] / clipped : 0.0;
        dq_dot_p += dq[size_t(j)] * p[j];
      }
      for (int64_t j = 0; j < classes; ++j) d[j] = float((dq[size_t(j)] / s - dq_dot_p / (s * s)) / double(rows));
    }
  }
}

InvalidLabel ReferenceBackend::first_invalid_label(const Tensor& labels, int64_t classes) {
  const float* t = labels.data();
  for (int64_t i = 0; i < labels.size(); ++i) {
    const double label = t[i];
    if (label != std::floor(label) || label < 0 || label >= double(classes)) return {i, label};
  }
  return {};
}

// ---- Metrics --------------------------------------------------------------------------------------------------

double ReferenceBackend::binary_hits(const Tensor& pred, const Tensor& target, float threshold) {
  const float* p = pred.data();
  const float* t = target.data();
  double hits = 0;
  for (int64_t i = 0; i < pred.size(); ++i) hits += ((p[i] > threshold) == (t[i] > 0.5f)) ? 1.0 : 0.0;
  return hits;
}

double ReferenceBackend::argmax_hits(const Tensor& pred, const Tensor& target, int64_t classes, bool sparse_labels) {
  const int64_t rows = pred.size() / classes;
  double hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t predicted = argmax(pred.data() + r * classes, classes);
    if (sparse_labels) hits += double(predicted) == double(target[r]);
    else hits += predicted == argmax(target.data() + r * classes, classes);
  }
  return hits;
}

}  // namespace seqnet
