// The model graph: building, forward, backward, and the Sequential container.
#include "seqnet/model.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "seqnet/layers/conv.h"
#include "seqnet/layers/core.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/serialization.h"

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
  return node_->shapes.at(size_t(index_));
}

DType SymbolicTensor::dtype() const {
  if (!node_) throw Error("use of an empty symbolic tensor");
  return node_->layer ? DType::float32 : node_->dtype;
}

SymbolicTensor Input(Shape shape, InputOptions options) {
  auto node = std::make_shared<GraphNode>();
  Shape full{options.batch_size ? *options.batch_size : -1};
  full.insert(full.end(), shape.begin(), shape.end());
  node->shapes = {full};
  node->dtype = options.dtype;
  node->input_name = options.name.empty() ? unique_layer_name("input_layer") : options.name;
  return SymbolicTensor(node);
}

namespace {
std::vector<SymbolicTensor> call_node(const LayerPtr& layer, const std::vector<SymbolicTensor>& args, bool list,
                                      const CallOptions& options);

// A layer of the same config whose weights are `owner`'s, built for `input_shapes` (WeightSharing). A model used
// as a layer gets a twin model: the same graph over twins of its layers (a shared sub-model, Keras's siamese
// pattern), each call with activations of its own and every gradient into the one set of weights.
LayerPtr make_twin(const LayerPtr& owner, const std::vector<Shape>& input_shapes) {
  if (auto* nested = dynamic_cast<const NestedModel*>(owner.get())) {
    auto twin = std::make_shared<NestedModel>(nested->model()->twin_sharing_weights());
    twin->set_name(owner->name());
    Rng unused(0);
    twin->build_multi(input_shapes, unused);
    twin->set_trainable(owner->trainable());
    return twin;
  }
  LayerPtr twin = layer_from_config(owner->class_name(), owner->get_config());
  Rng unused(0);  // a twin makes no weights of its own: the global stream stays as if the layer were called once
  WeightSharing sharing(owner);
  twin->build_multi(input_shapes, unused);
  sharing.check_complete(*twin);
  twin->set_trainable(owner->trainable());
  return twin;
}

std::vector<SymbolicTensor> call_node(const LayerPtr& layer, const std::vector<SymbolicTensor>& args, bool list,
                                      const CallOptions& options) {
  if (!layer) throw Error("apply_layer: null layer");
  if (args.empty()) throw Error(layer->where() + ": called on no input");
  auto node = std::make_shared<GraphNode>();
  node->layer = layer;
  node->inputs = args;
  node->first_argument = args.size();
  node->argument_is_list = list;
  node->inputs.insert(node->inputs.end(), options.initial_state.begin(), options.initial_state.end());
  std::vector<Shape> shapes;
  for (const auto& t : node->inputs) {
    if (!t.node()) throw Error(layer->where() + ": called on an empty symbolic tensor");
    shapes.push_back(t.shape());
  }
  if (!options.initial_state.empty() && !dynamic_cast<RNN*>(layer.get()))
    throw Error(layer->where() + ": initial_state is an argument of recurrent layers only");
  // The layer itself runs this call when its built shapes take the call's: each axis unknown there, or the same.
  // An axis fixed there but unknown here (another sequence length) needs a twin built for it.
  bool fits = layer->built() && layer->input_shapes().size() == shapes.size();
  for (size_t i = 0; fits && i < shapes.size(); ++i) {
    const Shape& built = layer->input_shapes()[i];
    fits = built.size() == shapes[i].size();
    for (size_t a = 0; fits && a < built.size(); ++a) fits = built[a] < 0 || built[a] == shapes[i][a];
  }
  if (!layer->built()) {
    node->shapes = layer->build_multi(shapes, global_rng());
  } else if (fits) {
    node->shapes = layer->output_shapes();
  } else {
    node->twin = make_twin(layer, shapes);  // a shared layer called on other shapes (another sequence length)
    node->shapes = node->twin->output_shapes();
  }
  std::vector<SymbolicTensor> out;
  for (size_t k = 0; k < node->shapes.size(); ++k) out.emplace_back(node, int(k));
  return out;
}
}  // namespace

