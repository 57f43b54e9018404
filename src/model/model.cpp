// The model graph: building, forward, backward, and the Sequential container.
#include "seqnet/model.h"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/parallel.h"
#include "seqnet/layers/core.h"

namespace seqnet {

namespace {
Rng& global_rng_ref() {
  static Rng rng(1337);
  return rng;
}
}  // namespace

void set_random_seed(uint64_t seed) { global_rng_ref() = Rng(seed); }
Rng& global_rng() { return global_rng_ref(); }

const Shape& SymbolicTensor::shape() const {
  if (!node_) throw Error("use of an empty symbolic tensor");
  return node_->shape;
}

SymbolicTensor Input(Shape shape, InputOptions options) {
  auto node = std::make_shared<GraphNode>();
  node->shape.push_back(options.batch_size ? *options.batch_size : -1);
  node->shape.insert(node->shape.end(), shape.begin(), shape.end());
  node->dtype = options.dtype;
  node->input_name = options.name.empty() ? unique_layer_name("input_layer") : options.name;
  return SymbolicTensor(node);
}

SymbolicTensor apply_layer(const LayerPtr& layer, const SymbolicTensor& x) {
  if (!layer) throw Error("apply_layer: null layer");
  auto node = std::make_shared<GraphNode>();
  node->layer = layer;
  node->input = x.node();
  node->shape = layer->build(x.shape(), global_rng());
  return SymbolicTensor(node);
}

OptimizerPtr OptimizerRef::resolve() const { return ptr_ ? ptr_ : optimizers::get(name_); }
LossPtr LossRef::resolve() const {
  if (ptr_) return ptr_;
  if (name_.empty()) throw Error("compile: no loss given");
  return losses::get(name_);
}

// ---- Model ----
Model::Model(std::string name) : name_(std::move(name)) { set_seed(global_rng().next_u64()); }

Model::Model(const SymbolicTensor& inputs, const SymbolicTensor& outputs, std::string name)
    : Model(name.empty() ? unique_layer_name("functional") : std::move(name)) {
  set_graph(inputs, outputs);
}

Model::~Model() = default;

void Model::set_graph(const SymbolicTensor& inputs, const SymbolicTensor& outputs) {
  if (!inputs.node() || inputs.node()->layer) throw Error("Model: `inputs` must come from Input()");
  std::vector<std::shared_ptr<GraphNode>> chain;
  for (auto n = outputs.node(); n; n = n->input) {
    chain.push_back(n);
    if (n == inputs.node()) break;
  }
  if (chain.empty() || chain.back() != inputs.node())
    throw Error("Model: the outputs are not computed from the given inputs");
  nodes_.clear();
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    Step s;
    s.layer = (*it)->layer;
    s.input = nodes_.empty() ? -1 : int(nodes_.size()) - 1;
    s.shape = (*it)->shape;
    nodes_.push_back(std::move(s));
  }
  input_name_ = inputs.node()->input_name;
  input_dtype_ = inputs.node()->dtype;
}

std::vector<LayerPtr> Model::layers() const {
  std::vector<LayerPtr> out;
  for (const auto& s : nodes_)
    if (s.layer) out.push_back(s.layer);
  return out;
}

LayerPtr Model::get_layer(const std::string& layer_name) const {
  for (const auto& s : nodes_)
    if (s.layer && s.layer->name() == layer_name) return s.layer;
  throw Error(fmt::format("model '{}' has no layer named '{}'", name_, layer_name));
}

const Shape& Model::input_shape() const {
  if (nodes_.empty()) throw Error(fmt::format("model '{}' is not built yet: give an input shape or call it on data", name_));
  return nodes_.front().shape;
}
const Shape& Model::output_shape() const {
  if (nodes_.empty()) throw Error(fmt::format("model '{}' is not built yet: give an input shape or call it on data", name_));
  return nodes_.back().shape;
}
DType Model::input_dtype() const { return input_dtype_; }

Tensor Model::forward(const Tensor& x, ForwardOptions options) {
  const bool training = options.training, keep_for_backward = options.keep_for_backward, input_grad = options.input_grad;
  if (nodes_.empty()) throw Error(fmt::format("model '{}' is not built", name_));
  if (!shape_compatible(input_shape(), x.shape()))
    throw Error(fmt::format("model '{}': expected input shape {}, got {}", name_, shape_to_string(input_shape()),
                            x.shape_string()));
  if (nodes_.size() == 1) return x;
  const Tensor* input = &x;  // the batch itself feeds the first layer: no copy
  Tensor value;
  std::optional<Tensor> mask;
  // No layer before the first with trainable weights needs its input gradient (the data has none, and a
  // Normalization or Masking layer first passes it on to nothing).
  bool grad_wanted = input_grad;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    Layer& layer = *nodes_[i].layer;
    RunContext ctx;
    ctx.training = training;
    ctx.keep_for_backward = keep_for_backward;
    ctx.input_grad = grad_wanted;
    grad_wanted = grad_wanted || (layer.trainable() && layer.count_trainable_params() > 0);
    ctx.rng = &rng_;
    ctx.mask = mask ? &*mask : nullptr;
    Tensor out = layer.call(*input, ctx);
    mask = layer.compute_mask(*input, ctx.mask);
    value = std::move(out);
    input = &value;
  }
  return value;
}

