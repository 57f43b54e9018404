// Embedding: a lookup of rows of "embeddings" (input_dim, output_dim); the gradient is a scatter-add.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/config_values.h"
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
  checked_ids(x);
  return lookup(x.shape());
}

const Tensor& Embedding::checked_ids(const Tensor& x) {
  if (ids_.size() != x.size()) ids_ = Tensor({x.size()}, DType::int32);
  const InvalidId bad = backend().embedding_ids(ids_, x, input_dim_);
  if (bad.non_integer) fail(fmt::format("got the non-integer id {} at flat position {}", float(bad.id), bad.position));
  if (bad.position >= 0)
    fail(fmt::format("id {:.0f} at flat position {} is out of range [0, {}) (input_dim is {})", bad.id, bad.position,
                     input_dim_, input_dim_));
  return ids_;
}

Tensor Embedding::lookup(const Shape& ids_shape) const {
  Shape out_shape = ids_shape;
  out_shape.push_back(output_dim_);
  Tensor y = Tensor::uninitialized(out_shape);  // every row is copied in
  backend().embedding_forward(y, ids_, params()[0]->value);
  return y;
}

Tensor Embedding::backward(const Tensor& dy) {
  backend().embedding_backward(params()[0]->grad, dy, ids_);
  return Tensor();  // ids have no gradient
}

std::optional<Tensor> Embedding::compute_mask(const Tensor& input, const Tensor*) const {
  if (!options_.mask_zero) return std::nullopt;
  Tensor mask = Tensor::uninitialized(input.shape());
  backend().nonzero_mask(mask, input);
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
