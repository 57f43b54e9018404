// Optimizers: Keras 3 update rules (keras/src/optimizers/*.py), one update() each.
#include "seqnet/optimizers.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"

namespace seqnet {

Optimizer::Optimizer(std::string name, float learning_rate, ClipOptions clip, float weight_decay)
    : name_(std::move(name)), learning_rate_(learning_rate), clip_(clip), weight_decay_(weight_decay) {
  int set = int(clip_.clipnorm.has_value()) + int(clip_.clipvalue.has_value()) + int(clip_.global_clipnorm.has_value());
  if (set > 1) throw Error(name_ + ": only one of clipnorm, clipvalue and global_clipnorm can be set");
  if (!(learning_rate_ > 0.0f)) throw Error(fmt::format("{}: learning_rate must be positive, got {}", name_, learning_rate_));
}

void Optimizer::apply(const std::vector<Param*>& params) {
  Backend& ops = backend();
  const bool clipping = clip_.global_clipnorm || clip_.clipnorm || clip_.clipvalue;
  if (!clipping) {
    // Nothing modifies the gradients: update from them in place (no copy of every gradient per step).
    for (Param* p : params) {
      if (weight_decay_ > 0.0f) ops.decay_weights(p->value, weight_decay_, learning_rate_);
      update(p->value, p->grad, slots(p));
    }
    ++iterations_;
    return;
  }
  std::vector<Tensor> grads;
  grads.reserve(params.size());
  for (Param* p : params) grads.push_back(p->grad);
  if (clip_.global_clipnorm) {
    double sq = 0;
    for (const Tensor& g : grads) sq = ops.sum_of_squares(g, sq);
    const double norm = std::sqrt(sq);
    if (norm > *clip_.global_clipnorm)
      for (Tensor& g : grads) ops.scale_to_norm(g, *clip_.global_clipnorm, norm);
  }
  for (Tensor& g : grads) {
    if (clip_.clipnorm) {
      const double norm = std::sqrt(ops.sum_of_squares(g, 0.0));
      if (norm > *clip_.clipnorm) ops.scale_to_norm(g, *clip_.clipnorm, norm);
    }
    if (clip_.clipvalue) ops.clip_values(g, *clip_.clipvalue);
  }
  for (size_t index = 0; index < params.size(); ++index) {
    Param* p = params[index];
    // Keras: variable -= variable * weight_decay * learning_rate, before the update.
    if (weight_decay_ > 0.0f) ops.decay_weights(p->value, weight_decay_, learning_rate_);
    update(p->value, grads[index], slots(p));
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
void ensure_slots(std::vector<Tensor>& slots, size_t n, const Tensor& like, float init = 0.0f) {
  while (slots.size() < n) slots.push_back(Tensor::full(like.shape(), init));
}

class SGDOptimizer : public Optimizer {
 public:
  explicit SGDOptimizer(SGDOptions o) : Optimizer("SGD", o.learning_rate, o.clip), o_(o) {}
  void update(Tensor& value, const Tensor& grad, std::vector<Tensor>& slots) override {
    // slots: velocity, when momentum > 0
    if (o_.momentum != 0.0f) ensure_slots(slots, 1, value);
    backend().sgd_update(value, grad, o_.momentum != 0.0f ? &slots[0] : nullptr,
                         {learning_rate(), o_.momentum, o_.nesterov});
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
    // slots: velocity, average_gradient, momentum (all three always, for the checkpoint layout; the last two are
    // used when centered, resp. momentum > 0)
    ensure_slots(slots, 3, value);
    backend().rmsprop_update(value, grad, slots[0], o_.centered ? &slots[1] : nullptr,
                             o_.momentum > 0.0f ? &slots[2] : nullptr,
                             {learning_rate(), o_.rho, o_.momentum, o_.epsilon, o_.centered});
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

class AdamOptimizer : public Optimizer {
 public:
  AdamOptimizer(std::string name, float lr, float b1, float b2, float eps, bool amsgrad, ClipOptions clip, float wd)
      : Optimizer(std::move(name), lr, clip, wd), b1_(b1), b2_(b2), eps_(eps), amsgrad_(amsgrad) {}
  void update(Tensor& value, const Tensor& grad, std::vector<Tensor>& slots) override {
    // slots: m, v, [v_hat if amsgrad]
    ensure_slots(slots, amsgrad_ ? 3 : 2, value);
    const double t = double(iterations() + 1);
    const float alpha = float(double(learning_rate()) * std::sqrt(1.0 - std::pow(double(b2_), t)) /
                              (1.0 - std::pow(double(b1_), t)));
    backend().adam_update(value, grad, slots[0], slots[1], amsgrad_ ? &slots[2] : nullptr, {b1_, b2_, eps_, alpha});
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
    backend().adagrad_update(value, grad, slots[0], {learning_rate(), o_.epsilon});
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
