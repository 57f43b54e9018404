// Shape-only and elementwise layers: Flatten, Reshape, Dropout, Activation.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/config_values.h"
#include "seqnet/layers/core.h"

namespace seqnet {

// ---- Flatten ----
Flatten::Flatten(std::string name) : Layer(std::move(name), "flatten") {}

Shape Flatten::build_impl(const Shape& in, Rng&) {
  if (in.size() < 2) fail("expects input of rank >= 2, got " + shape_to_string(in));
  int64_t n = 1;
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i] < 0) fail("cannot flatten an input with an unknown dimension: " + shape_to_string(in));
    n *= in[i];
  }
  return {in[0], n};
}

Tensor Flatten::forward(const Tensor& x, RunContext&) {
  last_input_shape_ = x.shape();
  return x.reshaped({x.dim(0), -1});
}

Tensor Flatten::backward(const Tensor& dy) { return dy.reshaped(last_input_shape_); }

// ---- Reshape ----
Reshape::Reshape(Shape target_shape, std::string name) : Layer(std::move(name), "reshape"), target_shape_(std::move(target_shape)) {}

Shape Reshape::build_impl(const Shape& in, Rng&) {
  int64_t known_in = 1;
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i] < 0) fail("cannot reshape an input with an unknown dimension: " + shape_to_string(in));
    known_in *= in[i];
  }
  Shape out{in[0]};
  int64_t known_out = 1;
  int unknown = -1;
  for (size_t i = 0; i < target_shape_.size(); ++i) {
    if (target_shape_[i] < 0) {
      if (unknown >= 0) fail("target_shape may hold -1 only once");
      unknown = int(i);
    } else {
      known_out *= target_shape_[i];
    }
    out.push_back(target_shape_[i]);
  }
  if (unknown >= 0) {
    if (known_out == 0 || known_in % known_out) fail(fmt::format("cannot reshape {} into {}", shape_to_string(in), shape_to_string(target_shape_)));
    out[size_t(unknown) + 1] = known_in / known_out;
  } else if (known_out != known_in) {
    fail(fmt::format("cannot reshape {} ({} values per sample) into {} ({} values)", shape_to_string(in), known_in,
                     shape_to_string(target_shape_), known_out));
  }
  return out;
}

Tensor Reshape::forward(const Tensor& x, RunContext&) {
  last_input_shape_ = x.shape();
  Shape s = output_shape();
  s[0] = x.dim(0);
  return x.reshaped(s);
}

Tensor Reshape::backward(const Tensor& dy) { return dy.reshaped(last_input_shape_); }

Json Reshape::get_config() const {
  Json c = Layer::get_config();
  c["target_shape"] = config::shape_to_json(target_shape_);
  return c;
}

// ---- Dropout ----
Dropout::Dropout(float rate, std::string name) : Layer(std::move(name), "dropout"), rate_(rate) {
  if (!(rate >= 0.0f && rate < 1.0f)) fail(fmt::format("rate must be in [0, 1), got {}", rate));
}

Tensor Dropout::forward(const Tensor& x, RunContext& ctx) {
  if (!ctx.training || rate_ == 0.0f) {
    keep_ = Tensor();
    return x;
  }
  if (!ctx.rng) fail("training forward without a random generator");
  keep_ = Tensor(x.shape());
  float* k = keep_.data();
  const float scale = 1.0f / (1.0f - rate_);
  for (int64_t i = 0; i < x.size(); ++i) k[i] = ctx.rng->uniform() >= rate_ ? scale : 0.0f;
  Tensor y(x.shape());
  const float* in = x.data();
  float* out = y.data();
  for (int64_t i = 0; i < x.size(); ++i) out[i] = in[i] * k[i];
  return y;
}

Tensor Dropout::backward(const Tensor& dy) {
  if (keep_.empty()) return dy;
  Tensor dx(dy.shape());
  for (int64_t i = 0; i < dy.size(); ++i) dx[i] = dy[i] * keep_[i];
  return dx;
}

Json Dropout::get_config() const {
  Json c = Layer::get_config();
  c["rate"] = rate_;
  c["seed"] = nullptr;
  c["noise_shape"] = nullptr;
  return c;
}

// ---- LogitsLayer: the activation step shared by Dense, Conv1D and Activation ----
const Tensor& LogitsLayer::activate(Tensor z) {
  z_ = std::move(z);
  if (activation_ == Activation::linear) {
    y_ = z_;
  } else {
    y_ = Tensor(z_.shape());
    activation_forward(activation_, z_.data(), y_.data(), z_.size(), z_.rank() ? z_.dim(-1) : 1);
  }
  return y_;
}

Tensor LogitsLayer::backward(const Tensor& dy) {
  if (activation_ == Activation::linear) return backward_from_logits(dy);
  Tensor dz(dy.shape());
  activation_backward(activation_, z_.data(), y_.data(), dy.data(), dz.data(), dy.size(), dy.rank() ? dy.dim(-1) : 1);
  return backward_from_logits(dz);
}

// ---- Activation ----
ActivationLayer::ActivationLayer(const std::string& activation, std::string name)
    : LogitsLayer(std::move(name), "activation", activation_from_name(activation)) {}

Tensor ActivationLayer::forward(const Tensor& x, RunContext&) { return activate(x); }

Json ActivationLayer::get_config() const {
  Json c = Layer::get_config();
  c["activation"] = activation_name(activation_);
  return c;
}

}  // namespace seqnet
