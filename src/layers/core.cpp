// Shape-only and elementwise layers: Flatten, Reshape, Dropout, Activation.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/config_values.h"
#include "kernels/blas.h"
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
  c["target_shape"] = target_shape_;  // -1 as Keras writes it (shape_to_json's null is a batch shape's None)
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
namespace {
// Activations whose derivative backward reads from the output y. relu's reads y > 0, which is z > 0, so
// z serves as y there; the others read z alone.
bool backward_reads_output(Activation a) {
  return a == Activation::sigmoid || a == Activation::tanh || a == Activation::softmax || a == Activation::exponential;
}
}  // namespace

Tensor LogitsLayer::activate(Tensor z, bool keep_for_backward) {
  // The output moves on to the next layer: keep z (moved, not copied) and a copy of y only where backward
  // reads it. A linear activation returns z itself: its backward needs neither.
  y_ = Tensor();
  kept_for_backward_ = keep_for_backward;
  if (activation_ == Activation::linear) {
    z_ = Tensor();
    return z;
  }
  if (!keep_for_backward) {  // inference: in place, nothing kept (every activation may overwrite its input)
    z_ = Tensor();
    activation_forward(activation_, z.data(), z.data(), z.size(), z.rank() ? z.dim(-1) : 1);
    return z;
  }
  Tensor y = Tensor::uninitialized(z.shape());
  activation_forward(activation_, z.data(), y.data(), z.size(), z.rank() ? z.dim(-1) : 1);
  if (backward_reads_output(activation_)) y_ = y;
  z_ = std::move(z);
  return y;
}

void LogitsLayer::keep_input(Tensor& kept, const Tensor& x, bool keep) {
  if (!keep) {
    kept = Tensor();
    return;
  }
  if (kept.shape() != x.shape()) kept = Tensor::uninitialized(x.shape());
  kernels::copy(x.data(), long(x.size()), kept.data());
}

Tensor LogitsLayer::backward(const Tensor& dy) {
  if (activation_ == Activation::linear) return backward_from_logits(dy);
  if (!kept_for_backward_) fail("backward without a forward that kept its logits (keep_for_backward)");
  if (z_.shape() != dy.shape()) fail("backward got a gradient of shape " + dy.shape_string() + " before a matching forward");
  const float* y = backward_reads_output(activation_) ? y_.data() : z_.data();
  if (backward_reads_output(activation_) && y_.empty())
    fail("backward without a forward that kept its output (keep_for_backward)");
  Tensor dz = Tensor::uninitialized(dy.shape());
  activation_backward(activation_, z_.data(), y, dy.data(), dz.data(), dy.size(), dy.rank() ? dy.dim(-1) : 1);
  return backward_from_logits(dz);
}

// ---- Activation ----
ActivationLayer::ActivationLayer(const std::string& activation, std::string name)
    : LogitsLayer(std::move(name), "activation", activation_from_name(activation)) {}

Tensor ActivationLayer::forward(const Tensor& x, RunContext& ctx) { return activate(x, ctx.keep_for_backward); }

Json ActivationLayer::get_config() const {
  Json c = Layer::get_config();
  c["activation"] = activation_name(activation_);
  return c;
}

}  // namespace seqnet
