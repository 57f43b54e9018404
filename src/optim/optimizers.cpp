// Optimizers: Keras 3 update rules (keras/src/optimizers/*.py), one update() each.
#include "seqnet/optimizers.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/parallel.h"

namespace seqnet {

Optimizer::Optimizer(std::string name, float learning_rate, ClipOptions clip, float weight_decay)
    : name_(std::move(name)), learning_rate_(learning_rate), clip_(clip), weight_decay_(weight_decay) {
  int set = int(clip_.clipnorm.has_value()) + int(clip_.clipvalue.has_value()) + int(clip_.global_clipnorm.has_value());
  if (set > 1) throw Error(name_ + ": only one of clipnorm, clipvalue and global_clipnorm can be set");
  if (!(learning_rate_ > 0.0f)) throw Error(fmt::format("{}: learning_rate must be positive, got {}", name_, learning_rate_));
}

void Optimizer::apply(const std::vector<Param*>& params) {
  const bool clipping = clip_.global_clipnorm || clip_.clipnorm || clip_.clipvalue;
  if (!clipping) {
    // Nothing modifies the gradients: update from them in place (no copy of every gradient per step).
    for (Param* p : params) {
      if (weight_decay_ > 0.0f) {
        float* v = p->value.data();
        for (int64_t i = 0; i < p->value.size(); ++i) v[i] -= v[i] * weight_decay_ * learning_rate_;
      }
      update(p->value, p->grad, slots_[p]);
    }
    ++iterations_;
    return;
  }
  std::vector<Tensor> grads;
  grads.reserve(params.size());
  for (Param* p : params) grads.push_back(p->grad);
  if (clip_.global_clipnorm) {
    double sq = 0;
    for (const Tensor& g : grads)
      for (int64_t i = 0; i < g.size(); ++i) sq += double(g[i]) * g[i];
    double norm = std::sqrt(sq), c = *clip_.global_clipnorm;
    if (norm > c)
      for (Tensor& g : grads)
        for (int64_t i = 0; i < g.size(); ++i) g[i] = float(g[i] * c / norm);
  }
  for (Tensor& g : grads) {
    if (clip_.clipnorm) {
      double sq = 0;
      for (int64_t i = 0; i < g.size(); ++i) sq += double(g[i]) * g[i];
      double norm = std::sqrt(sq), c = *clip_.clipnorm;
      if (norm > c)
        for (int64_t i = 0; i < g.size(); ++i) g[i] = float(g[i] * c / norm);
    }
    if (clip_.clipvalue)
      for (int64_t i = 0; i < g.size(); ++i) g[i] = std::clamp(g[i], -*clip_.clipvalue, *clip_.clipvalue);
  }
  for (size_t k = 0; k < params.size(); ++k) {
    Param* p = params[k];
    if (weight_decay_ > 0.0f) {
      // Keras: variable -= variable * weight_decay * learning_rate, before the update.
      float* v = p->value.data();
      for (int64_t i = 0; i < p->value.size(); ++i) v[i] -= v[i] * weight_decay_ * learning_rate_;
    }
    update(p->value, grads[k], slots_[p]);
  }
  ++iterations_;
}

Json Optimizer::get_config() const {
  Json c;
  c["name"] = name_;
  c["learning_rate"] = learning_rate_;
  c["weight_decay"] = weight_decay_ > 0 ? Json(weight_decay_) : Json(nullptr);
  c["clipnorm"] = clip_.clipnorm ? Json(*clip_.clipnorm) : Json(nullptr);
  c["global_clipnorm"] = clip_.global_clipnorm ? Json(*clip_.global_clipnorm) : Json(nullptr);
  c["clipvalue"] = clip_.clipvalue ? Json(*clip_.clipvalue) : Json(nullptr);
  return c;
}

namespace {
// Runs body(i) for every element index, split over threads for large tensors (an embedding table): every
// element's update is independent, so the result is the same on any thread count.
template <typename Body>
void for_each_element(int64_t n, Body&& body) {
  kernels::split_range(long(n), 64, 16.0 * double(n), [&](long begin, long end) {
    for (long i = begin; i < end; ++i) body(i);
  });
}

void ensure_slots(std::vector<Tensor>& slots, size_t n, const Tensor& like, float init = 0.0f) {
  while (slots.size() < n) slots.push_back(Tensor::full(like.shape(), init));
}

class SGDOptimizer : public Optimizer {
 public:
  explicit SGDOptimizer(SGDOptions o) : Optimizer("SGD", o.learning_rate, o.clip), o_(o) {}
  void update(Tensor& value, const Tensor& grad, std::vector<Tensor>& slots) override {
    float lr = learning_rate();
    float* v = value.data();
    const float* g = grad.data();
    if (o_.momentum == 0.0f) {
      for_each_element(value.size(), [&](int64_t i) { v[i] -= lr * g[i]; });
      return;
    }
    ensure_slots(slots, 1, value);
    float* m = slots[0].data();
    for_each_element(value.size(), [&](int64_t i) {
      m[i] = o_.momentum * m[i] - lr * g[i];
      v[i] += o_.nesterov ? o_.momentum * m[i] - lr * g[i] : m[i];
    });
  }
  Json get_config() const override {
    Json c = Optimizer::get_config();
    c["momentum"] = o_.momentum;
    c["nesterov"] = o_.nesterov;
    return c;
  }