SymbolicTensor apply_layer(const LayerPtr& layer, const SymbolicTensor& x) {
  auto out = call_node(layer, {x}, false, {});
  if (out.size() != 1)
    throw Error(fmt::format("{} gives {} outputs: use call_layer to get them all", layer->where(), out.size()));
  return out[0];
}

SymbolicTensor apply_layer(const LayerPtr& layer, const std::vector<SymbolicTensor>& xs) {
  auto out = call_node(layer, xs, true, {});
  if (out.size() != 1)
    throw Error(fmt::format("{} gives {} outputs: use call_layer to get them all", layer->where(), out.size()));
  return out[0];
}

std::vector<SymbolicTensor> call_layer(const LayerPtr& layer, const SymbolicTensor& x, CallOptions options) {
  return call_node(layer, {x}, false, options);
}

std::vector<SymbolicTensor> call_layer(const LayerPtr& layer, const std::vector<SymbolicTensor>& xs, CallOptions options) {
  return call_node(layer, xs, true, options);
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
    : Model(std::vector<SymbolicTensor>{inputs}, std::vector<SymbolicTensor>{outputs}, std::move(name)) {}

Model::Model(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs, std::string name)
    : Model(name.empty() ? unique_layer_name("functional") : std::move(name)) {
  set_graph(inputs, outputs);
}

Model::~Model() = default;

void Model::set_graph(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs) {
  if (inputs.empty()) throw Error(fmt::format("Model '{}': no inputs given", name_));
  if (outputs.empty()) throw Error(fmt::format("Model '{}': no outputs given", name_));
  for (const auto& in : inputs)
    if (!in.node() || in.node()->layer) throw Error(fmt::format("Model '{}': `inputs` must come from Input()", name_));
  steps_.clear();
  input_steps_.clear();
  outputs_.clear();
  std::map<const GraphNode*, int> step_of;
  std::map<const Layer*, int> calls;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const GraphNode* n = inputs[i].node().get();
    if (step_of.count(n)) throw Error(fmt::format("Model '{}': input '{}' is given twice", name_, n->input_name));
    Step s;
    s.node = inputs[i].node();
    s.input_slot = int(i);
    step_of[n] = int(steps_.size());
    input_steps_.push_back(int(steps_.size()));
    steps_.push_back(std::move(s));
  }
  // Depth-first from the outputs: every call after the calls it reads (inputs in order, as Keras lists them).
  std::set<const GraphNode*> on_path;
  std::function<void(const std::shared_ptr<GraphNode>&)> visit = [&](const std::shared_ptr<GraphNode>& node) {
    if (step_of.count(node.get())) return;
    if (!node->layer)
      throw Error(fmt::format("Model '{}': the outputs depend on Input '{}', which is not among the model's inputs",
                              name_, node->input_name));
    if (!on_path.insert(node.get()).second) throw Error(fmt::format("Model '{}': the graph has a cycle", name_));
    for (const auto& t : node->inputs) visit(t.node());
    on_path.erase(node.get());
    Step s;
    s.layer = node->layer;
    s.node = node;
    for (const auto& t : node->inputs) s.inputs.push_back({step_of.at(t.node().get()), t.index()});
    s.call_index = calls[node->layer.get()]++;
    if (s.call_index == 0 && !node->twin) {
      s.runner = node->layer.get();
    } else {
      if (!node->twin) {
        std::vector<Shape> shapes;
        for (const auto& t : node->inputs) shapes.push_back(t.shape());
        node->twin = make_twin(node->layer, shapes);
      }
      s.runner = node->twin.get();
    }
    step_of[node.get()] = int(steps_.size());
    steps_.push_back(std::move(s));
  };
  for (const auto& out : outputs) {
    if (!out.node()) throw Error(fmt::format("Model '{}': an output is an empty symbolic tensor", name_));
    visit(out.node());
    outputs_.push_back({step_of.at(out.node().get()), out.index()});
  }
  order_like_keras();
  // The flat layout forward and backward work in: one slot per (call, output).
  slot_of_.assign(1, 0);
  for (const auto& st : steps_) slot_of_.push_back(slot_of_.back() + st.node->shapes.size());
  reader_count_.assign(slot_of_.back(), 0);
  for (const auto& st : steps_)
    for (const auto& t : st.inputs) ++reader_count_[slot_of_[size_t(t.step)] + size_t(t.index)];
  for (const auto& o : outputs_) ++reader_count_[slot_of_[size_t(o.step)] + size_t(o.index)];
  has_trainable_weights_.assign(steps_.size(), 0);
  for (size_t s = 0; s < steps_.size(); ++s)
    if (steps_[s].layer)
      for (const Param* p : steps_[s].runner->params()) has_trainable_weights_[s] |= p->trainable;
  find_fusable_pairs();
  // Layer names identify weights in Keras files: two layers of one name would swap weights on reload.
  std::map<std::string, const Layer*> by_name;
  for (const auto& s : steps_) {
    if (!s.layer) continue;
    auto [it, fresh] = by_name.emplace(s.layer->name(), s.layer.get());
    if (!fresh && it->second != s.layer.get())
      throw Error(fmt::format("Model '{}': all layers must have unique names; '{}' is used by two layers", name_,
                              s.layer->name()));
  }
}

