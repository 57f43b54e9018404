#include "seqnet/layer.h"

#include <fmt/format.h>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

namespace seqnet {

namespace {
std::mutex g_names_mutex;
std::map<std::string, int>& name_counters() {
  static std::map<std::string, int> counters;
  return counters;
}
}  // namespace

std::string unique_layer_name(const std::string& base) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  int& n = name_counters()[base];
  std::string name = n == 0 ? base : base + "_" + std::to_string(n);
  ++n;
  return name;
}

void clear_session() {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  name_counters().clear();
}

bool shape_compatible(const Shape& expected, const Shape& got) {
  if (expected.size() != got.size()) return false;
  for (size_t axis = 0; axis < expected.size(); ++axis)
    if (expected[axis] >= 0 && got[axis] >= 0 && expected[axis] != got[axis]) return false;
  return true;
}

Layer::Layer(std::string name, std::string class_snake_name)
    : name_(name.empty() ? unique_layer_name(class_snake_name) : std::move(name)) {}

Layer::~Layer() = default;

void Layer::fail(const std::string& what) const { throw Error(where() + ": " + what); }

Shape Layer::build(const Shape& input_shape, Rng& rng) { return build_multi(std::vector<Shape>{input_shape}, rng).at(0); }

std::vector<Shape> Layer::build_multi(const std::vector<Shape>& input_shapes, Rng& rng) {
  if (built_) {
    bool same = input_shapes.size() == input_shapes_.size();
    for (size_t input = 0; same && input < input_shapes.size(); ++input)
      same = shape_compatible(input_shapes_[input], input_shapes[input]);
    if (!same)
      fail(fmt::format("was built for input shape {} and is now called on {}", shapes_to_string(input_shapes_),
                       shapes_to_string(input_shapes)));
    return output_shapes_;
  }
  if (input_shapes.empty()) fail("called on no input");
  input_shapes_ = input_shapes;
  output_shapes_ = build_multi_impl(input_shapes, rng);
  built_ = true;
  return output_shapes_;
}

std::vector<Shape> Layer::build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng) {
  if (input_shapes.size() != 1)
    fail(fmt::format("takes one input, got {}: {}", input_shapes.size(), shapes_to_string(input_shapes)));
  return {build_impl(input_shapes[0], rng)};
}

// A layer of several outputs called this way gives its first (a recurrent layer's output; its states stay
// readable from the layer).
Tensor Layer::call(const Tensor& x, RunContext& ctx) {
  prepare_call(x.shape(), ctx);
  return forward(x, ctx);
}

Tensor Layer::call(Tensor&& x, RunContext& ctx) {
  prepare_call(x.shape(), ctx);
  return forward_consuming(std::move(x), ctx);
}

void Layer::prepare_call(const Shape& input_shape, const RunContext& ctx) {
  if (!built_) fail("called before it was built");
  if (input_shapes_.size() != 1) fail(fmt::format("takes {} inputs, called on one", input_shapes_.size()));
  if (!shape_compatible(input_shapes_[0], input_shape))
    fail(fmt::format("expected input shape {}, got {}", shape_to_string(input_shapes_[0]), shape_to_string(input_shape)));
  input_grad_wanted_ = ctx.input_grad;
}

std::vector<Tensor> Layer::call_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) {
  if (!built_) fail("called before it was built");
  if (inputs.size() != input_shapes_.size()) fail(fmt::format("takes {} inputs, got {}", input_shapes_.size(), inputs.size()));
  for (size_t input = 0; input < inputs.size(); ++input)
    if (!shape_compatible(input_shapes_[input], inputs[input]->shape()))
      fail(fmt::format("expected input {} of shape {}, got {}", input, shape_to_string(input_shapes_[input]),
                       inputs[input]->shape_string()));
  input_grad_wanted_ = ctx.input_grad;
  return forward_multi(inputs, ctx);
}

std::vector<Tensor> Layer::forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) {
  return {forward(*inputs.at(0), ctx)};
}

std::vector<Tensor> Layer::backward_multi(const std::vector<Tensor>& output_grads) {
  if (output_grads.size() != 1) fail(fmt::format("backward got {} gradients for one output", output_grads.size()));
  if (output_grads[0].empty()) return {Tensor()};
  return {backward(output_grads[0])};
}

