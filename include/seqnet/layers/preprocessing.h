// Preprocessing that travels with the model: Normalization (Keras 3's keras.layers.Normalization).
#pragma once
#include <optional>
#include <vector>

#include "seqnet/layer.h"

namespace seqnet {

struct NormalizationOptions {
  // Fixed statistics, one per feature (or one for all): the layer then has no weights and the values live
  // in its config, as in Keras. Without them the layer owns the non-trainable weights mean, variance
  // (float32, one per feature) and count (int32, kept for Keras's layout), set by adapt() or a loaded file.
  std::optional<std::vector<float>> mean, variance;
  bool invert = false;  // mean + x * sqrt(variance): from normalized values back to units
  std::string name;
};

// (x - mean) / max(sqrt(variance), 1e-7) over the last axis (Keras's axis=-1), or its inverse.
class Normalization : public Layer {
 public:
  explicit Normalization(NormalizationOptions options = {});
  std::string class_name() const override { return "Normalization"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;  // dy / scale (or dy * scale): the statistics are not trained
  Json get_config() const override;
  // Keras's adapt for an array: mean and population variance (ddof = 0) of every feature over all the other
  // axes, computed in double. Builds the layer for data's shape when it is not built yet.
  void adapt(const Tensor& data);
  // The statistics in use (from the config or the weights), one per feature.
  std::vector<float> mean() const;
  std::vector<float> variance() const;
  bool invert() const { return options_.invert; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  // The mean (statistic 0) or variance (1) in use, (features).
  Tensor statistic(int which) const;
  NormalizationOptions options_;
  int64_t features_ = 0;
  Tensor variance_;  // of the last forward, for backward
};

namespace layers {
inline LayerPtr Normalization(NormalizationOptions o = {}) { return std::make_shared<seqnet::Normalization>(std::move(o)); }
}  // namespace layers

}  // namespace seqnet
