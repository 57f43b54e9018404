// Normalization (Keras 3's keras.layers.Normalization, axis=-1): the statistics either in the config or in
// three non-trainable weights (mean, variance, count), exactly where Keras keeps them, so that a model whose
// first layer normalizes raw inputs predicts the same in seqnet and in Keras.
#include "seqnet/layers/preprocessing.h"

#include <cmath>
#include <functional>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/layer_registry.h"

namespace seqnet {

namespace {
constexpr float kEpsilon = 1e-7f;  // keras.backend.epsilon(): a zero variance divides by it
}

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

void Normalization::statistics(std::vector<float>& mean, std::vector<float>& scale) const {
  mean = this->mean();
  std::vector<float> var = variance();
  scale.resize(var.size());
  for (size_t j = 0; j < var.size(); ++j) scale[j] = std::max(std::sqrt(var[j]), kEpsilon);
}

std::vector<float> Normalization::mean() const {
  if (options_.mean) return options_.mean->size() == 1 ? std::vector<float>(size_t(features_), options_.mean->front()) : *options_.mean;
  if (params().empty()) fail("is not built: its statistics are not known yet");
  const Tensor& m = params()[0]->value;
  return std::vector<float>(m.data(), m.data() + m.size());
}

std::vector<float> Normalization::variance() const {
  if (options_.variance)
    return options_.variance->size() == 1 ? std::vector<float>(size_t(features_), options_.variance->front()) : *options_.variance;
  if (params().empty()) fail("is not built: its statistics are not known yet");
  const Tensor& v = params()[1]->value;
  return std::vector<float>(v.data(), v.data() + v.size());
}

Tensor Normalization::forward(const Tensor& x, RunContext&) {
  if (!x.is_float()) fail("expects float input, got " + x.shape_string() + " of int32");
  std::vector<float> mean;
  statistics(mean, scale_);
  Tensor y = Tensor::uninitialized(x.shape());
  const int64_t f = features_, rows = x.size() / f;
  const float* xs = x.data();
  float* ys = y.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) {
      const float v = xs[r * f + j];
      ys[r * f + j] = options_.invert ? mean[size_t(j)] + v * scale_[size_t(j)] : (v - mean[size_t(j)]) / scale_[size_t(j)];
    }
  return y;
}

Tensor Normalization::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  if (scale_.empty()) fail("backward called before forward");
  Tensor dx = Tensor::uninitialized(dy.shape());
  const int64_t f = features_, rows = dy.size() / f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j)
      dx.data()[r * f + j] = options_.invert ? dy.data()[r * f + j] * scale_[size_t(j)] : dy.data()[r * f + j] / scale_[size_t(j)];
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
  const int64_t f = features_, rows = data.size() / f;
  if (rows == 0) fail("adapt() got no data");
  std::vector<double> sum(size_t(f), 0.0), sq(size_t(f), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) sum[size_t(j)] += data.data()[r * f + j];
  for (auto& s : sum) s /= double(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) {
      const double d = data.data()[r * f + j] - sum[size_t(j)];
      sq[size_t(j)] += d * d;
    }
  auto ps = params();
  for (int64_t j = 0; j < f; ++j) {
    if (!std::isfinite(sum[size_t(j)])) fail(fmt::format("adapt(): feature {} holds NaN or infinity", j));
    ps[0]->value[j] = float(sum[size_t(j)]);
    ps[1]->value[j] = float(sq[size_t(j)] / double(rows));
  }
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