// Keras 3's model.layers order (keras/src/ops/function.py, map_graph): by depth, the inputs' first, and within a
// depth by first visit in a depth-first walk from the outputs. A .keras file names each layer's weights by its
// class and its place in this order ("dense", "dense_1", ...), so reading and writing need the same order.
void Model::order_like_keras() {
  const size_t n = steps_.size();
  std::map<const Layer*, int> layer_index;  // first visit; inputs are their own operations
  std::vector<int> input_index(n, -1);
  std::vector<int> post_order;
  std::vector<char> finished(n, 0);
  int next_index = 0;
  std::function<void(int)> walk = [&](int s) {
    if (finished[size_t(s)]) return;
    const Step& st = steps_[size_t(s)];
    if (st.layer) {
      if (!layer_index.count(st.layer.get())) layer_index[st.layer.get()] = next_index++;
    } else if (input_index[size_t(s)] < 0) {
      input_index[size_t(s)] = next_index++;
    }
    for (const auto& t : st.inputs) walk(t.step);
    finished[size_t(s)] = 1;
    post_order.push_back(s);
  };
  for (const auto& o : outputs_) walk(o.step);
  std::vector<int> node_depth(n, 0);
  std::map<const Layer*, int> layer_depth;
  std::vector<int> input_depth(n, 0);
  for (auto it = post_order.rbegin(); it != post_order.rend(); ++it) {
    const Step& st = steps_[size_t(*it)];
    int depth = node_depth[size_t(*it)];
    if (st.layer) {
      depth = std::max(depth, layer_depth[st.layer.get()]);
      layer_depth[st.layer.get()] = depth;
    } else {
      input_depth[size_t(*it)] = depth;
    }
    node_depth[size_t(*it)] = depth;
    for (const auto& t : st.inputs) node_depth[size_t(t.step)] = std::max(node_depth[size_t(t.step)], depth + 1);
  }
  struct Entry {
    int depth, index;
    LayerPtr layer;
    int step;  // the layer's first call, or the input
  };
  std::vector<Entry> entries;
  for (const auto& [layer, index] : layer_index)
    for (size_t s = 0; s < n; ++s)
      if (steps_[s].layer.get() == layer) {
        entries.push_back({layer_depth[layer], index, steps_[s].layer, int(s)});
        break;
      }
  for (int s : input_steps_) entries.push_back({input_depth[size_t(s)], input_index[size_t(s)], nullptr, s});
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.depth != b.depth ? a.depth > b.depth : a.index < b.index;
  });
  layer_order_.clear();
  keras_steps_.clear();
  for (const auto& e : entries) {
    if (e.layer) layer_order_.push_back(e.layer);
    keras_steps_.push_back(e.step);
  }
}

