// MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D over (batch, steps, C).
#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"
#include "seqnet/layers/conv.h"

namespace seqnet {

namespace {
std::string lower(std::string s) {
  for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}
}  // namespace

// ---- MaxPooling1D / AveragePooling1D ----
// The class name is known before any check can fail: fail() names it while the subclass is not built yet.
Pooling1D::Pooling1D(int64_t pool_size, Pooling1DOptions options, const std::string& kind)
    : Layer(options.name, kind == "MaxPooling1D" ? "max_pooling1d" : "average_pooling1d"),
      max_(kind == "MaxPooling1D"), pool_size_(pool_size), strides_(options.strides.value_or(pool_size)),
      options_(std::move(options)) {
  if (pool_size_ <= 0) fail(fmt::format("pool_size must be positive, got {}", pool_size_));
  if (strides_ <= 0) fail(fmt::format("strides must be positive, got {}", strides_));
  options_.padding = lower(options_.padding);
  if (options_.padding != "valid" && options_.padding != "same")
    fail(fmt::format("padding must be 'valid' or 'same', got '{}'", options_.padding));
  if (options_.input_shape) set_declared_input_shape(*options_.input_shape);
}

int64_t Pooling1D::output_length(int64_t steps) const {
  if (options_.padding == "valid") return steps >= pool_size_ ? (steps - pool_size_) / strides_ + 1 : 0;
  return steps >= 1 ? (steps - 1) / strides_ + 1 : 0;
}

void Pooling1D::check_length(int64_t steps) const {
  if (output_length(steps) < 1)
    fail(fmt::format("input of {} steps is too short for pool_size {} with '{}' padding", steps, pool_size_,
                     options_.padding));
}

Shape Pooling1D::build_impl(const Shape& in, Rng&) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, steps, channels), got " + shape_to_string(in));
  if (in[1] >= 0) check_length(in[1]);
  return {in[0], in[1] < 0 ? -1 : output_length(in[1]), in[2]};
}

// TF's "same" split: the odd extra pad goes on the right.
int64_t Pooling1D::pad_left(int64_t steps, int64_t out_steps) const {
  if (options_.padding != "same") return 0;
  return std::max<int64_t>((out_steps - 1) * strides_ + pool_size_ - steps, 0) / 2;
}

Tensor Pooling1D::forward(const Tensor& x, RunContext& ctx) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
  check_length(L);
  const int64_t Lout = output_length(L);
  const Windows windows{pool_size_, strides_, 1, pad_left(L, Lout)};
  x_shape_ = x.shape();
  kept_for_backward_ = ctx.keep_for_backward;
  Tensor y = Tensor::uninitialized({B, Lout, C});  // every output row is written
  if (!max_) {
    backend().average_pool_forward(y, x, windows);
    return y;
  }
  // Max pooling records where each maximum came from only when a backward will route gradients there.
  if (ctx.keep_for_backward) {
    if (argmax_.shape() != y.shape()) argmax_ = Tensor(y.shape(), DType::int32);
    backend().max_pool_forward(y, &argmax_, x, windows);
  } else {
    argmax_ = Tensor();
    backend().max_pool_forward(y, nullptr, x, windows);
  }
  return y;
}

Tensor Pooling1D::backward(const Tensor& dy) {
  if (x_shape_.size() != 3) fail("backward called before forward");
  if (max_ && !kept_for_backward_) fail("backward after a forward that did not keep its argmax (keep_for_backward)");
  Tensor dx = Tensor::uninitialized(x_shape_);  // the ops write every value
  if (max_) backend().max_pool_backward(dx, dy, argmax_);
  else backend().average_pool_backward(dx, dy, {pool_size_, strides_, 1, pad_left(x_shape_[1], dy.dim(1))});
  return dx;
}

Json Pooling1D::get_config() const {
  Json c = Layer::get_config();
  c["pool_size"] = Json::array({pool_size_});
  c["padding"] = options_.padding;
  c["strides"] = Json::array({strides_});
  c["data_format"] = "channels_last";
  return c;
}

// ---- GlobalMaxPooling1D / GlobalAveragePooling1D ----
GlobalPooling1D::GlobalPooling1D(GlobalPooling1DOptions options, const std::string& snake_name)
    : Layer(options.name, snake_name), options_(std::move(options)) {
  if (options_.input_shape) set_declared_input_shape(*options_.input_shape);
}

