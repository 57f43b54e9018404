// MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D over (batch, steps, C).
#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/layer_registry.h"
#include "seqnet/layers/conv.h"

namespace seqnet {

namespace {
// Below this many values a parallel region costs more than the loop it splits.
constexpr int64_t kParallelMin = 1 << 15;

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

Tensor Pooling1D::forward(const Tensor& x, RunContext& ctx) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
  check_length(L);
  const int64_t Lout = output_length(L);
  // TF's "same" split: the odd extra pad goes on the right.
  const int64_t pad_left =
      options_.padding == "same" ? std::max<int64_t>((Lout - 1) * strides_ + pool_size_ - L, 0) / 2 : 0;
  x_shape_ = x.shape();
  Tensor y = Tensor::uninitialized({B, Lout, C});  // every output row is filled below
  const float* in = x.data();
  float* out = y.data();
  const bool max = max_;
  // Max pooling records where each maximum came from only when a backward will route gradients there.
  const bool keep_arg = max && ctx.keep_for_backward;
  kept_for_backward_ = ctx.keep_for_backward;
  if (keep_arg) argmax_.resize(size_t(B * Lout * C));  // every entry is written below
  else argmax_.clear();
  if (!max) inv_count_.assign(size_t(Lout), 0.0f);
  // Each sample writes its own output rows.
#pragma omp parallel for schedule(static) if (B * L * C >= kParallelMin)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < Lout; ++t) {
      const int64_t p0 = std::max<int64_t>(t * strides_ - pad_left, 0);
      const int64_t p1 = std::min<int64_t>(t * strides_ - pad_left + pool_size_, L);
      float* __restrict o = out + (b * Lout + t) * C;
      if (max) {
        int32_t* __restrict arg = keep_arg ? argmax_.data() + (b * Lout + t) * C : nullptr;
        if (p0 >= p1) {  // an empty window (no input under it)
          std::fill_n(o, C, -std::numeric_limits<float>::infinity());
          if (arg) std::fill_n(arg, C, -1);
          continue;
        }
        // The first step of the window, then strictly greater values: ties keep the earliest step.
        std::copy_n(in + (b * L + p0) * C, C, o);
        if (arg) std::fill_n(arg, C, int32_t(p0));
        for (int64_t p = p0 + 1; p < p1; ++p) {
          const float* __restrict row = in + (b * L + p) * C;
          if (arg) {
            for (int64_t c = 0; c < C; ++c)
              if (row[c] > o[c]) o[c] = row[c], arg[c] = int32_t(p);
          } else {
            for (int64_t c = 0; c < C; ++c) o[c] = row[c] > o[c] ? row[c] : o[c];
          }
        }
      } else {
        const float inv = 1.0f / float(p1 - p0);
        if (b == 0) inv_count_[size_t(t)] = inv;
        std::fill(o, o + C, 0.0f);
        for (int64_t p = p0; p < p1; ++p) {
          const float* row = in + (b * L + p) * C;
          for (int64_t c = 0; c < C; ++c) o[c] += row[c];
        }
        for (int64_t c = 0; c < C; ++c) o[c] *= inv;
      }
    }
  }
  return y;
}