std::vector<LayerPtr> Model::layers() const { return layer_order_; }

std::shared_ptr<Model> Model::twin_sharing_weights() const {
  if (!built()) throw Error(fmt::format("model '{}': a twin needs a built model", name_));
  // The twin draws nothing from the global stream (its weights are this model's): the stream stays as it was.
  const Rng saved = global_rng();
  std::map<const GraphNode*, std::vector<SymbolicTensor>> made;  // this model's node -> the twin's outputs
  std::vector<SymbolicTensor> inputs(input_steps_.size());
  for (const Step& s : steps_) {
    if (!s.layer) {
      const Shape& full = s.node->shapes[0];
      InputOptions o{.dtype = s.node->dtype, .name = s.node->input_name};
      if (full[0] >= 0) o.batch_size = full[0];
      SymbolicTensor t = Input(Shape(full.begin() + 1, full.end()), o);
      made[s.node.get()] = {t};
      inputs[size_t(s.input_slot)] = t;
      continue;
    }
    std::vector<SymbolicTensor> args;
    std::vector<Shape> shapes;
    for (const auto& t : s.node->inputs) {
      args.push_back(made.at(t.node().get()).at(size_t(t.index())));
      shapes.push_back(args.back().shape());
    }
    CallOptions call;
    call.initial_state.assign(args.begin() + std::ptrdiff_t(s.node->first_argument), args.end());
    args.resize(s.node->first_argument);
    made[s.node.get()] = call_node(make_twin(s.layer, shapes), args, s.node->argument_is_list, call);
  }
  std::vector<SymbolicTensor> outputs;
  for (const TensorRef& o : outputs_) outputs.push_back(made.at(steps_[size_t(o.step)].node.get()).at(size_t(o.index)));
  auto twin = std::make_shared<Model>(inputs, outputs, name_);
  global_rng() = saved;
  return twin;
}

std::vector<std::pair<std::string, LayerPtr>> Model::layers_with_inputs() const {
  std::vector<std::pair<std::string, LayerPtr>> out;
  for (int s : keras_steps_) {
    const Step& step = steps_[size_t(s)];
    if (step.layer) out.emplace_back(step.layer->name(), step.layer);
    else out.emplace_back(step.node->input_name, nullptr);
  }
  return out;
}

LayerPtr Model::get_layer(const std::string& layer_name) const {
  for (const auto& s : steps_)
    if (s.layer && s.layer->name() == layer_name) return s.layer;
  throw Error(fmt::format("model '{}' has no layer named '{}'", name_, layer_name));
}

namespace {
[[noreturn]] void not_built(const std::string& name) {
  throw Error(fmt::format("model '{}' is not built yet: give an input shape or call it on data", name));
}
}  // namespace

const Shape& Model::input_shape(size_t i) const {
  if (steps_.empty()) not_built(name_);
  if (i >= input_steps_.size()) throw Error(fmt::format("model '{}' has {} inputs, not {}", name_, input_steps_.size(), i + 1));
  return steps_[size_t(input_steps_[i])].node->shapes[0];
}
const Shape& Model::output_shape(size_t i) const {
  if (steps_.empty()) not_built(name_);
  if (i >= outputs_.size()) throw Error(fmt::format("model '{}' has {} outputs, not {}", name_, outputs_.size(), i + 1));
  return shape_of(outputs_[i]);
}
DType Model::input_dtype(size_t i) const {
  input_shape(i);
  return steps_[size_t(input_steps_[i])].node->dtype;
}

std::vector<std::string> Model::input_names() const {
  std::vector<std::string> out;
  for (int s : input_steps_) out.push_back(steps_[size_t(s)].node->input_name);
  return out;
}