 private:
  SGDOptions o_;
};

class RMSpropOptimizer : public Optimizer {
 public:
  explicit RMSpropOptimizer(RMSpropOptions o) : Optimizer("RMSprop", o.learning_rate, o.clip), o_(o) {}
  void update(Tensor& value, const Tensor& grad, std::vector<Tensor>& slots) override {
    // slots: velocity, [average_gradient if centered], [momentum if momentum > 0]
    ensure_slots(slots, 3, value);
    float lr = learning_rate(), rho = o_.rho;
    float* v = value.data();
    const float* g = grad.data();
    float* vel = slots[0].data();
    float* mg = slots[1].data();
    float* mom = slots[2].data();
    if (!o_.centered && o_.momentum <= 0.0f) {
      // The Keras default, as its own loop so that it vectorizes; the same arithmetic as below.
      const float eps = o_.epsilon;
      const int64_t n = value.size();
      kernels::split_range(long(n), 64, 16.0 * double(n), [&](long begin, long end) {
        for (long i = begin; i < end; ++i) {
          const float gi = g[i];
          const float ve = rho * vel[i] + (1.0f - rho) * gi * gi;
          vel[i] = ve;
          v[i] -= lr * gi / std::sqrt(ve + eps);
        }
      });
      return;
    }
    for_each_element(value.size(), [&](int64_t i) {
      vel[i] = rho * vel[i] + (1.0f - rho) * g[i] * g[i];
      float denom;
      if (o_.centered) {
        mg[i] = rho * mg[i] + (1.0f - rho) * g[i];
        denom = vel[i] - mg[i] * mg[i] + o_.epsilon;
      } else {
        denom = vel[i] + o_.epsilon;
      }
      float inc = lr * g[i] / std::sqrt(denom);
      if (o_.momentum > 0.0f) {
        mom[i] = o_.momentum * mom[i] + inc;
        v[i] -= mom[i];
      } else {
        v[i] -= inc;
      }
    });
  }
  Json get_config() const override {
    Json c = Optimizer::get_config();
    c["rho"] = o_.rho;
    c["momentum"] = o_.momentum;
    c["epsilon"] = o_.epsilon;
    c["centered"] = o_.centered;
    return c;
  }

