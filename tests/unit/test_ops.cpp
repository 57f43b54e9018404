// Every op of the backend (src/backend/backend.h), after ggml's test-backend-ops: each case runs an op on the same
// inputs through the reference backend and through the CPU backend on 1 and on 2 threads, and every output must
// be bitwise the reference's. Cases come in two sizes: a small one, and one large enough that the CPU backend
// splits it over threads. An op added to Backend::op_names() fails Ops.EveryOpHasCases until it has cases here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include "backend/backend.h"
#include "gradcheck.h"
#include "seqnet/threads.h"

namespace seqnet {
namespace {

using testing::random_tensor;

struct OpCase {
  std::string op;    // the name in Backend::op_names()
  std::string label; // what this case varies
  // Runs the op on `b` over inputs made afresh (from fixed seeds) and returns every output: the tensors it
  // wrote and its result as a one-element tensor.
  std::function<std::vector<Tensor>(Backend& b)> run;
};

Tensor scalar(double v) { return Tensor({1}, std::vector<float>{float(v)}); }
// A double result, kept whole: its two halves as floats that are compared bitwise.
Tensor exact(double v) {
  float halves[2];
  std::memcpy(halves, &v, sizeof v);
  return Tensor({2}, std::vector<float>{halves[0], halves[1]});
}

// Values in [0, 1) with some exactly 0 and 1 (the crossentropies' clip) and tiny ones (their eps).
Tensor probabilities(int64_t n, uint64_t seed) {
  Tensor p = random_tensor({n}, seed, 0.0f, 1.0f);
  for (int64_t i = 0; i < n; i += 11) p[i] = (i / 11) % 3 == 0 ? 0.0f : (i / 11) % 3 == 1 ? 1.0f : 1e-9f;
  return p;
}

Tensor labels(int64_t rows, int64_t classes, uint64_t seed) {
  Tensor u = random_tensor({rows}, seed, 0.0f, float(classes));
  for (int64_t r = 0; r < rows; ++r) u[r] = std::min(float(int64_t(u[r])), float(classes - 1));
  return u;
}

// A (rows, classes) distribution per row (rows summing to 1).
Tensor distributions(int64_t rows, int64_t classes, uint64_t seed) {
  Tensor t = random_tensor({rows, classes}, seed, 0.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float s = 0;
    for (int64_t j = 0; j < classes; ++j) s += t[r * classes + j];
    for (int64_t j = 0; j < classes; ++j) t[r * classes + j] /= s;
  }
  return t;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> c;
  // n = 37: one thread's share; 300,000: split over threads by the CPU backend.
  for (int64_t n : {int64_t(37), int64_t(300000)}) {
    const std::string size = " n=" + std::to_string(n);
    for (float momentum : {0.0f, 0.9f})
      for (bool nesterov : {false, true})
        c.push_back({"sgd_update", "momentum " + std::to_string(momentum) + (nesterov ? " nesterov" : "") + size,
                     [=](Backend& b) {
                       Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2), m = random_tensor({n}, 3);
                       b.sgd_update(v, g, momentum != 0.0f ? &m : nullptr, {0.01f, momentum, nesterov});
                       return std::vector<Tensor>{v, m};
                     }});
    for (bool centered : {false, true})
      for (float momentum : {0.0f, 0.5f})
        c.push_back({"rmsprop_update", std::string(centered ? "centered" : "plain") + " momentum " +
                                           std::to_string(momentum) + size,
                     [=](Backend& b) {
                       Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2);
                       Tensor vel = random_tensor({n}, 3, 0.0f, 1.0f), avg = random_tensor({n}, 4, -0.1f, 0.1f),
                              mom = random_tensor({n}, 5);
                       b.rmsprop_update(v, g, vel, centered ? &avg : nullptr, momentum > 0 ? &mom : nullptr,
                                        {0.001f, 0.9f, momentum, 1e-7f, centered});
                       return std::vector<Tensor>{v, vel, avg, mom};
                     }});
    for (bool amsgrad : {false, true})
      c.push_back({"adam_update", std::string(amsgrad ? "amsgrad" : "plain") + size, [=](Backend& b) {
                     Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2), m = random_tensor({n}, 3);
                     Tensor s = random_tensor({n}, 4, 0.0f, 1.0f), vhat = random_tensor({n}, 5, 0.0f, 1.0f);
                     b.adam_update(v, g, m, s, amsgrad ? &vhat : nullptr, {0.9f, 0.999f, 1e-7f, 3.2e-4f});
                     return std::vector<Tensor>{v, m, s, vhat};
                   }});
    c.push_back({"adagrad_update", size, [=](Backend& b) {
                   Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2), acc = random_tensor({n}, 3, 0.1f, 1.0f);
                   b.adagrad_update(v, g, acc, {0.001f, 1e-7f});
                   return std::vector<Tensor>{v, acc};
                 }});
    c.push_back({"decay_weights", size, [=](Backend& b) {
                   Tensor v = random_tensor({n}, 1);
                   b.decay_weights(v, 0.004f, 0.001f);
                   return std::vector<Tensor>{v};
                 }});
    c.push_back({"sum_of_squares", size, [=](Backend& b) {
                   return std::vector<Tensor>{exact(b.sum_of_squares(random_tensor({n}, 1), 1.5))};
                 }});
    c.push_back({"scale_to_norm", size, [=](Backend& b) {
                   Tensor g = random_tensor({n}, 1);
                   b.scale_to_norm(g, 1.0, 3.7);
                   return std::vector<Tensor>{g};
                 }});
    c.push_back({"clip_values", size, [=](Backend& b) {
                   Tensor g = random_tensor({n}, 1);
                   b.clip_values(g, 0.25f);
                   return std::vector<Tensor>{g};
                 }});

    struct Pointwise {
      PointwiseLoss kind;
      const char* name;
      float param;
      bool probabilities;
    };
    for (const Pointwise& k : {Pointwise{PointwiseLoss::absolute_error, "absolute_error", 0.0f, false},
                               Pointwise{PointwiseLoss::squared_error, "squared_error", 0.0f, false},
                               Pointwise{PointwiseLoss::huber, "huber 0.3", 0.3f, false},
                               Pointwise{PointwiseLoss::binary_crossentropy, "binary_crossentropy", 0.0f, true},
                               Pointwise{PointwiseLoss::binary_crossentropy, "binary_crossentropy smoothed", 0.1f, true},
                               Pointwise{PointwiseLoss::binary_crossentropy_logits, "logits smoothed", 0.2f, false}}) {
      auto inputs = [=] {
        Tensor p = k.probabilities ? probabilities(n, 1) : random_tensor({n}, 1, -3.0f, 3.0f);
        Tensor t = k.probabilities || k.kind == PointwiseLoss::binary_crossentropy_logits
                       ? random_tensor({n}, 2, 0.0f, 1.0f)
                       : random_tensor({n}, 2, -3.0f, 3.0f);
        return std::pair{p, t};
      };
      c.push_back({"pointwise_loss_forward", k.name + size, [=](Backend& b) {
                     auto [p, t] = inputs();
                     return std::vector<Tensor>{exact(b.pointwise_loss_forward(k.kind, p, t, k.param))};
                   }});
      c.push_back({"pointwise_loss_backward", k.name + size, [=](Backend& b) {
                     auto [p, t] = inputs();
                     Tensor d = Tensor::full({n}, 99.0f);
                     b.pointwise_loss_backward(k.kind, d, p, t, k.param);
                     return std::vector<Tensor>{d};
                   }});
    }
  }

  const int64_t rows = 41, classes = 7;
  for (bool from_logits : {false, true})
    for (bool sparse : {false, true})
      for (float smoothing : {0.0f, 0.1f}) {
        if (sparse && smoothing != 0.0f) continue;
        const CrossentropyRows how{from_logits, sparse, smoothing};
        const std::string label = std::string(from_logits ? "logits" : "probabilities") + (sparse ? " sparse" : " dense") +
                                  " smoothing " + std::to_string(smoothing);
        auto inputs = [=] {
          Tensor p = from_logits ? random_tensor({rows, classes}, 1, -4.0f, 4.0f)
                                 : random_tensor({rows, classes}, 1, 0.0f, 1.0f);
          if (!from_logits) p[3] = 0.0f;  // a clipped probability
          Tensor t = sparse ? labels(rows, classes, 2) : distributions(rows, classes, 2);
          return std::pair{p, t};
        };
        c.push_back({"crossentropy_forward", label, [=](Backend& b) {
                       auto [p, t] = inputs();
                       return std::vector<Tensor>{exact(b.crossentropy_forward(p, t, classes, how))};
                     }});
        c.push_back({"crossentropy_backward", label, [=](Backend& b) {
                       auto [p, t] = inputs();
                       Tensor d = Tensor::full({rows, classes}, 99.0f);
                       b.crossentropy_backward(d, p, t, classes, how);
                       return std::vector<Tensor>{d};
                     }});
      }
  for (float bad : {0.0f, 2.5f, -1.0f, 7.0f})
    c.push_back({"first_invalid_label", "label 23 = " + std::to_string(bad), [=](Backend& b) {
                   Tensor t = labels(rows, classes, 2);
                   if (bad != 0.0f) t[23] = bad;
                   const InvalidLabel found = b.first_invalid_label(t, classes);
                   return std::vector<Tensor>{scalar(double(found.row)), exact(found.label)};
                 }});
  c.push_back({"binary_hits", "", [=](Backend& b) {
                 return std::vector<Tensor>{
                     scalar(b.binary_hits(probabilities(1001, 1), random_tensor({1001}, 2, 0.0f, 1.0f), 0.3f))};
               }});
  for (bool sparse : {false, true})
    c.push_back({"argmax_hits", sparse ? "sparse" : "dense", [=](Backend& b) {
                   Tensor p = random_tensor({rows, classes}, 1);
                   Tensor t = sparse ? labels(rows, classes, 1) : random_tensor({rows, classes}, 3);
                   return std::vector<Tensor>{scalar(b.argmax_hits(p, t, classes, sparse))};
                 }});
  return c;
}