std::optional<Tensor> Layer::compute_mask(const Tensor&, const Tensor* input_mask) const {
  if (!input_mask) return std::nullopt;
  return *input_mask;
}

std::vector<std::optional<Tensor>> Layer::compute_masks(const std::vector<const Tensor*>& inputs,
                                                        const std::vector<const Tensor*>& input_masks) const {
  return {compute_mask(*inputs.at(0), input_masks.empty() ? nullptr : input_masks[0])};
}

// ---- weights, and sharing them between the calls of a layer ----
namespace {
thread_local WeightSharing* t_sharing = nullptr;
}

WeightSharing::WeightSharing(const LayerPtr& owner) : owner_(owner), weights_(owner->params()), outer_(t_sharing) {
  t_sharing = this;
}
WeightSharing::~WeightSharing() { t_sharing = outer_; }

void WeightSharing::check_complete(const Layer& twin) const {
  if (next_ != weights_.size())
    throw Error(fmt::format("{}: a second call made {} of the layer's {} weights; the calls cannot share them",
                            twin.where(), next_, weights_.size()));
}

std::shared_ptr<Param> Layer::adopt_weight(const std::string& weight_name, const Shape& shape) {
  WeightSharing& s = *t_sharing;
  if (s.next_ >= s.weights_.size())
    fail(fmt::format("a second call needs weight '{}' {}, which the first call did not make", weight_name,
                     shape_to_string(shape)));
  Param* p = s.weights_[s.next_++];
  if (p->name != weight_name || p->value.shape() != shape)
    fail(fmt::format("a second call needs weight '{}' {}, but the first call made '{}' {} (called on inputs of "
                     "another shape?)",
                     weight_name, shape_to_string(shape), p->name, p->value.shape_string()));
  return std::shared_ptr<Param>(s.owner_, p);  // keeps the layer that owns the weight alive
}

Param& Layer::add_weight(std::string weight_name, Shape shape, const Initializer& init, Rng& rng, bool trainable) {
  if (t_sharing) {
    params_.push_back(adopt_weight(weight_name, shape));
    return *params_.back();
  }
  auto p = std::make_shared<Param>();
  p->name = std::move(weight_name);
  p->value = initialize(init, shape, rng);
  p->grad = Tensor(shape);
  p->trainable = trainable;
  params_.push_back(std::move(p));
  return *params_.back();
}

Param& Layer::add_weight(std::string weight_name, Tensor initial_value, bool trainable) {
  if (t_sharing) {
    params_.push_back(adopt_weight(weight_name, initial_value.shape()));
    return *params_.back();
  }
  auto p = std::make_shared<Param>();
  p->name = std::move(weight_name);
  p->grad = Tensor(initial_value.shape());
  p->value = std::move(initial_value);
  p->trainable = trainable;
  params_.push_back(std::move(p));
  return *params_.back();
}

void Layer::collect_params(std::vector<Param*>& out) {
  for (auto& p : params_) out.push_back(p.get());
}

std::vector<Param*> Layer::params() {
  std::vector<Param*> out;
  collect_params(out);
  return out;
}

std::vector<const Param*> Layer::params() const {
  // collect_params only reads the layer (its contract), so calling it on a const layer is safe.
  std::vector<Param*> ps;
  const_cast<Layer*>(this)->collect_params(ps);
  return std::vector<const Param*>(ps.begin(), ps.end());
}

Param* Layer::find_param(const std::string& weight_name) {
  for (Param* p : params())
    if (p->name == weight_name) return p;
  return nullptr;
}

int64_t Layer::count_params() const {
  int64_t n = 0;
  for (const Param* p : params()) n += p->value.size();
  return n;
}

void Layer::collect_trainable_params(std::vector<Param*>& out) {
  if (!trainable_) return;
  for (Param* p : params())
    if (p->trainable) out.push_back(p);
}

std::vector<Param*> Layer::trainable_params() {
  std::vector<Param*> out;
  collect_trainable_params(out);
  return out;
}

int64_t Layer::count_trainable_params() const {
  int64_t n = 0;
  for (const Param* p : const_cast<Layer*>(this)->trainable_params()) n += p->value.size();  // reads only
  return n;
}

void Layer::set_trainable(bool t) { trainable_ = t; }

Json Layer::get_config() const {
  Json c;
  c["name"] = name_;
  c["trainable"] = trainable_;
  c["dtype"] = "float32";
  return c;
}

}  // namespace seqnet
