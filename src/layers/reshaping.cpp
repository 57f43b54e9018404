// Permute, Cropping1D, ZeroPadding1D, UpSampling1D (Keras 3's keras/src/layers/reshaping): values moved, not
// computed. Each forward is paired with its backward below it; a backward moves the gradient back along the
// same map (summing where UpSampling1D copied one step to several).
#include "seqnet/layers/reshaping.h"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"
#include "layers/size_arithmetic.h"

namespace seqnet {

namespace {
std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t axis = 0; axis < dims.size(); ++axis) s += (axis ? ", " : "") + std::to_string(dims[axis]);
  return s + ")";
}
}  // namespace

// ---- Permute ----

Permute::Permute(std::vector<int64_t> dims, std::string name) : Layer(std::move(name), "permute"), dims_(std::move(dims)) {
  // Keras: sorted(dims) must be 1..n, each axis after the batch axis named once.
  std::vector<int64_t> sorted = dims_;
  std::sort(sorted.begin(), sorted.end());
  for (size_t axis = 0; axis < sorted.size(); ++axis)
    if (sorted[axis] != int64_t(axis) + 1)
      fail("dims " + dims_text(dims_) + " must name each of the axes 1.." + std::to_string(dims_.size()) +
           " once (the batch axis is not counted)");
}

Shape Permute::build_impl(const Shape& in, Rng&) {
  if (in.size() != dims_.size() + 1)
    fail(fmt::format("dims {} permute inputs of rank {}, got {}", dims_text(dims_), dims_.size() + 1, shape_to_string(in)));
  Shape out{in[0]};
  for (int64_t d : dims_) out.push_back(in[size_t(d)]);
  return out;
}

// y's axis k + 1 is x's axis dims(k); the batch axis stays first.
Tensor Permute::forward(const Tensor& x, RunContext&) {
  if (!x.is_float()) fail("expects float input, got int32 of shape " + x.shape_string());
  last_input_shape_ = x.shape();
  std::vector<int> axes{0};
  Shape out{x.dim(0)};
  for (int64_t d : dims_) {
    axes.push_back(int(d));
    out.push_back(x.dim(int(d)));
  }
  Tensor y = Tensor::uninitialized(out);
  backend().permute_axes(y, x, axes);
  return y;
}

// The inverse permutation: x's axis dims(k) is the gradient's axis k + 1.
Tensor Permute::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  if (last_input_shape_.empty()) fail("backward called before forward");
  std::vector<int> inverse(dims_.size() + 1, 0);
  for (size_t axis = 0; axis < dims_.size(); ++axis) inverse[size_t(dims_[axis])] = int(axis) + 1;
  Tensor dx = Tensor::uninitialized(last_input_shape_);
  backend().permute_axes(dx, dy, inverse);
  return dx;
}

Json Permute::get_config() const {
  Json c = Layer::get_config();
  c["dims"] = dims_;
  return c;
}

// ---- Cropping1D ----

Cropping1D::Cropping1D(std::array<int64_t, 2> cropping, std::string name)
    : Layer(std::move(name), "cropping1d"), cropping_(cropping) {
  if (cropping_[0] < 0 || cropping_[1] < 0)
    fail(fmt::format("cropping ({}, {}) must be >= 0", cropping_[0], cropping_[1]));
  (void)size_sum(*this, cropping_[0], cropping_[1]);  // then steps - cropping[0] - cropping[1] cannot overflow
}

void Cropping1D::check_length(int64_t steps) const {
  if (steps - cropping_[0] - cropping_[1] <= 0)
    fail(fmt::format("cropping ({}, {}) leaves no step of an input of {} steps", cropping_[0], cropping_[1], steps));
}

Shape Cropping1D::build_impl(const Shape& in, Rng&) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, steps, features), got " + shape_to_string(in));
  if (in[1] >= 0) check_length(in[1]);
  return {in[0], in[1] < 0 ? -1 : in[1] - cropping_[0] - cropping_[1], in[2]};
}