Tensor Pooling1D::backward(const Tensor& dy) {
  if (x_shape_.size() != 3) fail("backward called before forward");
  if (max_ && !kept_for_backward_) fail("backward after a forward that did not keep its argmax (keep_for_backward)");
  const int64_t B = x_shape_[0], L = x_shape_[1], C = x_shape_[2], Lout = dy.dim(1);
  const int64_t pad_left =
      options_.padding == "same" ? std::max<int64_t>((Lout - 1) * strides_ + pool_size_ - L, 0) / 2 : 0;
  Tensor dx = Tensor::uninitialized(x_shape_);  // each sample zeroes its own rows below, in parallel
  const float* g = dy.data();
  float* d = dx.data();
  const bool max = max_;
  // Each sample adds only into its own input rows.
#pragma omp parallel for schedule(static) if (B * L * C >= kParallelMin)
  for (int64_t b = 0; b < B; ++b) {
    std::fill_n(d + b * L * C, L * C, 0.0f);
    for (int64_t t = 0; t < Lout; ++t) {
      const float* gr = g + (b * Lout + t) * C;
      if (max) {
        const int32_t* arg = argmax_.data() + (b * Lout + t) * C;
        for (int64_t c = 0; c < C; ++c) d[(b * L + arg[c]) * C + c] += gr[c];
      } else {
        const int64_t p0 = std::max<int64_t>(t * strides_ - pad_left, 0);
        const int64_t p1 = std::min<int64_t>(t * strides_ - pad_left + pool_size_, L);
        const float inv = inv_count_[size_t(t)];
        for (int64_t p = p0; p < p1; ++p) {
          float* row = d + (b * L + p) * C;
          for (int64_t c = 0; c < C; ++c) row[c] += gr[c] * inv;
        }
      }
    }
  }
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
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
  x_shape_ = x.shape();
  Tensor y(output_shape_for(x));
  argmax_.assign(size_t(B * C), 0);
  const float* in = x.data();
  float* out = y.data();
#pragma omp parallel for schedule(static) if (B * L * C >= kParallelMin)
  for (int64_t b = 0; b < B; ++b) {
    float* o = out + b * C;
    int32_t* arg = argmax_.data() + b * C;
    std::copy(in + b * L * C, in + b * L * C + C, o);
    for (int64_t t = 1; t < L; ++t) {
      const float* row = in + (b * L + t) * C;
      for (int64_t c = 0; c < C; ++c)
        if (row[c] > o[c]) o[c] = row[c], arg[c] = int32_t(t);
    }
  }
  return y;
}

Tensor GlobalMaxPooling1D::backward(const Tensor& dy) {
  const int64_t B = x_shape_[0], L = x_shape_[1], C = x_shape_[2];
  Tensor dx(x_shape_);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) dx[(b * L + argmax_[size_t(b * C + c)]) * C + c] += dy[b * C + c];
  return dx;
}

Tensor GlobalAveragePooling1D::forward(const Tensor& x, RunContext& ctx) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
  x_shape_ = x.shape();
  weight_.assign(size_t(B * L), 1.0f / float(L));
  if (ctx.mask) {
    const Tensor& m = *ctx.mask;
    if (m.shape() != Shape{B, L})
      fail(fmt::format("the input mask has shape {}, expected ({}, {})", m.shape_string(), B, L));
    const Tensor mf = m.as_float();
    for (int64_t b = 0; b < B; ++b) {
      double total = 0;
      for (int64_t t = 0; t < L; ++t) total += mf[b * L + t];
      // A fully masked row averages nothing: 0 rather than Keras's 0/0.
      const float inv = total > 0 ? float(1.0 / total) : 0.0f;
      for (int64_t t = 0; t < L; ++t) weight_[size_t(b * L + t)] = mf[b * L + t] * inv;
    }
  }
  Tensor y(output_shape_for(x));
  const float* in = x.data();
  float* out = y.data();
#pragma omp parallel for schedule(static) if (B * L * C >= kParallelMin)
  for (int64_t b = 0; b < B; ++b) {
    float* o = out + b * C;
    for (int64_t t = 0; t < L; ++t) {
      const float w = weight_[size_t(b * L + t)];
      if (w == 0.0f) continue;
      const float* row = in + (b * L + t) * C;
      for (int64_t c = 0; c < C; ++c) o[c] += w * row[c];
    }
  }
  return y;
}

Tensor GlobalAveragePooling1D::backward(const Tensor& dy) {
  const int64_t B = x_shape_[0], L = x_shape_[1], C = x_shape_[2];
  Tensor dx(x_shape_);
  const float* g = dy.data();
  float* d = dx.data();
#pragma omp parallel for schedule(static) if (B * L * C >= kParallelMin)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      const float w = weight_[size_t(b * L + t)];
      float* row = d + (b * L + t) * C;
      for (int64_t c = 0; c < C; ++c) row[c] = w * g[b * C + c];
    }
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
