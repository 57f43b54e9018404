// Layers of several inputs (Keras's merge layers) and RepeatVector, for layer graphs:
//
//   auto sum = apply_layer(layers::Add(), {x, y});                     // residual connection
//   auto both = apply_layer(layers::Concatenate({.axis = -1}), {text_features, numeric_features});
//
// Elementwise merges (Add, Subtract, Multiply, Average, Maximum, Minimum) need inputs of one shape (Keras also
// broadcasts axes of size 1; seqnet refuses them with an error naming the shapes). Masks: the elementwise merges
// pass on the OR of their inputs' masks when all have one (Keras 3), and Multiply, Maximum and Minimum refuse
// masked inputs; Concatenate passes on what Keras 3 computes (masks joined along a time axis, OR-ed along the
// feature axis, a missing mask counting as all true).
#pragma once
#include <memory>

#include "seqnet/layer.h"

namespace seqnet {

// The elementwise merges share everything but their arithmetic.
class ElementwiseMerge : public Layer {
 public:
  enum class Op { add, subtract, multiply, average, maximum, minimum };
  ElementwiseMerge(Op op, std::string name);
  std::string class_name() const override;
  bool takes_input_list() const override { return true; }
  std::vector<Tensor> forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) override;
  std::vector<Tensor> backward_multi(const std::vector<Tensor>& output_grads) override;
  std::vector<std::optional<Tensor>> compute_masks(const std::vector<const Tensor*>& inputs,
                                                   const std::vector<const Tensor*>& input_masks) const override;
  // A merge has no single-input form.
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  std::vector<Shape> build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng) override;

 private:
  Op op_;
  std::vector<Tensor> inputs_;   // Multiply: the inputs of the last forward
  Tensor winner_;                // Maximum, Minimum: which input gave each output value (int32)
  Shape shape_;
  size_t n_inputs_ = 0;
};

struct ConcatenateOptions {
  int axis = -1;  // Keras's default: the last axis
  std::string name;
};

// Joins its inputs along `axis` (any axis but the batch axis); the other axes must agree.
class Concatenate : public Layer {
 public:
  explicit Concatenate(ConcatenateOptions options = {});
  std::string class_name() const override { return "Concatenate"; }
  bool takes_input_list() const override { return true; }
  std::vector<Tensor> forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) override;
  std::vector<Tensor> backward_multi(const std::vector<Tensor>& output_grads) override;
  std::vector<std::optional<Tensor>> compute_masks(const std::vector<const Tensor*>& inputs,
                                                   const std::vector<const Tensor*>& input_masks) const override;
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  Json get_config() const override;

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  std::vector<Shape> build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng) override;

 private:
  ConcatenateOptions options_;
  int axis_ = -1;                      // resolved, >= 1
  std::vector<Shape> last_shapes_;     // the inputs of the last forward
};

// (batch, features) -> (batch, n, features): the vector repeated n times (the encoder-decoder's bridge).
class RepeatVector : public Layer {
 public:
  explicit RepeatVector(int64_t n, std::string name = "");
  std::string class_name() const override { return "RepeatVector"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor& input, const Tensor* input_mask) const override;
  Json get_config() const override;
  int64_t n() const { return n_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  int64_t n_;
};

namespace layers {
inline LayerPtr Add(std::string name = "") { return std::make_shared<ElementwiseMerge>(ElementwiseMerge::Op::add, std::move(name)); }
inline LayerPtr Subtract(std::string name = "") { return std::make_shared<ElementwiseMerge>(ElementwiseMerge::Op::subtract, std::move(name)); }
inline LayerPtr Multiply(std::string name = "") { return std::make_shared<ElementwiseMerge>(ElementwiseMerge::Op::multiply, std::move(name)); }
inline LayerPtr Average(std::string name = "") { return std::make_shared<ElementwiseMerge>(ElementwiseMerge::Op::average, std::move(name)); }
inline LayerPtr Maximum(std::string name = "") { return std::make_shared<ElementwiseMerge>(ElementwiseMerge::Op::maximum, std::move(name)); }
inline LayerPtr Minimum(std::string name = "") { return std::make_shared<ElementwiseMerge>(ElementwiseMerge::Op::minimum, std::move(name)); }
inline LayerPtr Concatenate(ConcatenateOptions o = {}) { return std::make_shared<seqnet::Concatenate>(std::move(o)); }
inline LayerPtr RepeatVector(int64_t n, std::string name = "") { return std::make_shared<seqnet::RepeatVector>(n, std::move(name)); }
}  // namespace layers

}  // namespace seqnet