// y[b, t, :] = x[b, t + cropping[0], :]: one block copy per sample.
Tensor Cropping1D::forward(const Tensor& x, RunContext&) {
  if (!x.is_float()) fail("expects float input, got int32 of shape " + x.shape_string());
  const int64_t B = x.dim(0), T = x.dim(1), F = x.dim(2);
  check_length(T);
  last_steps_ = T;
  const int64_t Tout = T - cropping_[0] - cropping_[1];
  Tensor y = Tensor::uninitialized({B, Tout, F});
  backend().copy_rows(y, x, {.rows = B, .length = Tout * F, .dst_stride = Tout * F, .src_offset = cropping_[0] * F,
                             .src_stride = T * F});
  return y;
}

// The cropped steps had no effect: their gradient is zero.
Tensor Cropping1D::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  if (last_steps_ < 0) fail("backward called before forward");
  const int64_t B = dy.dim(0), Tout = dy.dim(1), F = dy.dim(2), T = last_steps_;
  if (Tout != T - cropping_[0] - cropping_[1]) fail("backward got a gradient of shape " + dy.shape_string());
  Tensor dx({B, T, F});
  backend().copy_rows(dx, dy, {.rows = B, .length = Tout * F, .dst_offset = cropping_[0] * F, .dst_stride = T * F,
                               .src_stride = Tout * F});
  return dx;
}

Json Cropping1D::get_config() const {
  Json c = Layer::get_config();
  c["cropping"] = cropping_;  // Keras writes the pair even when given one int
  return c;
}

// ---- ZeroPadding1D ----

ZeroPadding1D::ZeroPadding1D(std::array<int64_t, 2> padding, std::string name)
    : Layer(std::move(name), "zero_padding1d"), padding_(padding) {
  if (padding_[0] < 0 || padding_[1] < 0) fail(fmt::format("padding ({}, {}) must be >= 0", padding_[0], padding_[1]));
  (void)size_sum(*this, padding_[0], padding_[1]);
}

Shape ZeroPadding1D::build_impl(const Shape& in, Rng&) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, steps, features), got " + shape_to_string(in));
  return {in[0], in[1] < 0 ? -1 : size_sum(*this, in[1], padding_[0] + padding_[1]), in[2]};
}

// y = zeros; y[b, padding[0] + t, :] = x[b, t, :].
Tensor ZeroPadding1D::forward(const Tensor& x, RunContext&) {
  if (!x.is_float()) fail("expects float input, got int32 of shape " + x.shape_string());
  const int64_t B = x.dim(0), T = x.dim(1), F = x.dim(2), Tout = size_sum(*this, T, padding_[0] + padding_[1]);
  Tensor y({B, Tout, F});
  backend().copy_rows(y, x, {.rows = B, .length = T * F, .dst_offset = padding_[0] * F, .dst_stride = Tout * F,
                             .src_stride = T * F});
  return y;
}

// The padded steps are constants: dx is dy without them.
Tensor ZeroPadding1D::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  const int64_t B = dy.dim(0), Tout = dy.dim(1), F = dy.dim(2), T = Tout - padding_[0] - padding_[1];
  if (T < 0) fail("backward got a gradient of shape " + dy.shape_string());
  Tensor dx = Tensor::uninitialized({B, T, F});
  backend().copy_rows(dx, dy, {.rows = B, .length = T * F, .dst_stride = T * F, .src_offset = padding_[0] * F,
                               .src_stride = Tout * F});
  return dx;
}

Json ZeroPadding1D::get_config() const {
  Json c = Layer::get_config();
  c["padding"] = padding_;
  c["data_format"] = "channels_last";
  return c;
}

// ---- UpSampling1D ----

UpSampling1D::UpSampling1D(int64_t size, std::string name) : Layer(std::move(name), "up_sampling1d"), size_(size) {
  if (size_ <= 0) fail(fmt::format("size must be a positive integer, got {}", size_));
}

