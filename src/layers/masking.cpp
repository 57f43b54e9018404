// Masking (Keras 3's keras.layers.Masking): zeroes the steps whose features all equal mask_value and
// passes on the mask any(x != mask_value, axis=-1).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/layer_registry.h"
#include "seqnet/layers/recurrent.h"

namespace seqnet {

namespace {
// 1 per step (a row of the last axis) holding any value other than `v`, else 0.
Tensor steps_kept(const Tensor& x, float v) {
  const int64_t f = x.dim(-1), rows = f ? x.size() / f : 0;
  Shape s(x.shape().begin(), x.shape().end() - 1);
  Tensor keep(s);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * f;
    bool any = false;
    for (int64_t j = 0; j < f && !any; ++j) any = xr[j] != v;
    keep[r] = any ? 1.0f : 0.0f;
  }
  return keep;
}
}  // namespace

Masking::Masking(float mask_value, std::string name) : Layer(std::move(name), "masking"), mask_value_(mask_value) {}

Shape Masking::build_impl(const Shape& in, Rng&) {
  if (in.size() < 2) fail("expects input of rank >= 2 (batch, ..., features), got " + shape_to_string(in));
  return in;
}

Tensor Masking::forward(const Tensor& x, RunContext&) {
  if (!x.is_float()) fail("expects float input, got int32 (use Embedding(mask_zero=true) for ids)");
  keep_ = steps_kept(x, mask_value_);
  Tensor y = x;
  const int64_t f = x.dim(-1);
  for (int64_t r = 0; r < keep_.size(); ++r)
    if (keep_[r] == 0.0f) std::fill_n(y.data() + r * f, f, 0.0f);
  return y;
}

Tensor Masking::backward(const Tensor& dy) {
  if (keep_.empty() && dy.size()) fail("backward called before forward");
  Tensor dx = dy;
  const int64_t f = dy.dim(-1);
  for (int64_t r = 0; r < keep_.size(); ++r)
    if (keep_[r] == 0.0f) std::fill_n(dx.data() + r * f, f, 0.0f);
  return dx;
}

std::optional<Tensor> Masking::compute_mask(const Tensor& input, const Tensor*) const {
  return steps_kept(input.as_float(), mask_value_);
}

Json Masking::get_config() const {
  Json c = Layer::get_config();
  c["mask_value"] = mask_value_;
  return c;
}

namespace config {
LayerPtr masking_from_config(const Json& c) {
  auto it = c.find("mask_value");
  float v = 0.0f;
  if (it != c.end() && !it->is_null()) {
    if (!it->is_number())
      throw Error("layer '" + c.value("name", std::string("?")) + "' (Masking): mask_value must be a number, got " +
                  it->dump() + " (tensor mask values are not supported)");
    v = it->get<float>();
  }
  auto l = std::make_shared<Masking>(v);
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