std::vector<std::string> Model::output_names() const {
  std::vector<std::string> out;
  for (const auto& o : outputs_) {
    const Step& s = steps_[size_t(o.step)];
    out.push_back(s.layer ? s.layer->name() : s.node->input_name);
  }
  return out;
}

Tensor Model::forward(const Tensor& x, ForwardOptions options) {
  if (steps_.empty()) throw Error(fmt::format("model '{}' is not built", name_));
  if (input_steps_.size() != 1 || outputs_.size() != 1)
    throw Error(fmt::format("model '{}' has {} inputs and {} outputs: call forward with a list of inputs", name_,
                            input_steps_.size(), outputs_.size()));
  return std::move(forward_inputs({&x}, options)[0]);
}

std::vector<Tensor> Model::forward(const std::vector<Tensor>& xs, ForwardOptions options) {
  std::vector<const Tensor*> ptrs;
  for (const auto& x : xs) ptrs.push_back(&x);
  return forward_inputs(ptrs, options);
}

void Model::find_fusable_pairs() {
  embedding_of_.assign(steps_.size(), -1);
  passes_ids_.assign(steps_.size(), 0);
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& conv = steps_[s];
    // A Conv1D, or a recurrent layer with one output (no return_state), reading the Embedding's rows itself.
    if (!conv.layer || conv.runner != conv.layer.get() || conv.inputs.size() != 1 || conv.node->argument_is_list ||
        !(dynamic_cast<Conv1D*>(conv.runner) || (dynamic_cast<RNN*>(conv.runner) && conv.node->shapes.size() == 1)))
      continue;
    const TensorRef from = conv.inputs[0];
    const Step& emb = steps_[size_t(from.step)];
    auto* embedding = dynamic_cast<Embedding*>(emb.runner);
    // The Embedding's output read by this call alone (no other layer, not a model output), no mask to pass on,
    // and ids straight from a model input (so that they live through the whole forward).
    if (!embedding || emb.runner != emb.layer.get() || embedding->mask_zero() || emb.inputs.size() != 1 ||
        steps_[size_t(emb.inputs[0].step)].layer || reader_count_[slot_of_[size_t(from.step)]] != 1)
      continue;
    embedding_of_[s] = from.step;
    passes_ids_[size_t(from.step)] = 1;
  }
}