Tensor Model::backward(const Tensor& dy) { return backward_below(nodes_.size(), dy); }

Tensor Model::backward_below(size_t node, Tensor grad) {
  for (size_t i = node - 1; i >= 1 && !grad.empty(); --i) grad = nodes_[i].layer->backward(grad);
  return grad;  // empty: a layer's input had no gradient (int ids) or none was wanted (input_grad)
}

void Model::zero_grads() {
  for (Param* p : params()) {
    float* g = p->grad.data();
    // An embedding table's gradient is megabytes: two threads clear it faster than one.
    kernels::split_range(long(p->grad.size()), 1024, 4.0 * double(p->grad.size()),
                         [&](long begin, long end) { std::fill(g + begin, g + end, 0.0f); });
  }
}

std::vector<Param*> Model::params() {
  std::vector<Param*> out;
  for (auto& s : nodes_)
    if (s.layer)
      for (Param* p : s.layer->params()) out.push_back(p);
  return out;
}

std::vector<Param*> Model::trainable_params() {
  std::vector<Param*> out;
  for (auto& s : nodes_)
    if (s.layer && s.layer->trainable())
      for (Param* p : s.layer->params())
        if (p->trainable) out.push_back(p);
  return out;
}

int64_t Model::count_params() const {
  int64_t n = 0;
  for (const auto& s : nodes_)
    if (s.layer) n += s.layer->count_params();
  return n;
}

int64_t Model::count_trainable_params() const {
  int64_t n = 0;
  for (const auto& s : nodes_)
    if (s.layer) n += s.layer->count_trainable_params();
  return n;
}

// ---- Sequential ----
Sequential::Sequential(std::string name) : Model(name.empty() ? unique_layer_name("sequential") : std::move(name)) {}

Sequential::Sequential(std::vector<LayerPtr> layers, std::string name) : Sequential(std::move(name)) {
  for (auto& l : layers) add(std::move(l));
}

void Sequential::add(const SymbolicTensor& input) {
  if (!layers_.empty() || input_) throw Error(fmt::format("Sequential '{}': an Input can only come first", name_));
  if (input.node()->layer) throw Error(fmt::format("Sequential '{}': add() takes Input(), not a layer output", name_));
  input_ = input;
}

void Sequential::add(LayerPtr layer) {
  if (!layer) throw Error(fmt::format("Sequential '{}': add() got a null layer", name_));
  for (const auto& l : layers_)
    if (l->name() == layer->name())
      throw Error(fmt::format("Sequential '{}': all layers must have unique names; '{}' is already there", name_,
                              layer->name()));
  layers_.push_back(std::move(layer));
  if (!input_ && layers_.size() == 1 && layers_[0]->declared_input_shape()) {
    // Keras builds eagerly from input_shape; Embedding's input_length also fixes the shape.
    input_ = Input(*layers_[0]->declared_input_shape(),
                   {.dtype = dynamic_cast<Embedding*>(layers_[0].get()) ? DType::int32 : DType::float32,
                    .batch_size = layers_[0]->declared_batch_size()});
  }
  if (input_) {
    SymbolicTensor x = *input_;
    if (built()) {
      // Extend the existing graph by one layer.
      Step s;
      s.layer = layers_.back();
      s.input = int(nodes_.size()) - 1;
      s.shape = s.layer->build(nodes_.back().shape, global_rng());
      nodes_.push_back(std::move(s));
    } else {
      for (const auto& l : layers_) x = apply_layer(l, x);
      set_graph(*input_, x);
    }
  }
}

void Sequential::build(Shape input_shape, DType dtype) {
  if (built()) {
    Shape full{-1};
    full.insert(full.end(), input_shape.begin(), input_shape.end());
    if (!shape_compatible(Model::input_shape(), full))
      throw Error(fmt::format("Sequential '{}' is built for {} and cannot be rebuilt for {}", name_,
                              shape_to_string(Model::input_shape()), shape_to_string(full)));
    return;
  }
  if (layers_.empty()) throw Error(fmt::format("Sequential '{}' has no layers to build", name_));
  input_ = Input(std::move(input_shape), {.dtype = dtype});
  SymbolicTensor x = *input_;
  for (const auto& l : layers_) x = apply_layer(l, x);
  set_graph(*input_, x);
}

void ensure_built(Model& model, const Tensor& x) {
  if (model.built()) return;
  auto* seq = dynamic_cast<Sequential*>(&model);
  if (!seq) throw Error(fmt::format("model '{}' is not built", model.name()));
  if (x.rank() < 1) throw Error("model input must have a batch axis, got a scalar");
  Shape s(x.shape().begin() + 1, x.shape().end());
  seq->build(s, x.dtype());
}

}  // namespace seqnet
