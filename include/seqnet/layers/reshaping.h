// Layers that move values without arithmetic (Keras 3's keras.layers reshaping family): Permute, and the
// time-axis layers Cropping1D, ZeroPadding1D and UpSampling1D for (batch, steps, features) inputs:
//
//   auto x = apply_layer(layers::Permute({2, 1}), in);         // (None, 10, 64) -> (None, 64, 10)
//   x = apply_layer(layers::ZeroPadding1D({2, 0}), x);          // two zero steps in front
//
// Masks: none of these supports masking in Keras 3 (no compute_mask, supports_masking false), so each drops
// the mask it receives (Keras warns that the mask is destroyed); the layers after them see none.
#pragma once
#include <array>
#include <memory>

#include "seqnet/layer.h"

namespace seqnet {

// Permutes the axes after the batch axis: output axis i + 1 is input axis dims[i] (1-based, as Keras counts).
class Permute : public Layer {
 public:
  explicit Permute(std::vector<int64_t> dims, std::string name = "");
  std::string class_name() const override { return "Permute"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;
  const std::vector<int64_t>& dims() const { return dims_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  std::vector<int64_t> dims_;
  Shape last_input_shape_;
};

// (batch, steps, features) -> (batch, steps - begin - end, features): drops `cropping[0]` steps at the start
// and `cropping[1]` at the end.
class Cropping1D : public Layer {
 public:
  explicit Cropping1D(std::array<int64_t, 2> cropping = {1, 1}, std::string name = "");
  std::string class_name() const override { return "Cropping1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;
  const std::array<int64_t, 2>& cropping() const { return cropping_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  void check_length(int64_t steps) const;
  std::array<int64_t, 2> cropping_;
  int64_t last_steps_ = -1;  // the input length of the last forward
};

// (batch, steps, features) -> (batch, padding[0] + steps + padding[1], features), the new steps zero.
class ZeroPadding1D : public Layer {
 public:
  explicit ZeroPadding1D(std::array<int64_t, 2> padding = {1, 1}, std::string name = "");
  std::string class_name() const override { return "ZeroPadding1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;
  const std::array<int64_t, 2>& padding() const { return padding_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  std::array<int64_t, 2> padding_;
};

// (batch, steps, features) -> (batch, size * steps, features): each step repeated `size` times in a row.
class UpSampling1D : public Layer {
 public:
  explicit UpSampling1D(int64_t size = 2, std::string name = "");
  std::string class_name() const override { return "UpSampling1D"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor&, const Tensor*) const override { return std::nullopt; }
  Json get_config() const override;
  int64_t size() const { return size_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  int64_t size_;
};

namespace layers {
inline LayerPtr Permute(std::vector<int64_t> dims, std::string name = "") {
  return std::make_shared<seqnet::Permute>(std::move(dims), std::move(name));
}
// Keras's int form (the same count at both ends) and its pair form.
inline LayerPtr Cropping1D(int64_t both = 1, std::string name = "") {
  return std::make_shared<seqnet::Cropping1D>(std::array<int64_t, 2>{both, both}, std::move(name));
}
inline LayerPtr Cropping1D(std::array<int64_t, 2> cropping, std::string name = "") {
  return std::make_shared<seqnet::Cropping1D>(cropping, std::move(name));
}
inline LayerPtr ZeroPadding1D(int64_t both = 1, std::string name = "") {
  return std::make_shared<seqnet::ZeroPadding1D>(std::array<int64_t, 2>{both, both}, std::move(name));
}
inline LayerPtr ZeroPadding1D(std::array<int64_t, 2> padding, std::string name = "") {
  return std::make_shared<seqnet::ZeroPadding1D>(padding, std::move(name));
}
inline LayerPtr UpSampling1D(int64_t size = 2, std::string name = "") {
  return std::make_shared<seqnet::UpSampling1D>(size, std::move(name));
}
}  // namespace layers

}  // namespace seqnet
