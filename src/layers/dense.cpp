// Dense: y = act(x @ kernel + bias) on the last axis.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/config_values.h"
#include "seqnet/layers/core.h"

namespace seqnet {

Dense::Dense(int64_t units, DenseOptions options)
    : LogitsLayer(options.name, "dense", activation_from_name(options.activation)), units_(units),
      options_(std::move(options)) {
  if (units_ <= 0) fail(fmt::format("units must be positive, got {}", units_));
  validate_initializer(options_.kernel_initializer);
  validate_initializer(options_.bias_initializer);
  if (options_.input_shape) set_declared_input_shape(*options_.input_shape);
}

Shape Dense::build_impl(const Shape& in, Rng& rng) {
  if (in.size() < 2) fail("expects input of rank >= 2 (batch, ..., features), got " + shape_to_string(in));
  if (in.back() < 0) fail("the last axis of the input must be known, got " + shape_to_string(in));
  add_weight("kernel", {in.back(), units_}, options_.kernel_initializer, rng);
  if (options_.use_bias) add_weight("bias", {units_}, options_.bias_initializer, rng);
  Shape out = in;
  out.back() = units_;
  return out;
}

Tensor Dense::forward(const Tensor& x, RunContext& ctx) {
  const Param* kernel = params()[0];
  const Param* bias = options_.use_bias ? params()[1] : nullptr;
  Shape out_shape = x.shape();
  out_shape.back() = units_;
  // Backward reads the input (the kernel gradient); inference does not, and skips the copy.
  keep_input(x_, x, ctx.keep_for_backward);  // backward reads the input
  Tensor z = Tensor::uninitialized(out_shape);  // the GEMM writes every value (beta 0, or over the bias)
  backend().matmul_forward(z, x, kernel->value, bias ? &bias->value : nullptr);
  return activate(std::move(z), ctx.keep_for_backward);
}

Tensor Dense::backward_from_logits(const Tensor& dz) {
  if (x_.empty()) fail("backward without a forward that kept its input (keep_for_backward)");
  Param* kernel = params()[0];
  Param* bias = options_.use_bias ? params()[1] : nullptr;
  const bool want_dx = input_grad_wanted();
  Tensor dx = want_dx ? Tensor::uninitialized(x_.shape()) : Tensor();
  backend().matmul_backward(want_dx ? &dx : nullptr, kernel->grad, bias ? &bias->grad : nullptr, dz, x_, kernel->value);
  return dx;
}

Json Dense::get_config() const {
  Json c = Layer::get_config();
  c["units"] = units_;
  c["activation"] = activation_name(activation_);
  c["use_bias"] = options_.use_bias;
  c["kernel_initializer"] = config::initializer_to_json(options_.kernel_initializer);
  c["bias_initializer"] = config::initializer_to_json(options_.bias_initializer);
  c["kernel_regularizer"] = nullptr;
  c["bias_regularizer"] = nullptr;
  c["kernel_constraint"] = nullptr;
  c["bias_constraint"] = nullptr;
  return c;
}

}  // namespace seqnet
