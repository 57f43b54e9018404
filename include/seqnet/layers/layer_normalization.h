// LayerNormalization (Keras 3's keras.layers.LayerNormalization) over the last axis: each sample's features
// (each step's, for sequences) normalized by their own mean and variance,
//
//   y = (x - mean) * rsqrt(var + epsilon) * gamma + beta,   var = mean((x - mean)^2)  (population variance)
//
// with weights gamma (ones) and beta (zeros) of shape (features,), in that order; center = false leaves beta
// out, scale = false gamma. Only axis -1 is supported (another axis is an error naming the key). The mask passes
// through unchanged, and does not enter the statistics (Keras 3 ignores it too).
#pragma once
#include <memory>

#include "seqnet/layer.h"

namespace seqnet {

struct LayerNormalizationOptions {
  int axis = -1;                 // only -1, the last axis
  double epsilon = 1e-3;         // Keras 3's default (not keras.backend.epsilon())
  bool center = true;            // beta
  bool scale = true;             // gamma
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  std::string name;
  // How the config writes the axis: -1 (as given, and as Keras writes an unbuilt layer) or [-1] (as Keras writes
  // a built one, which turns axis into a list). The reader keeps the form it read.
  bool axis_as_list = false;
};

class LayerNormalization : public Layer {
 public:
  explicit LayerNormalization(LayerNormalizationOptions options = {});
  std::string class_name() const override { return "LayerNormalization"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  Json get_config() const override;
  const LayerNormalizationOptions& options() const { return options_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  LayerNormalizationOptions options_;
  int64_t features_ = 0;
  Param* gamma_ = nullptr;
  Param* beta_ = nullptr;
  // The last forward that keeps for backward: x normalized ((x - mean) * inv, before gamma and beta), and inv =
  // rsqrt(var + epsilon) per row.
  Tensor xhat_;
  Tensor inv_;
  bool kept_ = false;
};

namespace layers {
inline LayerPtr LayerNormalization(LayerNormalizationOptions o = {}) {
  return std::make_shared<seqnet::LayerNormalization>(std::move(o));
}
}  // namespace layers

}  // namespace seqnet
