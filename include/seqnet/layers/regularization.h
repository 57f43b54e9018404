// Noise layers active in training only (Keras 3's keras/src/layers/regularization): SpatialDropout1D and
// GaussianNoise. In inference (predict, evaluate) both return their input unchanged. Their randomness comes
// from RunContext::rng (the model's seeded generator), as Dropout's does: `seed` is kept in the config for
// Keras but does not pick the noise.
//
// Masks: both support masking in Keras 3 and pass the mask they receive on unchanged.
#pragma once
#include <memory>
#include <optional>

#include "seqnet/layer.h"

namespace seqnet {

// Dropout of whole feature channels of (batch, steps, channels) inputs: in training, one draw per (sample,
// channel) zeroes that channel at every step with probability `rate` and scales the kept channels by
// 1/(1 - rate) (Keras's noise_shape (batch, 1, channels)). rate = 1 zeroes everything, as Keras does.
class SpatialDropout1D : public Layer {
 public:
  explicit SpatialDropout1D(double rate, std::string name = "", std::optional<int64_t> seed = std::nullopt);
  std::string class_name() const override { return "SpatialDropout1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  Json get_config() const override;
  double rate() const { return rate_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  double rate_;
  std::optional<int64_t> seed_;
  Tensor keep_;  // (batch, channels): 0 or 1/(1 - rate) of the last training forward; empty when inactive
};

// Additive zero-mean Gaussian noise of standard deviation `stddev` in training (any input shape). Keras 3
// refuses a stddev outside [0, 1]; so does seqnet. The gradient is the identity.
class GaussianNoise : public Layer {
 public:
  explicit GaussianNoise(double stddev, std::string name = "", std::optional<int64_t> seed = std::nullopt);
  std::string class_name() const override { return "GaussianNoise"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  Json get_config() const override;
  double stddev() const { return stddev_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override { return input_shape; }

 private:
  double stddev_;
  std::optional<int64_t> seed_;
};

namespace layers {
inline LayerPtr SpatialDropout1D(double rate, std::string name = "", std::optional<int64_t> seed = std::nullopt) {
  return std::make_shared<seqnet::SpatialDropout1D>(rate, std::move(name), seed);
}
inline LayerPtr GaussianNoise(double stddev, std::string name = "", std::optional<int64_t> seed = std::nullopt) {
  return std::make_shared<seqnet::GaussianNoise>(stddev, std::move(name), seed);
}
}  // namespace layers

}  // namespace seqnet
