// Convolution and pooling over sequences (channels last): Conv1D, MaxPooling1D, AveragePooling1D,
// GlobalMaxPooling1D, GlobalAveragePooling1D. Keras 3 defaults are written next to each option.
#pragma once
#include "seqnet/layers/core.h"

namespace seqnet {

// Options in Keras's argument order, so designated initializers read like the Keras call.
struct Conv1DOptions {
  int64_t strides = 1;                             // Keras: strides=1
  std::string padding = "valid";                   // Keras: padding="valid"; also "same" (TF split) and "causal"
  int64_t dilation_rate = 1;                       // Keras: dilation_rate=1; > 1 needs strides == 1
  std::string activation = "linear";               // Keras: activation=None
  bool use_bias = true;                            // Keras: use_bias=True
  Initializer kernel_initializer = "glorot_uniform";  // Keras: kernel_initializer="glorot_uniform"
  Initializer bias_initializer = "zeros";          // Keras: bias_initializer="zeros"
  std::string name;
  std::optional<Shape> input_shape;                // (steps, channels), for the first layer of a Sequential
};

// Conv1D: (batch, steps, in) -> (batch, new_steps, filters); kernel (kernel_size, in, filters), bias (filters).
// new_steps: valid floor((steps - d*(k-1) - 1)/s) + 1; same and causal floor((steps - 1)/s) + 1.
// "same" puts the odd extra pad on the right; "causal" left-pads d*(k-1). Drops any input mask (Keras
// Conv1D does not support masking).
class Conv1D : public LogitsLayer {
 public:
  Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions options = {});
  std::string class_name() const override { return "Conv1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward_from_logits(const Tensor& dlogits) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;
  int64_t filters() const { return filters_; }
  int64_t kernel_size() const { return kernel_size_; }
  const Conv1DOptions& options() const { return options_; }
  // Output length for an input of `steps` (>= 1 when the input is long enough).
  int64_t output_length(int64_t steps) const;
  // The same as call(embedding.call(ids)), for a Model that runs the pair as one: the convolution of looked-up
  // rows is the sum of the rows' projections through the kernel, so when the batch holds fewer distinct ids than
  // output positions each distinct row is projected once and the output gathers them (the sums in another
  // order: equal to the unfused path up to rounding). backward() then adds the table's gradient into the
  // embedding's weights (when ctx.input_grad) and returns no input gradient. Otherwise this is the unfused path,
  // and backward() returns the gradient of the embedding's output, as after call().
  Tensor call_on_embedding(Embedding& embedding, const Tensor& ids, RunContext& ctx);

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  int64_t pad_left(int64_t steps, int64_t out_steps) const;
  void check_length(int64_t steps) const;
  int64_t filters_, kernel_size_;
  Conv1DOptions options_;
  Tensor x_;  // the input of the last forward
  // The last call_on_embedding, when it fused: the embedding's table, the batch's distinct ids (distinct_ids_),
  // their rows of the table (distinct_rows_, kept for backward) and each position's index into them (slots_,
  // (batch, steps)); unique_ and seen_ are distinct_ids' scratch.
  Param* fused_table_ = nullptr;
  Tensor distinct_ids_, distinct_rows_, unique_, slots_, seen_;
  // Inference (predict, evaluate, validation) calls the pair again and again with the same weights: every row of
  // the table is projected once (table_projection_; when, call_on_embedding says), and later calls only gather.
  // The copies of the weights it was made from decide whether it still holds (compared bitwise every call).
  Tensor table_projection_, table_snapshot_, kernel_snapshot_;
};

struct Pooling1DOptions {
  std::optional<int64_t> strides;  // Keras: strides=None, meaning pool_size
  std::string padding = "valid";   // Keras: padding="valid"; also "same" (TF split)
  std::string name;
  std::optional<Shape> input_shape;
};

// Shared by MaxPooling1D and AveragePooling1D: (batch, steps, C) -> (batch, new_steps, C), with
// new_steps valid floor((steps - pool)/s) + 1, same floor((steps - 1)/s) + 1. Windows never mix
// channels. Padded positions take no part: max ignores them, the average divides by the count of real
// elements in the window (as TF and Keras do). Drops any input mask, as Keras does.
class Pooling1D : public Layer {
 public:
  // kind: "MaxPooling1D" or "AveragePooling1D".
  Pooling1D(int64_t pool_size, Pooling1DOptions options, const std::string& kind);
  std::string class_name() const override { return max_ ? "MaxPooling1D" : "AveragePooling1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;
  int64_t pool_size() const { return pool_size_; }
  int64_t strides() const { return strides_; }
  const std::string& padding() const { return options_.padding; }
  int64_t output_length(int64_t steps) const;

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  void check_length(int64_t steps) const;
  bool max_;
  int64_t pool_size_, strides_;
  Pooling1DOptions options_;
  Shape x_shape_;
  int64_t pad_left(int64_t steps, int64_t out_steps) const;
  Tensor argmax_;  // max, int32 (batch, out_steps, C): the input step each output came from (-1: empty window)
  bool kept_for_backward_ = false;  // the last forward recorded argmax_ (not in inference)
};

class MaxPooling1D : public Pooling1D {
 public:
  explicit MaxPooling1D(int64_t pool_size = 2, Pooling1DOptions options = {})
      : Pooling1D(pool_size, std::move(options), "MaxPooling1D") {}
};

class AveragePooling1D : public Pooling1D {
 public:
  explicit AveragePooling1D(int64_t pool_size = 2, Pooling1DOptions options = {})
      : Pooling1D(pool_size, std::move(options), "AveragePooling1D") {}
};

struct GlobalPooling1DOptions {
  bool keepdims = false;  // Keras: keepdims=False; true keeps the steps axis as size 1
  std::string name;
  std::optional<Shape> input_shape;
};

// (batch, steps, C) -> (batch, C), or (batch, 1, C) with keepdims. Passes on no mask.
class GlobalPooling1D : public Layer {
 public:
  GlobalPooling1D(GlobalPooling1DOptions options, const std::string& snake_name);
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;
  bool keepdims() const { return options_.keepdims; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  Shape output_shape_for(const Tensor& x) const;
  GlobalPooling1DOptions options_;
  Shape x_shape_;
};

// Max over the steps axis. Ignores the input mask, as Keras does.
class GlobalMaxPooling1D : public GlobalPooling1D {
 public:
  explicit GlobalMaxPooling1D(GlobalPooling1DOptions options = {})
      : GlobalPooling1D(std::move(options), "global_max_pooling1d") {}
  std::string class_name() const override { return "GlobalMaxPooling1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;

 private:
  Tensor argmax_;  // int32 (batch, C): the step each maximum came from
};

// Mean over the steps axis; with an input mask m (batch, steps), the masked mean sum(x*m)/sum(m).
// A row whose mask is all zero gives 0 (Keras divides 0 by 0 and gives NaN).
class GlobalAveragePooling1D : public GlobalPooling1D {
 public:
  explicit GlobalAveragePooling1D(GlobalPooling1DOptions options = {})
      : GlobalPooling1D(std::move(options), "global_average_pooling1d") {}
  std::string class_name() const override { return "GlobalAveragePooling1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;

 private:
  Tensor weight_;  // (batch, steps): m / sum(m), or 1 / steps without a mask
};

// Factories that read like Keras: layers::Conv1D(32, 7, {.activation = "relu"}), layers::MaxPooling1D(5).
namespace layers {
inline LayerPtr Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions o = {}) {
  return std::make_shared<seqnet::Conv1D>(filters, kernel_size, std::move(o));
}
inline LayerPtr MaxPooling1D(int64_t pool_size = 2, Pooling1DOptions o = {}) {
  return std::make_shared<seqnet::MaxPooling1D>(pool_size, std::move(o));
}
inline LayerPtr AveragePooling1D(int64_t pool_size = 2, Pooling1DOptions o = {}) {
  return std::make_shared<seqnet::AveragePooling1D>(pool_size, std::move(o));
}
inline LayerPtr GlobalMaxPooling1D(GlobalPooling1DOptions o = {}) {
  return std::make_shared<seqnet::GlobalMaxPooling1D>(std::move(o));
}
inline LayerPtr GlobalAveragePooling1D(GlobalPooling1DOptions o = {}) {
  return std::make_shared<seqnet::GlobalAveragePooling1D>(std::move(o));
}
}  // namespace layers

}  // namespace seqnet