Shape GlobalPooling1D::build_impl(const Shape& in, Rng&) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, steps, channels), got " + shape_to_string(in));
  if (in[1] == 0) fail("cannot pool over 0 steps");
  if (options_.keepdims) return {in[0], 1, in[2]};
  return {in[0], in[2]};
}

Shape GlobalPooling1D::output_shape_for(const Tensor& x) const {
  if (x.dim(1) == 0) fail("cannot pool over 0 steps");
  if (options_.keepdims) return {x.dim(0), 1, x.dim(2)};
  return {x.dim(0), x.dim(2)};
}

Json GlobalPooling1D::get_config() const {
  Json c = Layer::get_config();
  c["data_format"] = "channels_last";
  c["keepdims"] = options_.keepdims;
  return c;
}

Tensor GlobalMaxPooling1D::forward(const Tensor& x, RunContext&) {
  x_shape_ = x.shape();
  Tensor y = Tensor::uninitialized(output_shape_for(x));
  if (argmax_.shape() != Shape{x.dim(0), x.dim(2)}) argmax_ = Tensor({x.dim(0), x.dim(2)}, DType::int32);
  backend().global_max_pool_forward(y, argmax_, x);
  return y;
}

Tensor GlobalMaxPooling1D::backward(const Tensor& dy) {
  Tensor dx = Tensor::uninitialized(x_shape_);
  backend().global_max_pool_backward(dx, dy, argmax_);
  return dx;
}

Tensor GlobalAveragePooling1D::forward(const Tensor& x, RunContext& ctx) {
  const int64_t B = x.dim(0), L = x.dim(1);
  x_shape_ = x.shape();
  weight_ = Tensor::uninitialized({B, L});
  if (ctx.mask) {
    if (ctx.mask->shape() != Shape{B, L})
      fail(fmt::format("the input mask has shape {}, expected ({}, {})", ctx.mask->shape_string(), B, L));
    const Tensor mask = ctx.mask->as_float();
    backend().step_average_weights(weight_, &mask);
  } else {
    backend().step_average_weights(weight_, nullptr);
  }
  Tensor y = Tensor::uninitialized(output_shape_for(x));
  backend().weighted_step_sum_forward(y, x, weight_);
  return y;
}

Tensor GlobalAveragePooling1D::backward(const Tensor& dy) {
  Tensor dx = Tensor::uninitialized(x_shape_);
  backend().weighted_step_sum_backward(dx, dy, weight_);
  return dx;
}

// ---- Keras config readers ----
namespace config {

namespace {
template <typename T>
LayerPtr pooling1d_from(const Json& c, const char* class_name) {
  reject_channels_first(c, class_name);
  Pooling1DOptions o;
  const int64_t pool = get_int_or_first(c, "pool_size", 2);
  if (c.contains("strides") && !c["strides"].is_null()) o.strides = get_int_or_first(c, "strides", pool);
  o.padding = get(c, "padding", std::string("valid"));
  auto l = std::make_shared<T>(pool, o);
  apply_common(*l, c);
  return l;
}

template <typename T>
LayerPtr global_pooling1d_from(const Json& c, const char* class_name) {
  reject_channels_first(c, class_name);
  GlobalPooling1DOptions o;
  o.keepdims = get(c, "keepdims", false);
  auto l = std::make_shared<T>(o);
  apply_common(*l, c);
  return l;
}
}  // namespace

LayerPtr max_pooling1d_from_config(const Json& c) { return pooling1d_from<MaxPooling1D>(c, "MaxPooling1D"); }
LayerPtr average_pooling1d_from_config(const Json& c) {
  return pooling1d_from<AveragePooling1D>(c, "AveragePooling1D");
}
LayerPtr global_max_pooling1d_from_config(const Json& c) {
  return global_pooling1d_from<GlobalMaxPooling1D>(c, "GlobalMaxPooling1D");
}
LayerPtr global_average_pooling1d_from_config(const Json& c) {
  return global_pooling1d_from<GlobalAveragePooling1D>(c, "GlobalAveragePooling1D");
}

}  // namespace config

}  // namespace seqnet
