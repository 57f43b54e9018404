// Dot (Keras 3's keras.layers.Dot): the batchwise dot product of two inputs along one axis of each,
//
//   auto scores = apply_layer(layers::Dot({2, 2}), {queries, keys});   // (B, Tq, d) . (B, Tk, d) -> (B, Tq, Tk)
//   auto cosine = apply_layer(layers::Dot(1, {.normalize = true}), {a, b});  // (B, d) . (B, d) -> (B, 1)
//
// Inputs of rank 2 (batch, d) or 3 (batch, n, d), in any pairing. The output's axes are the first input's axes
// without its dot axis, then the second's without its dot axis and the batch axis (Keras's batch_dot): rank 3
// with rank 3 is a batched matrix product (B, n1, n2); (B, d) with (B, d) gives (B, 1). `axes` is one axis for
// both inputs (negative counts from each input's end) or a pair; the batch axis cannot be one.
// normalize = true first L2-normalizes each input along its dot axis, x * min(rsqrt(sum x^2), 1e7) as Keras's
// ops.normalize does (epsilon = keras.backend.epsilon() = 1e-7): the output is then the cosine similarity.
// Masks: Keras 3's Dot returns no mask (compute_mask is None), whatever its inputs carry.
#pragma once
#include <array>
#include <memory>

#include "seqnet/layer.h"

namespace seqnet {

struct DotOptions {
  bool normalize = false;
  std::string name;
};

class Dot : public Layer {
 public:
  explicit Dot(int axes, DotOptions options = {});  // the same axis of both inputs (Keras's int form)
  Dot(std::array<int, 2> axes, DotOptions options = {});  // an axis of each input
  std::string class_name() const override { return "Dot"; }
  bool takes_input_list() const override { return true; }
  std::vector<Tensor> forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) override;
  std::vector<Tensor> backward_multi(const std::vector<Tensor>& output_grads) override;
  std::vector<std::optional<Tensor>> compute_masks(const std::vector<const Tensor*>& inputs,
                                                   const std::vector<const Tensor*>& input_masks) const override;
  // Dot has no single-input form.
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  Json get_config() const override;
  bool normalize() const { return options_.normalize; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  std::vector<Shape> build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng) override;

 private:
  // One input seen as (batch, free, K) or (batch, K, free): `k_last` when the dot axis is the input's last.
  struct Operand {
    int64_t batch = 0, free = 1, k = 0;
    bool k_last = true;
  };
  Operand operand(const Tensor& x, int input) const;

  std::array<int, 2> axes_;    // as given
  bool axes_pair_;             // given as a pair (the config writes [a, b]) or one int
  DotOptions options_;
  std::array<int, 2> axis_{};  // resolved at build: the dot axis of each input, >= 1
  // The last forward that keeps for backward: the operands of the product (normalized when normalize), their
  // shapes, and with normalize the scale min(rsqrt(sum x^2), 1e7) of each normalized vector.
  std::array<Tensor, 2> kept_;
  std::array<Tensor, 2> inv_norm_;
  bool kept_for_backward_ = false;
};

namespace layers {
inline LayerPtr Dot(int axes, DotOptions o = {}) { return std::make_shared<seqnet::Dot>(axes, std::move(o)); }
inline LayerPtr Dot(std::array<int, 2> axes, DotOptions o = {}) { return std::make_shared<seqnet::Dot>(axes, std::move(o)); }
}  // namespace layers

}  // namespace seqnet
