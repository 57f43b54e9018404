// SpatialDropout1D and GaussianNoise (Keras 3's keras/src/layers/regularization): noise in training, the
// identity in inference. Each forward is paired with its backward below it.
#include "seqnet/layers/regularization.h"

#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"

namespace seqnet {

namespace {
Json seed_json(const std::optional<int64_t>& seed) { return seed ? Json(*seed) : Json(nullptr); }
}  // namespace

// ---- SpatialDropout1D ----

SpatialDropout1D::SpatialDropout1D(double rate, std::string name, std::optional<int64_t> seed)
    : Layer(std::move(name), "spatial_dropout1d"), rate_(rate), seed_(seed) {
  // Keras's Dropout: 0 <= rate <= 1 (rate 1 drops everything).
  if (!(rate >= 0.0 && rate <= 1.0)) fail(fmt::format("rate must be in [0, 1], got {}", rate));
}

Shape SpatialDropout1D::build_impl(const Shape& in, Rng&) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, steps, channels), got " + shape_to_string(in));
  return in;
}

// Training: keep[b, c] = 1/(1 - rate) with probability 1 - rate, else 0, drawn in (b, c) order from the model's
// generator; y[b, t, c] = x[b, t, c] * keep[b, c] at every step t.
Tensor SpatialDropout1D::forward(const Tensor& x, RunContext& ctx) {
  if (!ctx.training || rate_ == 0.0) {
    keep_ = Tensor();
    return x;
  }
  if (!ctx.rng) fail("training forward without a random generator");
  if (!x.is_float()) fail("expects float input, got int32 of shape " + x.shape_string());
  const int64_t B = x.dim(0), C = x.dim(2);
  const float rate = float(rate_);
  const float scale = rate_ < 1.0 ? float(1.0 / (1.0 - rate_)) : 0.0f;
  keep_ = Tensor::uninitialized({B, C});
  backend().dropout_mask(keep_, *ctx.rng, rate, scale);
  Tensor y = Tensor::uninitialized(x.shape());
  backend().multiply_per_channel(y, x, keep_);
  return y;
}

// dx[b, t, c] = dy[b, t, c] * keep[b, c]; the identity after an inactive forward.
Tensor SpatialDropout1D::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  if (keep_.empty()) return dy;
  if (keep_.shape() != Shape{dy.dim(0), dy.dim(2)}) fail("backward got a gradient of shape " + dy.shape_string());
  Tensor dx = Tensor::uninitialized(dy.shape());
  backend().multiply_per_channel(dx, dy, keep_);
  return dx;
}

// Keras 3.15's BaseSpatialDropout.get_config: rate, seed, name, dtype and nothing else. Its __init__ takes no
// other keyword, so a "trainable" key would make Keras refuse the file.
Json SpatialDropout1D::get_config() const {
  Json c;
  c["rate"] = rate_;
  c["seed"] = seed_json(seed_);
  c["name"] = name();
  c["dtype"] = "float32";
  return c;
}

// ---- GaussianNoise ----

GaussianNoise::GaussianNoise(double stddev, std::string name, std::optional<int64_t> seed)
    : Layer(std::move(name), "gaussian_noise"), stddev_(stddev), seed_(seed) {
  if (!(stddev >= 0.0 && stddev <= 1.0)) fail(fmt::format("stddev must be in [0, 1] (as Keras 3 requires), got {}", stddev));
}

// Training: y = x + n, n ~ N(0, stddev^2) per element from the model's generator, in element order.
Tensor GaussianNoise::forward(const Tensor& x, RunContext& ctx) {
  if (!ctx.training || stddev_ == 0.0) return x;
  if (!ctx.rng) fail("training forward without a random generator");
  if (!x.is_float()) fail("expects float input, got int32 of shape " + x.shape_string());
  Tensor y = Tensor::uninitialized(x.shape());
  backend().add_gaussian_noise(y, x, *ctx.rng, float(stddev_));
  return y;
}

// The noise does not depend on x: dx = dy.
Tensor GaussianNoise::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  return dy;
}

Json GaussianNoise::get_config() const {
  Json c = Layer::get_config();
  c["stddev"] = stddev_;
  c["seed"] = seed_json(seed_);
  return c;
}

namespace config {
namespace {
double number(const Json& c, const char* cls, const char* key) {
  auto it = c.find(key);
  if (it == c.end() || !it->is_number())
    throw Error(fmt::format("layer '{}' ({}): config key '{}' must be a number, got {}", c.value("name", std::string("?")),
                            cls, key, it == c.end() ? "nothing" : it->dump()));
  return it->get<double>();
}
std::optional<int64_t> seed_of(const Json& c, const char* cls) {
  auto it = c.find("seed");
  if (it == c.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer())
    throw Error(fmt::format("layer '{}' ({}): config key 'seed' must be an integer or null, got {}",
                            c.value("name", std::string("?")), cls, it->dump()));
  return whole_number_at<int64_t>(*it, config_key(c, "seed"));
}
}  // namespace

LayerPtr spatial_dropout1d_from_config(const Json& c) {
  auto l = std::make_shared<SpatialDropout1D>(number(c, "SpatialDropout1D", "rate"), "", seed_of(c, "SpatialDropout1D"));
  apply_common(*l, c);
  return l;
}

LayerPtr gaussian_noise_from_config(const Json& c) {
  auto l = std::make_shared<GaussianNoise>(number(c, "GaussianNoise", "stddev"), "", seed_of(c, "GaussianNoise"));
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
