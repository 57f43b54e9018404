// LayerNormalization (Keras 3's keras/src/layers/normalization/layer_normalization.py, math from
// keras/src/ops/nn.py _layer_normalization) over the last axis. Forward and its backward below it.
#include "seqnet/layers/layer_normalization.h"

#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"

namespace seqnet {

LayerNormalization::LayerNormalization(LayerNormalizationOptions o)
    : Layer(o.name, "layer_normalization"), options_(std::move(o)) {
  if (options_.axis != -1) fail(fmt::format("axis {} is not supported (only -1, the last axis)", options_.axis));
  if (!(options_.epsilon > 0.0) || !std::isfinite(options_.epsilon))
    fail(fmt::format("epsilon must be a finite number > 0, got {}", options_.epsilon));
  validate_initializer(options_.beta_initializer);
  validate_initializer(options_.gamma_initializer);
}

Shape LayerNormalization::build_impl(const Shape& in, Rng& rng) {
  if (in.size() < 2) fail("expects input of rank >= 2 (batch, ..., features), got " + shape_to_string(in));
  features_ = in.back();
  if (features_ <= 0) fail("the last axis (the features) must have a known size, got " + shape_to_string(in));
  // Keras's order: gamma, then beta.
  gamma_ = options_.scale ? &add_weight("gamma", {features_}, options_.gamma_initializer, rng) : nullptr;
  beta_ = options_.center ? &add_weight("beta", {features_}, options_.beta_initializer, rng) : nullptr;
  return in;
}

// Per row of F features: mean and population variance (two passes, in double), inv = rsqrt(var + epsilon) in
// float32 as Keras computes it; then Keras's own arrangement of the affine step, ig = inv * gamma,
// y = x * ig + (beta - mean * ig), which rounds as Keras does.
Tensor LayerNormalization::forward(const Tensor& x, RunContext& ctx) {
  if (!x.is_float()) fail("expects float input, got int32 of shape " + x.shape_string());
  kept_ = ctx.keep_for_backward;
  if (kept_) {
    if (xhat_.shape() != x.shape()) xhat_ = Tensor::uninitialized(x.shape());
    inv_ = Tensor::uninitialized({x.size() / features_});
  } else {
    xhat_ = Tensor();
    inv_ = Tensor();
  }
  Tensor y = Tensor::uninitialized(x.shape());
  backend().layer_norm_forward(y, kept_ ? &xhat_ : nullptr, kept_ ? &inv_ : nullptr, x,
                               gamma_ ? &gamma_->value : nullptr, beta_ ? &beta_->value : nullptr,
                               float(options_.epsilon));
  return y;
}

// With xhat = (x - mean) * inv and gy = dy * gamma (dy without scale), per row:
//   dx = inv * (gy - mean(gy) - xhat * mean(gy * xhat)),   dgamma += dy * xhat,   dbeta += dy,
// the weight gradients summed over rows in row order.
Tensor LayerNormalization::backward(const Tensor& dy) {
  if (!kept_) fail("backward without a forward that kept its statistics (keep_for_backward)");
  if (dy.shape() != xhat_.shape()) fail("backward got a gradient of shape " + dy.shape_string() + " before a matching forward");
  Tensor dx = input_grad_wanted() ? Tensor::uninitialized(dy.shape()) : Tensor();
  backend().layer_norm_backward(input_grad_wanted() ? &dx : nullptr, gamma_ ? &gamma_->grad : nullptr,
                                beta_ ? &beta_->grad : nullptr, dy, xhat_, inv_, gamma_ ? &gamma_->value : nullptr);
  return dx;
}

Json LayerNormalization::get_config() const {
  Json c = Layer::get_config();
  c["axis"] = options_.axis_as_list ? Json::array({options_.axis}) : Json(options_.axis);
  c["epsilon"] = options_.epsilon;
  c["center"] = options_.center;
  c["scale"] = options_.scale;
  c["rms_scaling"] = false;
  c["beta_initializer"] = config::initializer_to_json(options_.beta_initializer);
  c["gamma_initializer"] = config::initializer_to_json(options_.gamma_initializer);
  c["beta_regularizer"] = nullptr;
  c["gamma_regularizer"] = nullptr;
  c["beta_constraint"] = nullptr;
  c["gamma_constraint"] = nullptr;
  return c;
}

namespace config {
LayerPtr layer_normalization_from_config(const Json& c) {
  const std::string name = c.value("name", std::string("?"));
  auto refuse = [&](const std::string& what) { throw Error("layer '" + name + "' (LayerNormalization): " + what); };
  reject_if_set(c, "beta_regularizer", "regularizers are not implemented");
  reject_if_set(c, "gamma_regularizer", "regularizers are not implemented");
  reject_if_set(c, "beta_constraint", "constraints are not implemented");
  reject_if_set(c, "gamma_constraint", "constraints are not implemented");
  // Deprecated in Keras 3 (it scales by the variance, not the root mean square): another computation.
  reject_if_set(c, "rms_scaling", "rms_scaling is deprecated in Keras 3; use RMSNormalization");
  LayerNormalizationOptions o;
  if (auto it = c.find("axis"); it != c.end() && !it->is_null()) {
    // -1 as written by an unbuilt Keras layer, [-1] by a built one; the last axis under another name (2 for a rank-3
    // input) is refused too: the config alone does not say the rank.
    if (*it == -1) {
      o.axis_as_list = false;
    } else if (*it == Json::array({-1})) {
      o.axis_as_list = true;
    } else {
      refuse("config key 'axis' = " + it->dump() + " is not supported (only -1, the last axis)");
    }
  }
  if (auto it = c.find("epsilon"); it != c.end() && !it->is_null()) {
    if (!it->is_number()) refuse("config key 'epsilon' must be a number, got " + it->dump());
    o.epsilon = it->get<double>();
  }
  o.center = get(c, "center", true);
  o.scale = get(c, "scale", true);
  if (c.contains("beta_initializer")) o.beta_initializer = initializer_from_json(c["beta_initializer"]);
  if (c.contains("gamma_initializer")) o.gamma_initializer = initializer_from_json(c["gamma_initializer"]);
  auto l = std::make_shared<LayerNormalization>(o);
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
