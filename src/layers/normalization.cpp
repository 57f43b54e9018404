// Normalization (Keras 3's keras.layers.Normalization, axis=-1): the statistics either in the config or in
// three non-trainable weights (mean, variance, count), exactly where Keras keeps them, so that a model whose
// first layer normalizes raw inputs predicts the same in seqnet and in Keras.
#include "seqnet/layers/preprocessing.h"

#include <cmath>
#include <functional>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"

namespace seqnet {

Normalization::Normalization(NormalizationOptions o) : Layer(std::move(o.name), "normalization"), options_(std::move(o)) {
  if (options_.mean.has_value() != options_.variance.has_value())
    fail("give both mean and variance, or neither (then adapt() or a saved file sets them)");
  if (options_.mean && options_.mean->size() != options_.variance->size())
    fail(fmt::format("mean has {} values and variance {}", options_.mean->size(), options_.variance->size()));
  if (options_.variance)
    for (float v : *options_.variance)
      if (!(v >= 0) || !std::isfinite(v)) fail(fmt::format("variance {} is not a finite value >= 0", v));
}

Shape Normalization::build_impl(const Shape& in, Rng& rng) {
  if (in.size() < 2) fail("expects input of rank >= 2 (batch, ..., features), got " + shape_to_string(in));
  features_ = in.back();
  if (features_ <= 0) fail("the last axis (the features) must have a known size, got " + shape_to_string(in));
  if (options_.mean) {
    const int64_t n = int64_t(options_.mean->size());
    if (n != 1 && n != features_)
      fail(fmt::format("mean and variance hold {} values for {} features", n, features_));
  } else {
    add_weight("mean", {features_}, "zeros", rng, /*trainable=*/false);
    add_weight("variance", {features_}, "ones", rng, /*trainable=*/false);
    add_weight("count", {}, "zeros", rng, /*trainable=*/false).saved_dtype = DType::int32;
  }
  return in;
}

Tensor Normalization::statistic(int which) const {
  const std::optional<std::vector<float>>& fixed = which == 0 ? options_.mean : options_.variance;
  if (fixed)
    return Tensor({features_}, fixed->size() == 1 ? std::vector<float>(size_t(features_), fixed->front()) : *fixed);
  if (params().empty()) fail("is not built: its statistics are not known yet");
  return params()[size_t(which)]->value;
}

std::vector<float> Normalization::mean() const { return statistic(0).values(); }
std::vector<float> Normalization::variance() const { return statistic(1).values(); }

Tensor Normalization::forward(const Tensor& x, RunContext&) {
  if (!x.is_float()) fail("expects float input, got " + x.shape_string() + " of int32");
  variance_ = statistic(1);
  Tensor y = Tensor::uninitialized(x.shape());
  backend().standardize_forward(y, x, statistic(0), variance_, options_.invert);
  return y;
}

Tensor Normalization::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  if (variance_.empty()) fail("backward called before forward");
  Tensor dx = Tensor::uninitialized(dy.shape());
  backend().standardize_backward(dx, dy, variance_, options_.invert);
  return dx;
}

void Normalization::adapt(const Tensor& data) {
  if (options_.mean) fail("has fixed mean and variance in its config: there is nothing to adapt");
  if (!data.is_float() || data.rank() < 2) fail("adapt() needs float data of rank >= 2, got " + data.shape_string());
  if (!built()) {
    Shape s = data.shape();
    s[0] = -1;
    Rng rng(0);
    build(s, rng);
  }
  if (data.dim(-1) != features_) fail(fmt::format("adapt() got {} features, the layer has {}", data.dim(-1), features_));
  if (data.size() == 0) fail("adapt() got no data");
  Tensor mean = Tensor::uninitialized({features_}), variance = Tensor::uninitialized({features_});
  const int64_t bad = backend().feature_moments(mean, variance, data);
  if (bad >= 0) fail(fmt::format("adapt(): feature {} holds NaN or infinity", bad));
  auto ps = params();
  backend().copy(ps[0]->value, mean);
  backend().copy(ps[1]->value, variance);
}

Json Normalization::get_config() const {
  Json c = Layer::get_config();
  c["axis"] = Json::array({-1});
  c["invert"] = options_.invert;
  c["mean"] = options_.mean ? Json(*options_.mean) : Json(nullptr);
  c["variance"] = options_.variance ? Json(*options_.variance) : Json(nullptr);
  return c;
}

namespace config {
LayerPtr normalization_from_config(const Json& c) {
  const std::string name = c.value("name", std::string("?"));
  if (auto it = c.find("axis"); it != c.end() && !it->is_null()) {
    const bool last = *it == -1 || *it == Json::array({-1});
    if (!last)
      throw Error("layer '" + name + "' (Normalization): axis " + it->dump() +
                  " is not supported (only -1, the features of the last axis)");
  }
  NormalizationOptions o;
  o.invert = get(c, "invert", false);
  // Keras writes a scalar or a (nested) list; per-feature values for axis -1 flatten to one list.
  auto values = [&](const char* key) -> std::optional<std::vector<float>> {
    auto it = c.find(key);
    if (it == c.end() || it->is_null()) return std::nullopt;
    std::vector<float> out;
    std::function<void(const Json&)> flatten = [&](const Json& v) {
      if (v.is_array()) {
        for (const Json& e : v) flatten(e);
      } else if (v.is_number()) {
        out.push_back(v.get<float>());
      } else {
        throw Error("layer '" + name + "' (Normalization): " + key + " must be numbers, got " + it->dump());
      }
    };
    flatten(*it);
    return out;
  };
  o.mean = values("mean");
  o.variance = values("variance");
  auto l = std::make_shared<Normalization>(std::move(o));
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
