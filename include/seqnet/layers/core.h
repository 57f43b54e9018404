// Core layers: Dense, Embedding, Flatten, Reshape, Dropout, Activation.
#pragma once
#include "seqnet/activations.h"
#include "seqnet/layer.h"

namespace seqnet {

// Layers whose last step is an activation let a loss take the exact logits path
// (sigmoid + binary_crossentropy, softmax + categorical_crossentropy), as Keras's TF backend does.
class LogitsLayer : public Layer {
 public:
  LogitsLayer(std::string name, std::string class_snake_name, Activation activation)
      : Layer(std::move(name), std::move(class_snake_name)), activation_(activation) {}
  Activation output_activation() const { return activation_; }
  // The pre-activation values of the last training-mode forward call (empty for a linear activation, whose
  // output they are, and after an inference call, which applies the activation in place).
  const Tensor& logits() const { return z_; }
  // backward() given the gradient with respect to the logits instead of the output.
  virtual Tensor backward_from_logits(const Tensor& dlogits) = 0;
  // Through the activation, then backward_from_logits.
  Tensor backward(const Tensor& dy) override;

 protected:
  // Returns act(z) (softmax over the last axis), keeping z as the logits and what backward needs; without
  // keep_for_backward, z itself overwritten (no copy, nothing kept).
  Tensor activate(Tensor z, bool keep_for_backward);
  // kept = a copy of x when backward will read it (keep), else empty; the copy reuses kept's memory and splits
  // megabytes over the threads (Dense and Conv1D keep their input for the kernel gradient).
  static void keep_input(Tensor& kept, const Tensor& x, bool keep);
  Activation activation_;
  Tensor z_, y_;
  bool kept_for_backward_ = false;
};

struct DenseOptions {
  std::string activation = "linear";
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::string name;
  std::optional<Shape> input_shape;
};

// Dense acts on the last axis: (..., in) -> (..., units); kernel (in, units), bias (units).
class Dense : public LogitsLayer {
 public:
  Dense(int64_t units, DenseOptions options = {});
  std::string class_name() const override { return "Dense"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward_from_logits(const Tensor& dlogits) override;
  Json get_config() const override;
  int64_t units() const { return units_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  int64_t units_;
  DenseOptions options_;
  Tensor x_;  // the input of the last forward
};

struct EmbeddingOptions {
  Initializer embeddings_initializer = Initializer::uniform(-0.05f, 0.05f);
  bool mask_zero = false;
  std::optional<int64_t> input_length;  // Keras 2's argument; fixes the sequence length in summaries
  std::string name;
};

// Embedding: int ids (batch, T) -> (batch, T, output_dim); weight "embeddings" (input_dim, output_dim).
class Embedding : public Layer {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options = {});
  std::string class_name() const override { return "Embedding"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor& input, const Tensor* input_mask) const override;
  Json get_config() const override;
  int64_t input_dim() const { return input_dim_; }
  int64_t output_dim() const { return output_dim_; }
  bool mask_zero() const { return options_.mask_zero; }
  // forward() in two halves, for a Conv1D that reads this layer's rows itself (Conv1D::call_on_embedding):
  // the ids of x (float32 or int32), checked (an error names the first bad one) and kept for backward...
  const Tensor& checked_ids(const Tensor& x);
  // ...and their rows (batch, T, output_dim).
  Tensor lookup(const Shape& ids_shape) const;

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  int64_t input_dim_, output_dim_;
  EmbeddingOptions options_;
  Tensor ids_;  // int32: the ids of the last forward, for the sparse gradient
};

// Flatten: (batch, d1, d2, ...) -> (batch, d1*d2*...). Drops any mask.
class Flatten : public Layer {
 public:
  explicit Flatten(std::string name = "");
  std::string class_name() const override { return "Flatten"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  Shape last_input_shape_;
};

// Reshape to target_shape (without the batch axis; one entry may be -1).
class Reshape : public Layer {
 public:
  explicit Reshape(Shape target_shape, std::string name = "");
  std::string class_name() const override { return "Reshape"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  Shape target_shape_;
  Shape last_input_shape_;
};

// Inverted dropout: in training, zero each value with probability `rate` and scale the rest by 1/(1-rate).
class Dropout : public Layer {
 public:
  explicit Dropout(float rate, std::string name = "");
  std::string class_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  Json get_config() const override;
  float rate() const { return rate_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override { return input_shape; }
  Tensor forward_consuming(Tensor&& x, RunContext& ctx) override;

 private:
  bool active(const RunContext& ctx) const { return ctx.training && rate_ != 0.0f; }
  float rate_;
  Tensor keep_;  // the scaled mask of the last training forward; empty when dropout was inactive
};

class ActivationLayer : public LogitsLayer {
 public:
  explicit ActivationLayer(const std::string& activation, std::string name = "");
  std::string class_name() const override { return "Activation"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward_from_logits(const Tensor& dlogits) override { return dlogits; }
  Json get_config() const override;

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override { return input_shape; }
};

// Factories that read like Keras: layers::Dense(32, {.activation = "relu"}).
namespace layers {
inline LayerPtr Dense(int64_t units, DenseOptions o = {}) { return std::make_shared<seqnet::Dense>(units, std::move(o)); }
inline LayerPtr Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions o = {}) {
  return std::make_shared<seqnet::Embedding>(input_dim, output_dim, std::move(o));
}
inline LayerPtr Flatten(std::string name = "") { return std::make_shared<seqnet::Flatten>(std::move(name)); }
inline LayerPtr Reshape(Shape target_shape, std::string name = "") {
  return std::make_shared<seqnet::Reshape>(std::move(target_shape), std::move(name));
}
inline LayerPtr Dropout(float rate, std::string name = "") { return std::make_shared<seqnet::Dropout>(rate, std::move(name)); }
inline LayerPtr Activation(const std::string& activation, std::string name = "") {
  return std::make_shared<seqnet::ActivationLayer>(activation, std::move(name));
}
}  // namespace layers

}  // namespace seqnet
