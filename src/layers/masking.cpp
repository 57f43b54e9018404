// Masking (Keras 3's keras.layers.Masking): zeroes the steps whose features all equal mask_value and
// passes on the mask any(x != mask_value, axis=-1).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"
#include "seqnet/layers/recurrent.h"

namespace seqnet {

namespace {
// 1 per step (a row of the last axis) holding any value other than `v`, else 0.
Tensor steps_kept(const Tensor& x, float v) {
  Tensor keep = Tensor::uninitialized(Shape(x.shape().begin(), x.shape().end() - 1));
  backend().rows_differing_from(keep, x, v);
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
  backend().zero_rows(y, keep_);
  return y;
}

Tensor Masking::backward(const Tensor& dy) {
  if (keep_.empty() && dy.size()) fail("backward called before forward");
  Tensor dx = dy;
  backend().zero_rows(dx, keep_);
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