std::vector<Tensor> Model::forward_inputs(const std::vector<const Tensor*>& xs, ForwardOptions options, Rng* rng) {
  if (steps_.empty()) throw Error(fmt::format("model '{}' is not built", name_));
  if (xs.size() != input_steps_.size())
    throw Error(fmt::format("model '{}' takes {} inputs ({}), got {}", name_, input_steps_.size(),
                            fmt::join(input_names(), ", "), xs.size()));
  for (size_t i = 0; i < xs.size(); ++i)
    if (!shape_compatible(input_shape(i), xs[i]->shape()))
      throw Error(fmt::format("model '{}': expected input {}shape {}, got {}", name_,
                              xs.size() > 1 ? "'" + input_names()[i] + "' of " : std::string(),
                              shape_to_string(input_shape(i)), xs[i]->shape_string()));
  // One slot per (call, output), in flat arrays kept between calls: no allocation per step beyond the layers' own.
  Scratch& w = scratch_;
  const size_t n = steps_.size(), slots = slot_of_.back();
  w.readers.assign(reader_count_.begin(), reader_count_.end());  // each value is dropped after its last reader
  w.owned.resize(slots);
  w.value.assign(slots, nullptr);
  w.masks.resize(slots);
  for (auto& m : w.masks) m.reset();
  // Whether dLoss/d(outputs of a step) is wanted: some trainable layer at or before it, or the caller asked for
  // the input gradient. The layers before the first trainable one skip their input gradient.
  w.grad_flows.assign(n, 0);
  for (size_t s = 0; s < n; ++s) {
    Step& st = steps_[s];
    const size_t slot = slot_of_[s];
    if (!st.layer) {
      w.value[slot] = xs[size_t(st.input_slot)];
      w.grad_flows[s] = options.input_grad;
      continue;
    }
    w.ins.clear();
    w.in_masks.clear();
    bool wants = false;
    for (const auto& t : st.inputs) {
      const size_t from = slot_of_[size_t(t.step)] + size_t(t.index);
      w.ins.push_back(w.value[from]);
      w.in_masks.push_back(w.masks[from] ? &*w.masks[from] : nullptr);
      wants = wants || w.grad_flows[size_t(t.step)];
    }
    Layer& layer = *st.runner;
    if (st.runner != st.layer.get()) layer.set_trainable(st.layer->trainable());
    RunContext ctx;
    ctx.training = options.training;
    ctx.keep_for_backward = options.keep_for_backward;
    ctx.input_grad = wants;
    ctx.rng = rng ? rng : &rng_;
    ctx.mask = w.in_masks[0];
    ctx.input_masks = &w.in_masks;
    w.grad_flows[s] = wants || (layer.trainable() && has_trainable_weights_[s]);
    const size_t outs = st.node->shapes.size();
    if (passes_ids_[s]) {
      // An Embedding that a Conv1D or a recurrent layer reads itself: its slot passes the ids on (docs/layers.md).
      w.value[slot] = w.ins[0];
    } else if (embedding_of_[s] >= 0) {
      auto& embedding = static_cast<Embedding&>(*steps_[size_t(embedding_of_[s])].runner);
      if (auto* conv = dynamic_cast<Conv1D*>(&layer)) w.owned[slot] = conv->call_on_embedding(embedding, *w.ins[0], ctx);
      else w.owned[slot] = static_cast<RNN&>(layer).call_on_embedding(embedding, *w.ins[0], ctx);
    } else if (w.ins.size() == 1 && outs == 1 && !st.node->argument_is_list) {
      const size_t from = slot_of_[size_t(st.inputs[0].step)] + size_t(st.inputs[0].index);
      if (w.readers[from] == 1 && w.value[from] == &w.owned[from]) {
        // This call is the input's last reader: the layer may keep the tensor itself (Dropout outside training).
        // Its mask first, from the input it will not see again (after the same shape check as call's).
        layer.prepare_call(w.ins[0]->shape(), ctx);
        w.masks[slot] = layer.compute_mask(*w.ins[0], w.in_masks[0]);
        w.owned[slot] = layer.call(std::move(w.owned[from]), ctx);
        w.owned[from] = Tensor();
      } else {
        w.owned[slot] = layer.call(*w.ins[0], ctx);
        w.masks[slot] = layer.compute_mask(*w.ins[0], w.in_masks[0]);
      }
    } else {
      std::vector<Tensor> ys = layer.call_multi(w.ins, ctx);
      std::vector<std::optional<Tensor>> ms = layer.compute_masks(w.ins, w.in_masks);
      for (size_t k = 0; k < outs; ++k) {
        w.owned[slot + k] = std::move(ys.at(k));
        if (k < ms.size()) w.masks[slot + k] = std::move(ms[k]);
      }
    }
    if (!passes_ids_[s])
      for (size_t k = 0; k < outs; ++k) w.value[slot + k] = &w.owned[slot + k];
    for (const auto& t : st.inputs) {
      const size_t from = slot_of_[size_t(t.step)] + size_t(t.index);
      if (--w.readers[from] == 0 && steps_[size_t(t.step)].layer) w.owned[from] = Tensor();
    }
  }
  std::vector<Tensor> out;
  for (const auto& o : outputs_) {
    const size_t from = slot_of_[size_t(o.step)] + size_t(o.index);
    if (--w.readers[from] == 0 && steps_[size_t(o.step)].layer) out.push_back(std::move(w.owned[from]));
    else out.push_back(*w.value[from]);
  }
  return out;
}

