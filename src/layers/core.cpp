// Shape-only and elementwise layers: Flatten, Reshape, Dropout, Activation.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/config_values.h"
#include "layers/size_arithmetic.h"
#include "seqnet/layers/core.h"

namespace seqnet {

// ---- Flatten ----
Flatten::Flatten(std::string name) : Layer(std::move(name), "flatten") {}

Shape Flatten::build_impl(const Shape& in, Rng&) {
  if (in.size() < 2) fail("expects input of rank >= 2, got " + shape_to_string(in));
  int64_t n = 1;
  for (size_t axis = 1; axis < in.size(); ++axis) {
    if (in[axis] < 0) fail("cannot flatten an input with an unknown dimension: " + shape_to_string(in));
    n = size_product(*this, n, in[axis]);
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
  for (size_t axis = 1; axis < in.size(); ++axis) {
    if (in[axis] < 0) fail("cannot reshape an input with an unknown dimension: " + shape_to_string(in));
    known_in = size_product(*this, known_in, in[axis]);
  }
  Shape out{in[0]};
  int64_t known_out = 1;
  int unknown = -1;
  for (size_t axis = 0; axis < target_shape_.size(); ++axis) {
    if (target_shape_[axis] < 0) {
      if (unknown >= 0) fail("target_shape may hold -1 only once");
      unknown = int(axis);
    } else {
      known_out = size_product(*this, known_out, target_shape_[axis]);
    }
    out.push_back(target_shape_[axis]);
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

Tensor Dropout::forward_consuming(Tensor&& x, RunContext& ctx) {
  if (active(ctx)) return forward(x, ctx);
  keep_ = Tensor();
  return std::move(x);
}

Tensor Dropout::forward(const Tensor& x, RunContext& ctx) {
  if (!active(ctx)) {
    keep_ = Tensor();
    return x;
  }
  if (!ctx.rng) fail("training forward without a random generator");
  keep_ = Tensor::uninitialized(x.shape());
  backend().dropout_mask(keep_, *ctx.rng, rate_, 1.0f / (1.0f - rate_));
  Tensor y = Tensor::uninitialized(x.shape());
  backend().multiply(y, x, keep_);
  return y;
}

Tensor Dropout::backward(const Tensor& dy) {
  if (keep_.empty()) return dy;
  Tensor dx = Tensor::uninitialized(dy.shape());
  backend().multiply(dx, dy, keep_);
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
    backend().activation_forward(activation_, z, z);
    return z;
  }
  Tensor y = Tensor::uninitialized(z.shape());
  backend().activation_forward(activation_, y, z);
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
  backend().copy(kept, x);
}

Tensor LogitsLayer::backward(const Tensor& dy) {
  if (activation_ == Activation::linear) return backward_from_logits(dy);
  if (!kept_for_backward_) fail("backward without a forward that kept its logits (keep_for_backward)");
  if (z_.shape() != dy.shape()) fail("backward got a gradient of shape " + dy.shape_string() + " before a matching forward");
  const Tensor& y = backward_reads_output(activation_) ? y_ : z_;
  if (backward_reads_output(activation_) && y_.empty())
    fail("backward without a forward that kept its output (keep_for_backward)");
  Tensor dz = Tensor::uninitialized(dy.shape());
  backend().activation_backward(activation_, dz, z_, y, dy);
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