Shape UpSampling1D::build_impl(const Shape& in, Rng&) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, steps, features), got " + shape_to_string(in));
  return {in[0], in[1] < 0 ? -1 : size_product(*this, in[1], size_), in[2]};
}

// y[b, t * size + r, :] = x[b, t, :] for r < size (Keras's ops.repeat along axis 1).
Tensor UpSampling1D::forward(const Tensor& x, RunContext&) {
  if (!x.is_float()) fail("expects float input, got int32 of shape " + x.shape_string());
  const int64_t B = x.dim(0), T = x.dim(1), F = x.dim(2);
  Tensor y = Tensor::uninitialized({B, size_product(*this, T, size_), F});
  backend().repeat_rows_forward(y, x, size_);
  return y;
}

// dx[b, t, :] = sum over r of dy[b, t * size + r, :], added in order of r.
Tensor UpSampling1D::backward(const Tensor& dy) {
  if (!input_grad_wanted()) return Tensor();
  const int64_t B = dy.dim(0), Tout = dy.dim(1), F = dy.dim(2);
  if (Tout % size_) fail("backward got a gradient of shape " + dy.shape_string());
  const int64_t T = Tout / size_;
  Tensor dx = Tensor::uninitialized({B, T, F});
  backend().repeat_rows_backward(dx, dy, size_);
  return dx;
}

Json UpSampling1D::get_config() const {
  Json c = Layer::get_config();
  c["size"] = size_;
  return c;
}

namespace config {
namespace {
[[noreturn]] void bad_key(const Json& c, const char* cls, const char* key, const std::string& want) {
  const auto it = c.find(key);
  throw Error(fmt::format("layer '{}' ({}): config key '{}' must be {}, got {}", c.value("name", std::string("?")), cls,
                          key, want, it == c.end() ? "nothing" : it->dump()));
}

// Keras's standardize_tuple(value, 2, allow_zero=True): one int for both ends, or a pair.
std::array<int64_t, 2> int_pair(const Json& c, const char* cls, const char* key, std::array<int64_t, 2> fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  const std::string where = config_key(c, key);
  if (it->is_number_integer()) {
    const int64_t both = whole_number_at<int64_t>(*it, where);
    return {both, both};
  }
  if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer())
    return {whole_number_at<int64_t>((*it)[0], where), whole_number_at<int64_t>((*it)[1], where)};
  bad_key(c, cls, key, "an integer or a pair of integers");
}
}  // namespace

LayerPtr permute_from_config(const Json& c) {
  auto it = c.find("dims");
  if (it == c.end() || !it->is_array()) bad_key(c, "Permute", "dims", "a list of axes (1-based)");
  std::vector<int64_t> dims;
  for (const Json& d : *it) {
    if (!d.is_number_integer()) bad_key(c, "Permute", "dims", "a list of axes (1-based)");
    dims.push_back(whole_number_at<int64_t>(d, config_key(c, "dims")));
  }
  auto l = std::make_shared<Permute>(std::move(dims));
  apply_common(*l, c);
  return l;
}

LayerPtr cropping1d_from_config(const Json& c) {
  auto l = std::make_shared<Cropping1D>(int_pair(c, "Cropping1D", "cropping", {1, 1}));
  apply_common(*l, c);
  return l;
}

LayerPtr zero_padding1d_from_config(const Json& c) {
  reject_channels_first(c, "ZeroPadding1D");
  auto l = std::make_shared<ZeroPadding1D>(int_pair(c, "ZeroPadding1D", "padding", {1, 1}));
  apply_common(*l, c);
  return l;
}

LayerPtr up_sampling1d_from_config(const Json& c) {
  auto it = c.find("size");
  int64_t size = 2;
  if (it != c.end() && !it->is_null()) {
    if (!it->is_number_integer()) bad_key(c, "UpSampling1D", "size", "an integer");  // Keras: a TypeError
    size = whole_number_at<int64_t>(*it, config_key(c, "size"));
  }
  auto l = std::make_shared<UpSampling1D>(size);
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