Tensor Model::backward(const Tensor& dy) {
  if (outputs_.size() != 1)
    throw Error(fmt::format("model '{}' has {} outputs: call backward with a list of gradients", name_, outputs_.size()));
  return std::move(backward(std::vector<Tensor>{dy})[0]);
}

std::vector<Tensor> Model::backward(const std::vector<Tensor>& dy) {
  return backward_graph(dy, std::vector<bool>(dy.size(), false));
}

std::vector<Tensor> Model::backward_graph(std::vector<Tensor> output_grads, const std::vector<bool>& logits) {
  if (output_grads.size() != outputs_.size())
    throw Error(fmt::format("model '{}' has {} outputs, backward got {} gradients", name_, outputs_.size(),
                            output_grads.size()));
  const size_t n = steps_.size();
  Scratch& w = scratch_;
  w.grads.resize(slot_of_.back());
  for (auto& g : w.grads) g = Tensor();
  w.logits_grad.assign(n, Tensor());
  auto accumulate = [](Tensor& into, Tensor g) {
    if (g.empty()) return;
    if (into.empty()) {
      into = std::move(g);
      return;
    }
    if (into.shape() != g.shape())
      throw Error("backward: gradients of shapes " + into.shape_string() + " and " + g.shape_string() + " meet");
    backend().merge_forward(MergeOp::add, into, nullptr, {&into, &g});
  };
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const auto& o = outputs_[i];
    if (logits[i]) w.logits_grad[size_t(o.step)] = std::move(output_grads[i]);  // fusable_output: its only reader
    else accumulate(w.grads[slot_of_[size_t(o.step)] + size_t(o.index)], std::move(output_grads[i]));
  }
  std::vector<Tensor> dxs, step_grads;
  for (size_t s = n; s-- > 0;) {
    Step& st = steps_[s];
    if (!st.layer) continue;
    const size_t slot = slot_of_[s], outs = st.node->shapes.size();
    if (!w.logits_grad[s].empty()) {
      Tensor dx = static_cast<LogitsLayer*>(st.runner)->backward_from_logits(w.logits_grad[s]);
      w.logits_grad[s] = Tensor();
      accumulate(w.grads[slot_of_[size_t(st.inputs[0].step)] + size_t(st.inputs[0].index)], std::move(dx));
      continue;
    }
    bool any = false;
    for (size_t k = 0; k < outs; ++k) any = any || !w.grads[slot + k].empty();
    if (!any) continue;
    if (outs == 1 && st.inputs.size() == 1 && !st.node->argument_is_list) {
      Tensor dx = st.runner->backward(w.grads[slot]);
      w.grads[slot] = Tensor();
      accumulate(w.grads[slot_of_[size_t(st.inputs[0].step)] + size_t(st.inputs[0].index)], std::move(dx));
      continue;
    }
    step_grads.clear();
    for (size_t k = 0; k < outs; ++k) step_grads.push_back(std::move(w.grads[slot + k]));
    dxs = st.runner->backward_multi(step_grads);
    for (size_t i = 0; i < st.inputs.size() && i < dxs.size(); ++i)
      accumulate(w.grads[slot_of_[size_t(st.inputs[i].step)] + size_t(st.inputs[i].index)], std::move(dxs[i]));
  }
  std::vector<Tensor> out;
  for (int s : input_steps_) out.push_back(std::move(w.grads[slot_of_[size_t(s)]]));
  return out;  // empty: an input with no gradient (int ids) or none wanted (input_grad)
}

LogitsLayer* Model::fusable_output(size_t i) const {
  const TensorRef o = outputs_.at(i);
  const Step& st = steps_[size_t(o.step)];
  auto* layer = dynamic_cast<LogitsLayer*>(st.runner);
  if (!layer) return nullptr;
  int readers = 0;
  for (const auto& s : steps_)
    for (const auto& t : s.inputs) readers += t == o;
  for (const auto& other : outputs_) readers += other == o;
  return readers == 1 ? layer : nullptr;
}

