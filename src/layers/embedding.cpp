// Embedding: a lookup of rows of "embeddings" (input_dim, output_dim); the gradient is a scatter-add.
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/config_values.h"
#include "kernels/parallel.h"
#include "seqnet/layers/core.h"

namespace seqnet {

Embedding::Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options)
    : Layer(options.name, "embedding"), input_dim_(input_dim), output_dim_(output_dim), options_(std::move(options)) {
  if (input_dim_ <= 0 || output_dim_ <= 0)
    fail(fmt::format("input_dim and output_dim must be positive, got {} and {}", input_dim_, output_dim_));
  validate_initializer(options_.embeddings_initializer);
  if (options_.input_length) set_declared_input_shape({*options_.input_length});
}

Shape Embedding::build_impl(const Shape& in, Rng& rng) {
  if (in.size() < 2) fail("expects integer ids of shape (batch, sequence_length), got " + shape_to_string(in));
  if (options_.input_length && in[1] >= 0 && in[1] != *options_.input_length)
    fail(fmt::format("input_length is {} but the input has {} steps", *options_.input_length, in[1]));
  add_weight("embeddings", {input_dim_, output_dim_}, options_.embeddings_initializer, rng);
  Shape out = in;
  out.push_back(output_dim_);
  return out;
}

Tensor Embedding::forward(const Tensor& x, RunContext&) {
  const int64_t n = x.size();
  ids_.resize(static_cast<size_t>(n));
  if (x.is_float()) {
    // Keras casts float ids to int; a non-integral id is almost surely a data bug, so we say so.
    const float* p = x.data();
    for (int64_t i = 0; i < n; ++i) {
      if (p[i] != std::floor(p[i])) fail(fmt::format("got the non-integer id {} at flat position {}", p[i], i));
      if (!(p[i] >= 0.0f && p[i] < float(input_dim_)))  // checked before the conversion, which could overflow
        fail(fmt::format("id {:.0f} at flat position {} is out of range [0, {}) (input_dim is {})", p[i], i,
                         input_dim_, input_dim_));
      ids_[static_cast<size_t>(i)] = static_cast<int32_t>(p[i]);
    }
  } else {
    std::copy_n(x.idata(), n, ids_.data());
  }
  Shape out_shape = x.shape();
  out_shape.push_back(output_dim_);
  Tensor y = Tensor::uninitialized(out_shape);  // every row is copied in below
  for (int64_t i = 0; i < n; ++i) {
    int32_t id = ids_[static_cast<size_t>(i)];
    if (id < 0 || id >= input_dim_)
      fail(fmt::format("id {} at flat position {} is out of range [0, {}) (input_dim is {})", id, i, input_dim_,
                       input_dim_));
  }
  const float* table = params()[0]->value.data();
  float* out = y.data();
  kernels::split_range(long(n), 64, 4.0 * double(n) * double(output_dim_), [&](long begin, long end) {
    for (long i = begin; i < end; ++i)
      std::copy_n(table + int64_t(ids_[size_t(i)]) * output_dim_, output_dim_, out + i * output_dim_);
  });
  return y;
}

Tensor Embedding::backward(const Tensor& dy) {
  float* grad = params()[0]->grad.data();
  const float* g = dy.data();
  // Ids repeat, so threads split the embedding's columns, not the positions: each row's sums run over the
  // positions in order, whatever the thread count.
  kernels::split_range(long(output_dim_), 16, 4.0 * double(ids_.size()) * double(output_dim_), [&](long c0, long c1) {
    for (size_t i = 0; i < ids_.size(); ++i) {
      float* row = grad + int64_t(ids_[i]) * output_dim_;
      const float* src = g + int64_t(i) * output_dim_;
      for (long j = c0; j < c1; ++j) row[j] += src[j];
    }
  });
  return Tensor();  // ids have no gradient
}

std::optional<Tensor> Embedding::compute_mask(const Tensor& input, const Tensor*) const {
  if (!options_.mask_zero) return std::nullopt;
  Tensor mask(input.shape());
  float* m = mask.data();
  if (input.is_float()) {
    for (int64_t i = 0; i < input.size(); ++i) m[i] = input.data()[i] != 0.0f ? 1.0f : 0.0f;
  } else {
    for (int64_t i = 0; i < input.size(); ++i) m[i] = input.idata()[i] != 0 ? 1.0f : 0.0f;
  }
  return mask;
}

Json Embedding::get_config() const {
  Json c = Layer::get_config();
  c["input_dim"] = input_dim_;
  c["output_dim"] = output_dim_;
  c["embeddings_initializer"] = config::initializer_to_json(options_.embeddings_initializer);
  c["embeddings_regularizer"] = nullptr;
  c["activity_regularizer"] = nullptr;
  c["embeddings_constraint"] = nullptr;
  c["mask_zero"] = options_.mask_zero;
  if (options_.input_length) c["input_length"] = *options_.input_length;
  return c;
}

}  // namespace seqnet