 private:
  RMSpropOptions o_;
};

// One share of Adam's update, with the amsgrad test hoisted and no aliasing, so that it vectorizes (sqrt and
// divide included) like the other optimizers' loops.
template <bool kAmsgrad>
void adam_range(float* __restrict v, const float* __restrict g, float* __restrict m, float* __restrict s,
                float* __restrict vhat, long begin, long end, float b1, float b2, float alpha, float eps) {
  for (long i = begin; i < end; ++i) {
    m[i] += (g[i] - m[i]) * (1.0f - b1);
    s[i] += (g[i] * g[i] - s[i]) * (1.0f - b2);
    float denom_v = s[i];
    if constexpr (kAmsgrad) {
      vhat[i] = std::max(vhat[i], s[i]);
      denom_v = vhat[i];
    }
    v[i] -= m[i] * alpha / (std::sqrt(denom_v) + eps);
  }
}

class AdamOptimizer : public Optimizer {
 public:
  AdamOptimizer(std::string name, float lr, float b1, float b2, float eps, bool amsgrad, ClipOptions clip, float wd)
      : Optimizer(std::move(name), lr, clip, wd), b1_(b1), b2_(b2), eps_(eps), amsgrad_(amsgrad) {}
  void update(Tensor& value, const Tensor& grad, std::vector<Tensor>& slots) override {
    // slots: m, v, [v_hat if amsgrad]
    ensure_slots(slots, amsgrad_ ? 3 : 2, value);
    double t = double(iterations() + 1);
    float alpha = float(double(learning_rate()) * std::sqrt(1.0 - std::pow(double(b2_), t)) /
                        (1.0 - std::pow(double(b1_), t)));
    float* v = value.data();
    const float* g = grad.data();
    float* m = slots[0].data();
    float* s = slots[1].data();
    float* vhat = amsgrad_ ? slots[2].data() : nullptr;
    kernels::split_range(long(value.size()), 64, 16.0 * double(value.size()), [&](long begin, long end) {
      if (vhat) adam_range<true>(v, g, m, s, vhat, begin, end, b1_, b2_, alpha, eps_);
      else adam_range<false>(v, g, m, s, nullptr, begin, end, b1_, b2_, alpha, eps_);
    });
  }
  Json get_config() const override {
    Json c = Optimizer::get_config();
    c["beta_1"] = b1_;
    c["beta_2"] = b2_;
    c["epsilon"] = eps_;
    c["amsgrad"] = amsgrad_;
    return c;
  }

 private:
  float b1_, b2_, eps_;
  bool amsgrad_;
};

class AdagradOptimizer : public Optimizer {
 public:
  explicit AdagradOptimizer(AdagradOptions o) : Optimizer("Adagrad", o.learning_rate, o.clip), o_(o) {}
  void update(Tensor& value, const Tensor& grad, std::vector<Tensor>& slots) override {
    ensure_slots(slots, 1, value, o_.initial_accumulator_value);
    float lr = learning_rate();
    float* v = value.data();
    const float* g = grad.data();
    float* acc = slots[0].data();
    for_each_element(value.size(), [&](int64_t i) {
      acc[i] += g[i] * g[i];
      v[i] -= lr * g[i] / std::sqrt(acc[i] + o_.epsilon);
    });
  }
  Json get_config() const override {
    Json c = Optimizer::get_config();
    c["initial_accumulator_value"] = o_.initial_accumulator_value;
    c["epsilon"] = o_.epsilon;
    return c;
  }

 private:
  AdagradOptions o_;
};
}  // namespace

namespace optimizers {
OptimizerPtr SGD(SGDOptions o) { return std::make_shared<SGDOptimizer>(o); }
OptimizerPtr RMSprop(RMSpropOptions o) { return std::make_shared<RMSpropOptimizer>(o); }
OptimizerPtr Adam(AdamOptions o) {
  return std::make_shared<AdamOptimizer>("Adam", o.learning_rate, o.beta_1, o.beta_2, o.epsilon, o.amsgrad, o.clip, 0.0f);
}
OptimizerPtr AdamW(AdamWOptions o) {
  return std::make_shared<AdamOptimizer>("AdamW", o.learning_rate, o.beta_1, o.beta_2, o.epsilon, o.amsgrad, o.clip,
                                         o.weight_decay);
}
OptimizerPtr Adagrad(AdagradOptions o) { return std::make_shared<AdagradOptimizer>(o); }

OptimizerPtr get(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (n == "sgd") return SGD();
  if (n == "rmsprop") return RMSprop();
  if (n == "adam") return Adam();
  if (n == "adamw") return AdamW();
  if (n == "adagrad") return Adagrad();
  throw Error("unknown optimizer '" + name + "' (known: sgd, rmsprop, adam, adamw, adagrad)");
}
}  // namespace optimizers

}  // namespace seqnet