void Model::zero_grads() {
  for (Param* p : params()) backend().fill(p->grad, 0.0f);
}

// Each weight once, even where one layer is reached twice (directly and inside a nested model).
std::vector<Param*> Model::params() {
  std::vector<Param*> out;
  for (const auto& l : layers())
    for (Param* p : l->params())
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

std::vector<Param*> Model::trainable_params() {
  std::vector<Param*> out;
  for (const auto& l : layers())
    for (Param* p : l->trainable_params())
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

int64_t Model::count_params() const {
  int64_t n = 0;
  for (const auto& l : layers()) n += l->count_params();
  return n;
}

int64_t Model::count_trainable_params() const {
  int64_t n = 0;
  for (const auto& l : layers()) n += l->count_trainable_params();
  return n;
}

// ---- a model as a layer ----
NestedModel::NestedModel(std::shared_ptr<Model> model) : Layer(model ? model->name() : "", "functional"), model_(std::move(model)) {
  if (!model_) fail("needs a model");
  if (!model_->built()) fail("the model must be built (give its input shape) before it is used as a layer");
}

Shape NestedModel::build_impl(const Shape& in, Rng& rng) { return build_multi_impl({in}, rng).at(0); }

std::vector<Shape> NestedModel::build_multi_impl(const std::vector<Shape>& in, Rng&) {
  if (in.size() != model_->num_inputs())
    fail(fmt::format("takes {} inputs, called on {}", model_->num_inputs(), in.size()));
  for (size_t i = 0; i < in.size(); ++i)
    if (!shape_compatible(model_->input_shape(i), in[i]))
      fail(fmt::format("input {} must have shape {}, got {}", i, shape_to_string(model_->input_shape(i)),
                       shape_to_string(in[i])));
  std::vector<Shape> out;
  for (size_t k = 0; k < model_->num_outputs(); ++k) out.push_back(model_->output_shape(k));
  return out;
}

Tensor NestedModel::forward(const Tensor& x, RunContext& ctx) { return std::move(forward_multi({&x}, ctx).at(0)); }
Tensor NestedModel::backward(const Tensor& dy) { return std::move(backward_multi({dy}).at(0)); }

std::vector<Tensor> NestedModel::forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) {
  bool masked = ctx.mask != nullptr;
  if (ctx.input_masks)
    for (const Tensor* m : *ctx.input_masks) masked = masked || m != nullptr;
  if (masked) fail("a mask reaching a nested model is not supported (its first layers would have to take it)");
  return model_->forward_inputs(inputs, {.training = ctx.training, .keep_for_backward = ctx.keep_for_backward,
                                         .input_grad = ctx.input_grad},
                                ctx.rng);
}

std::vector<Tensor> NestedModel::backward_multi(const std::vector<Tensor>& grads) { return model_->backward(grads); }

std::vector<std::optional<Tensor>> NestedModel::compute_masks(const std::vector<const Tensor*>&,
                                                              const std::vector<const Tensor*>&) const {
  return std::vector<std::optional<Tensor>>(model_->num_outputs());
}

void NestedModel::collect_params(std::vector<Param*>& out) {
  for (Param* p : model_->params()) out.push_back(p);
}

void NestedModel::collect_trainable_params(std::vector<Param*>& out) {
  if (!trainable()) return;
  for (Param* p : model_->trainable_params()) out.push_back(p);
}

Json NestedModel::get_config() const {
  Json root = Json::parse(model_->to_json());
  Json c = root.at("config");
  c["name"] = name();
  c["trainable"] = trainable();  // a frozen nested model stays frozen through a file
  return c;
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
      const Step& last = steps_[size_t(outputs_[0].step)];
      SymbolicTensor y = apply_layer(layers_.back(), SymbolicTensor(last.node, outputs_[0].index));
      set_graph({*input_}, {y});
    } else {
      for (const auto& l : layers_) x = apply_layer(l, x);
      set_graph({*input_}, {x});
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
  set_graph({*input_}, {x});
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