class ThreadCount {
 public:
  explicit ThreadCount(int n) : before_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(before_); }

 private:
  int before_;
};

void expect_bitwise(const std::vector<Tensor>& want, const std::vector<Tensor>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].shape(), got[k].shape()) << what << ", output " << k;
    if (std::memcmp(want[k].data(), got[k].data(), size_t(want[k].size()) * sizeof(float)) == 0) continue;
    for (int64_t i = 0; i < want[k].size(); ++i)
      if (std::memcmp(&want[k].data()[i], &got[k].data()[i], sizeof(float)) != 0) {
        ADD_FAILURE() << what << ", output " << k << " element " << i << ": reference " << want[k][i] << ", got "
                      << got[k][i];
        break;
      }
  }
}

TEST(Ops, EveryOpHasCases) {
  std::set<std::string> covered;
  for (const OpCase& c : cases()) covered.insert(c.op);
  for (const std::string& op : Backend::op_names())
    EXPECT_TRUE(covered.count(op)) << op << " is an op of the backend but has no case in test_ops.cpp";
  for (const std::string& op : covered)
    EXPECT_NE(std::find(Backend::op_names().begin(), Backend::op_names().end(), op), Backend::op_names().end())
        << op << " has cases but is not in Backend::op_names()";
}

TEST(Ops, CpuBackendGivesTheReferenceBitsOnOneAndTwoThreads) {
  EXPECT_EQ(&backend(), &cpu_backend());
  for (const OpCase& c : cases()) {
    const std::string what = c.op + " " + c.label;
    const std::vector<Tensor> want = c.run(reference_backend());
    for (int threads : {1, 2}) {
      ThreadCount count(threads);
      expect_bitwise(want, c.run(cpu_backend()), what + " on " + std::to_string(threads) + " thread(s)");
    }
  }
}

// The reference is the specification; a few values by hand keep it honest where the Keras fixtures of
// test_losses_optimizers.cpp do not reach (the clip edges).
TEST(Ops, ReferenceAtTheCrossentropyClip) {
  Backend& b = reference_backend();
  Tensor p({3}, std::vector<float>{0.0f, 1.0f, 0.5f}), t({3}, std::vector<float>{1.0f, 0.0f, 1.0f});
  Tensor d({3});
  b.pointwise_loss_backward(PointwiseLoss::binary_crossentropy, d, p, t, 0.0f);
  EXPECT_EQ(d[0], 0.0f);  // clipped: no gradient, as in TensorFlow
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_FLOAT_EQ(d[2], float(-2.0 / 3.0));
  const double sum = b.pointwise_loss_forward(PointwiseLoss::binary_crossentropy, p, t, 0.0f);
  const float eps = float(1e-7);
  EXPECT_NEAR(sum, -std::log(double(eps)) - std::log(double(1.0f - (1.0f - eps))) - std::log(0.5), 1e-9);
  const InvalidLabel none = b.first_invalid_label(Tensor({2}, std::vector<float>{0.0f, 2.0f}), 3);
  EXPECT_EQ(none.row, -1);
}

}  // namespace
}  // namespace seqnet
