// model_to_json / model_from_json in Keras's formats, and the registry of layer configs.
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <tuple>
#include <sstream>

#include "io/layer_registry.h"
#include "seqnet/layers/core.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/model.h"
#include "seqnet/serialization.h"

namespace seqnet {

namespace config {

int64_t get_int_or_first(const Json& c, const char* key, int64_t fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  if (it->is_array()) {
    if (it->size() != 1) throw Error(fmt::format("config key '{}' must hold one value for a 1-D layer, got {}", key, it->dump()));
    return whole_number_at<int64_t>((*it)[0], config_key(c, key));
  }
  return whole_number_at<int64_t>(*it, config_key(c, key));
}

std::string activation_of(const Json& c, const char* key) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return "linear";
  if (it->is_string()) return it->get<std::string>();
  // Keras 3 may serialize an activation function as {"module": "keras.activations", "class_name": "function", "config": "relu"}.
  if (it->is_object() && it->contains("config") && (*it)["config"].is_string()) return (*it)["config"].get<std::string>();
  throw Error("unsupported activation value in a Keras config: " + it->dump());
}

void reject_if_set(const Json& c, const char* key, const char* why) {
  auto it = c.find(key);
  if (it != c.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>()))
    throw Error(fmt::format("layer '{}': option '{}' = {} is not supported: {}", c.value("name", std::string("?")), key,
                            it->dump(), why));
}

namespace {
// Whether the model being read keeps a fixed batch size from its configs: only a stateful model needs one
// (every other model runs on any batch size, as in Keras, even when its file names one).
thread_local bool t_keep_batch_size = false;
}  // namespace

void apply_common(Layer& layer, const Json& c) {
  if (c.contains("name") && c["name"].is_string()) layer.set_name(c["name"].get<std::string>());
  layer.set_trainable(c.value("trainable", true));
  const char* batch_key = c.contains("batch_input_shape") && !c["batch_input_shape"].is_null() ? "batch_input_shape"
                          : c.contains("batch_shape") && !c["batch_shape"].is_null()         ? "batch_shape"
                                                                                             : nullptr;
  if (batch_key) {
    Shape s = shape_from_json(c[batch_key]);
    if (s.empty()) throw Error(fmt::format("layer '{}': {} has no batch axis", layer.name(), batch_key));
    layer.set_declared_input_shape(Shape(s.begin() + 1, s.end()));
    if (s[0] >= 0 && t_keep_batch_size) layer.set_declared_batch_size(s[0]);  // a stateful model needs it
  } else if (c.contains("input_shape") && !c["input_shape"].is_null()) {
    layer.set_declared_input_shape(shape_from_json(c["input_shape"]));
  }
}

namespace {
LayerPtr dense_from(const Json& c) {
  reject_if_set(c, "kernel_regularizer", "regularizers are not implemented");
  reject_if_set(c, "bias_regularizer", "regularizers are not implemented");
  reject_if_set(c, "activity_regularizer", "regularizers are not implemented");
  reject_if_set(c, "kernel_constraint", "constraints are not implemented");
  reject_if_set(c, "bias_constraint", "constraints are not implemented");
  if (!c.contains("units")) throw Error("Dense config without 'units': " + c.dump());
  DenseOptions o;
  o.activation = activation_of(c);
  o.use_bias = get(c, "use_bias", true);
  if (c.contains("kernel_initializer")) o.kernel_initializer = initializer_from_json(c["kernel_initializer"]);
  if (c.contains("bias_initializer")) o.bias_initializer = initializer_from_json(c["bias_initializer"]);
  auto l = std::make_shared<Dense>(required_int(c, "units"), o);
  apply_common(*l, c);
  return l;
}
LayerPtr embedding_from(const Json& c) {
  reject_if_set(c, "embeddings_regularizer", "regularizers are not implemented");
  reject_if_set(c, "embeddings_constraint", "constraints are not implemented");
  reject_if_set(c, "activity_regularizer", "regularizers are not implemented");
  if (!c.contains("input_dim") || !c.contains("output_dim")) throw Error("Embedding config needs input_dim and output_dim: " + c.dump());
  EmbeddingOptions o;
  if (c.contains("embeddings_initializer")) o.embeddings_initializer = initializer_from_json(c["embeddings_initializer"]);
  o.mask_zero = get(c, "mask_zero", false);
  if (c.contains("input_length") && !c["input_length"].is_null()) o.input_length = get_int_or_first(c, "input_length", 0);
  auto l = std::make_shared<Embedding>(required_int(c, "input_dim"), required_int(c, "output_dim"), o);
  apply_common(*l, c);
  return l;
}
LayerPtr flatten_from(const Json& c) {
  auto l = std::make_shared<Flatten>();
  apply_common(*l, c);
  return l;
}
LayerPtr reshape_from(const Json& c) {
  auto l = std::make_shared<Reshape>(shape_from_json(c.at("target_shape")));
  apply_common(*l, c);
  return l;
}
LayerPtr dropout_from(const Json& c) {
  reject_if_set(c, "noise_shape", "noise_shape is not implemented");
  auto l = std::make_shared<Dropout>(get(c, "rate", 0.0f));
  apply_common(*l, c);
  return l;
}
LayerPtr activation_from(const Json& c) {
  auto l = std::make_shared<ActivationLayer>(activation_of(c));
  apply_common(*l, c);
  return l;
}
}  // namespace

// Every layer seqnet can read from a Keras config. A layer family defines its reader next to its
// get_config (declared in io/layer_registry.h) and adds one line here.
const LayerFactoryEntry kLayerFactories[] = {
    {"Dense", dense_from},     {"Embedding", embedding_from}, {"Flatten", flatten_from},
    {"Reshape", reshape_from}, {"Dropout", dropout_from},     {"Activation", activation_from},
    {"Conv1D", conv1d_from_config},
    {"MaxPooling1D", max_pooling1d_from_config},
    {"MaxPool1D", max_pooling1d_from_config},
    {"AveragePooling1D", average_pooling1d_from_config},
    {"AvgPool1D", average_pooling1d_from_config},
    {"GlobalMaxPooling1D", global_max_pooling1d_from_config},
    {"GlobalMaxPool1D", global_max_pooling1d_from_config},
    {"GlobalAveragePooling1D", global_average_pooling1d_from_config},
    {"GlobalAvgPool1D", global_average_pooling1d_from_config},
    {"SimpleRNN", simple_rnn_from_config},
    {"LSTM", lstm_from_config},
    {"GRU", gru_from_config},
    {"Bidirectional", bidirectional_from_config},
    {"TimeDistributed", time_distributed_from_config},
    {"Masking", masking_from_config},
    {"Normalization", normalization_from_config},
    {"Add", add_from_config},
    {"Subtract", subtract_from_config},
    {"Multiply", multiply_from_config},
    {"Average", average_from_config},
    {"Maximum", maximum_from_config},
    {"Minimum", minimum_from_config},
    {"Concatenate", concatenate_from_config},
    {"RepeatVector", repeat_vector_from_config},
    {"Permute", permute_from_config},
    {"Cropping1D", cropping1d_from_config},
    {"ZeroPadding1D", zero_padding1d_from_config},
    {"UpSampling1D", up_sampling1d_from_config},
    {"SpatialDropout1D", spatial_dropout1d_from_config},
    {"GaussianNoise", gaussian_noise_from_config},
    {"LayerNormalization", layer_normalization_from_config},
    {"Dot", dot_from_config},
};

std::vector<std::string> registered_layer_classes() {
  std::vector<std::string> out;
  for (const auto& e : kLayerFactories) out.push_back(e.class_name);
  return out;
}

}  // namespace config

namespace {
// Keras raises on an unknown argument; a key seqnet ignored (a typo, an option it lacks) would silently build
// another model. Known: every key the layer writes itself (get_config), and the keys Keras writes that change
// nothing here, with the values for which that holds.
bool harmless_extra_key(const std::string& key, const Json& v) {
  static const std::set<std::string> any_value = {
      "name", "trainable", "dtype", "batch_input_shape", "batch_shape", "input_shape", "input_dim", "autocast",
      "implementation",  // Keras 2 RNNs: 1 or 2 are two ways to compute the same thing
      "unroll",          // the same math, unrolled
  };
  if (any_value.count(key)) return true;
  if (key == "quantization_config" || key == "lora_rank" || key == "lora_alpha") return v.is_null() || v == 0;
  if (key == "data_format") return v == "channels_last";
  if (key == "time_major" || key == "zero_output_for_mask") return v.is_boolean() && (key == "time_major" ? !v.get<bool>() : true);
  return false;
}

void check_known_keys(const Layer& layer, const Json& c) {
  if (!c.is_object()) return;
  const Json own = layer.get_config();
  for (const auto& [key, value] : c.items())
    if (!own.contains(key) && !harmless_extra_key(key, value))
      throw Error(fmt::format("unknown config key '{}' = {} (Keras would refuse it too; seqnet does not ignore keys)",
                              key, value.dump()));
}
}  // namespace

namespace {
std::unique_ptr<Model> sequential_from(const Json& cfg);
std::unique_ptr<Model> functional_from(const Json& cfg);
}  // namespace

LayerPtr layer_from_config(const std::string& class_name, const Json& c) {
  const std::string name = c.is_object() && c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>() : "?";
  // A model used as a layer of another: its config is a whole model's.
  if (class_name == "Functional" || class_name == "Model" || class_name == "Sequential") {
    try {
      std::shared_ptr<Model> inner = class_name == "Sequential" ? sequential_from(c) : functional_from(c);
      return as_layer(std::move(inner));
    } catch (const Error& err) {
      throw Error(fmt::format("nested model '{}' ({}): {}", name, class_name, err.what()));
    }
  }
  for (const auto& e : config::kLayerFactories) {
    if (class_name != e.class_name) continue;
    try {
      LayerPtr layer = e.make(c);
      check_known_keys(*layer, c);
      return layer;
    } catch (const Error& err) {
      // A check in a layer's constructor runs before the config's name is applied: say which entry it was.
      std::string msg = err.what();
      if (msg.find("'" + name + "'") != std::string::npos) throw;
      // Its "layer 'conv1d' (Conv1D): " names the default name: the config's replaces it. A message of an inner
      // layer (another class) keeps its prefix.
      const std::string own_class = "(" + class_name + "): ";
      const size_t quote = msg.rfind("layer '", 0) == 0 ? msg.find("' (", 7) : std::string::npos;
      if (quote != std::string::npos && msg.compare(quote + 2, own_class.size(), own_class) == 0)
        msg = msg.substr(quote + 2 + own_class.size());
      throw Error(fmt::format("layer '{}' ({}) in the model config: {}", name, class_name, msg));
    }
  }
  throw Error(fmt::format("unknown layer class '{}' (layer '{}') in the model config", class_name, name));
}

namespace {

using config::Json;

Json layer_entry(const Layer& layer, bool keras3) {
  Json c = layer.get_config();
  const bool nested = dynamic_cast<const NestedModel*>(&layer) != nullptr;
  if (keras3 && !nested) c["dtype"] = config::dtype_policy_json();
  Json e = {{"module", "keras.layers"}, {"class_name", layer.class_name()}, {"config", c}, {"registered_name", nullptr}};
  if (nested && layer.class_name() == "Functional") e["module"] = "keras.src.models.functional", e["registered_name"] = "Functional";
  else if (nested) e["module"] = "keras";
  if (layer.built()) {
    Json shape = config::shape_to_json(layer.input_shape());
    if (layer.takes_input_list()) {
      shape = Json::array();
      for (const auto& s : layer.input_shapes()) shape.push_back(config::shape_to_json(s));
    }
    e["build_config"] = {{"input_shape", shape}};
  }
  return e;
}

Json input_layer_entry(const std::string& name, const Shape& batch_shape, DType dtype) {
  return {{"module", "keras.layers"},
          {"class_name", "InputLayer"},
          {"config",
           {{"batch_shape", config::shape_to_json(batch_shape)},
            {"dtype", dtype_name(dtype)},
            {"sparse", false},
            {"ragged", false},
            {"name", name},
            {"optional", false}}},
          {"registered_name", nullptr}};
}

Json keras_tensor(const Shape& shape, DType dtype, const std::string& from_layer, int node = 0, int index = 0) {
  return {{"class_name", "__keras_tensor__"},
          {"config",
           {{"shape", config::shape_to_json(shape)}, {"dtype", dtype_name(dtype)}, {"keras_history", {from_layer, node, index}}}}};
}

std::optional<int64_t> batch_size_of(const Shape& batch_shape) {
  if (!config::t_keep_batch_size || batch_shape.empty() || batch_shape[0] < 0) return std::nullopt;
  return batch_shape[0];
}

// A tensor of the config: output `index` of call `node` of layer `layer` (an Input's is ["name", 0, 0]).
struct TensorKey {
  std::string layer;
  int64_t node = 0, index = 0;
  bool operator<(const TensorKey& o) const { return std::tie(layer, node, index) < std::tie(o.layer, o.node, o.index); }
  std::string text() const { return fmt::format("{}[{}][{}]", layer, node, index); }
};

TensorKey key_of(const Json& history, const std::string& where) {
  if (!history.is_array() || history.empty() || !history[0].is_string())
    throw Error(fmt::format("{}: a tensor reference must be [layer name, node index, tensor index], got {}", where,
                            history.dump().substr(0, 120)));
  TensorKey k{history[0].get<std::string>()};
  if (history.size() > 1) k.node = whole_number_at<int64_t>(history[1], where + ": node index");
  if (history.size() > 2) k.index = whole_number_at<int64_t>(history[2], where + ": tensor index");
  return k;
}

// Keras 3 writes a tensor as {"class_name": "__keras_tensor__", "config": {..., "keras_history": [...]}}.
bool is_keras_tensor(const Json& j) { return j.is_object() && j.value("class_name", std::string()) == "__keras_tensor__"; }
TensorKey keras_tensor_key(const Json& j, const std::string& where) {
  return key_of(j.at("config").at("keras_history"), where);
}

// One call of a layer as the config lists it.
struct CallEntry {
  std::vector<TensorKey> argument;  // the first argument: one tensor, or a merge's list
  bool is_list = false;
  std::vector<TensorKey> initial_state;
};

// Call arguments beyond the input change what a layer computes: each is honoured or refused, never dropped.
void read_call_kwargs(const std::string& layer, const Json& kwargs, CallEntry& call) {
  if (!kwargs.is_object()) return;
  for (const auto& [k, v] : kwargs.items()) {
    if (v.is_null() || (k == "training" && v.is_boolean())) continue;  // Keras's defaults, the same model
    if (k == "initial_state") {
      const Json list = v.is_array() ? v : Json::array({v});
      for (const Json& t : list) {
        if (is_keras_tensor(t)) call.initial_state.push_back(keras_tensor_key(t, "layer '" + layer + "'"));
        else if (t.is_array()) call.initial_state.push_back(key_of(t, "layer '" + layer + "'"));
        else throw Error(fmt::format("layer '{}': initial_state holds {}, not a tensor of the graph", layer, t.dump().substr(0, 80)));
      }
      continue;
    }
    throw Error(fmt::format("layer '{}' is called with {} = {}: call arguments other than the input and initial_state "
                            "(mask, constants, ...) are not supported",
                            layer, k, v.dump().substr(0, 80)));
  }
}

// Keras 3: {"args": [tensor or [tensors]], "kwargs": {...}}; Keras 2: [["name", node, index, {kwargs}], ...] (a
// recurrent layer's initial states follow its input in the same list).
CallEntry read_call(const std::string& layer, const Layer& made, const Json& node) {
  CallEntry call;
  const std::string where = "layer '" + layer + "'";
  if (node.is_object()) {
    const Json& args = node.at("args");
    if (!args.is_array() || args.size() != 1)
      throw Error(fmt::format("{} is called with {} positional arguments; seqnet reads one (the input, or a list of "
                              "inputs)",
                              where, args.is_array() ? args.size() : 0));
    const Json& a = args[0];
    if (is_keras_tensor(a)) {
      call.argument.push_back(keras_tensor_key(a, where));
    } else if (a.is_array()) {
      call.is_list = true;
      for (const Json& t : a) {
        if (!is_keras_tensor(t)) throw Error(where + ": its input list holds something other than a tensor: " + t.dump().substr(0, 80));
        call.argument.push_back(keras_tensor_key(t, where));
      }
    } else {
      throw Error(where + ": its input is not a tensor of the graph: " + a.dump().substr(0, 80));
    }
    read_call_kwargs(layer, node.value("kwargs", Json::object()), call);
    return call;
  }
  if (!node.is_array() || node.empty()) throw Error(where + ": an inbound node without inputs");
  for (const Json& entry : node) {
    call.argument.push_back(key_of(entry, where));
    if (entry.size() > 3) read_call_kwargs(layer, entry[3], call);
  }
  if (dynamic_cast<const RNN*>(&made) && call.argument.size() > 1) {
    call.initial_state.assign(call.argument.begin() + 1, call.argument.end());
    call.argument.resize(1);
  } else {
    call.is_list = made.takes_input_list() || call.argument.size() > 1;
  }
  return call;
}

// input_layers / output_layers: ["name", 0, 0], [["name", 0, 0], ...], or {"key": ["name", 0, 0], ...} (keys
// in sorted order, as Keras flattens a dict).
std::vector<TensorKey> model_tensors(const Json& j, const char* what) {
  std::vector<TensorKey> out;
  if (j.is_array() && !j.empty() && j[0].is_string()) {
    out.push_back(key_of(j, what));
  } else if (j.is_array() || j.is_object()) {
    for (const Json& e : j) out.push_back(key_of(e, what));
  }
  if (out.empty()) throw Error(fmt::format("the model config's {} is empty or malformed: {}", what, j.dump().substr(0, 120)));
  return out;
}

// Model-level keys: each honoured or refused by name, like a layer's.
void check_model_keys(const Json& cfg, const char* cls, std::initializer_list<const char*> known) {
  if (!cfg.is_object()) return;
  for (const auto& [key, value] : cfg.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok)
      throw Error(fmt::format("the {} model config has key '{}' = {}, which seqnet does not read (refused rather "
                              "than ignored)",
                              cls, key, value.dump().substr(0, 80)));
  }
}

// An InputLayer's config: a shape, a dtype, a name; sparse, ragged or optional inputs are refused.
void check_input_layer(const Json& c) {
  const std::string name = c.value("name", std::string("?"));
  for (const auto& [key, value] : c.items()) {
    if (key == "batch_shape" || key == "batch_input_shape" || key == "dtype" || key == "name") continue;
    if ((key == "sparse" || key == "ragged" || key == "optional") && (value.is_null() || value == false)) continue;
    if (key == "input_tensor" && value.is_null()) continue;
    throw Error(fmt::format("InputLayer '{}': {} = {} is not supported", name, key, value.dump().substr(0, 80)));
  }
  if (!c.contains("batch_shape") && !c.contains("batch_input_shape"))
    throw Error(fmt::format("InputLayer '{}': no batch_shape (or Keras 2's batch_input_shape)", name));
}

// model.trainable = False in Keras freezes every layer.
void apply_model_trainable(Model& model, const Json& cfg) {
  if (cfg.is_object() && cfg.contains("trainable") && cfg["trainable"] == false)
    for (const auto& l : model.layers()) l->set_trainable(false);
}

std::unique_ptr<Model> sequential_from(const Json& cfg) {
  // Keras 2.0-2.1 wrote the layer list as the config itself.
  const Json& layers = cfg.is_array() ? cfg : cfg.at("layers");
  std::string name = cfg.is_object() ? cfg.value("name", std::string()) : std::string();
  check_model_keys(cfg, "Sequential", {"name", "trainable", "dtype", "layers", "build_input_shape"});
  auto model = std::make_unique<Sequential>(name);
  std::optional<Shape> build_shape;
  if (cfg.is_object() && cfg.contains("build_input_shape") && !cfg["build_input_shape"].is_null())
    build_shape = config::shape_from_json(cfg["build_input_shape"]);
  for (const Json& entry : layers) {
    std::string cls = entry.at("class_name").get<std::string>();
    const Json& c = entry.at("config");
    if (cls == "InputLayer") {
      check_input_layer(c);
      Shape bs = config::shape_from_json(c.contains("batch_shape") ? c["batch_shape"] : c.at("batch_input_shape"));
      DType dt = c.value("dtype", std::string("float32")).find("int") != std::string::npos ? DType::int32 : DType::float32;
      model->add(Input(Shape(bs.begin() + 1, bs.end()),
                       {.dtype = dt, .batch_size = batch_size_of(bs), .name = c.value("name", std::string())}));
      continue;
    }
    model->add(layer_from_config(cls, c));
  }
  if (!model->built() && build_shape) model->build(Shape(build_shape->begin() + 1, build_shape->end()));
  if (model->built()) apply_model_trainable(*model, cfg);
  else if (cfg.is_object() && cfg.value("trainable", true) == false)
    for (const auto& l : model->sequential_layers()) l->set_trainable(false);
  return model;
}

std::unique_ptr<Model> functional_from(const Json& cfg) {
  check_model_keys(cfg, "Functional", {"name", "trainable", "layers", "input_layers", "output_layers"});
  std::map<TensorKey, SymbolicTensor> tensors;
  struct Pending {
    std::string name;
    LayerPtr layer;
    std::vector<CallEntry> calls;
    size_t done = 0;
  };
  std::vector<Pending> layers;
  std::set<std::string> names;
  for (const Json& entry : cfg.at("layers")) {
    std::string cls = entry.at("class_name").get<std::string>();
    const Json& c = entry.at("config");
    std::string name = entry.value("name", c.value("name", std::string()));
    if (!names.insert(name).second) throw Error(fmt::format("the model config has two layers named '{}'", name));
    if (cls == "InputLayer") {
      check_input_layer(c);
      Shape bs = config::shape_from_json(c.contains("batch_shape") ? c["batch_shape"] : c.at("batch_input_shape"));
      DType dt = c.value("dtype", std::string("float32")).find("int") != std::string::npos ? DType::int32 : DType::float32;
      tensors[{name, 0, 0}] = Input(Shape(bs.begin() + 1, bs.end()), {.dtype = dt, .batch_size = batch_size_of(bs), .name = name});
      continue;
    }
    Pending p{name, layer_from_config(cls, c), {}};
    for (const Json& node : entry.value("inbound_nodes", Json::array())) p.calls.push_back(read_call(name, *p.layer, node));
    layers.push_back(std::move(p));
  }
  // Calls in dependency order: a call runs once the tensors it reads exist (a shared layer's later call may read
  // layers listed after it), and a layer's calls in their order.
  auto available = [&](const std::vector<TensorKey>& keys) {
    for (const auto& k : keys)
      if (!tensors.count(k)) return false;
    return true;
  };
  auto lookup = [&](const std::vector<TensorKey>& keys) {
    std::vector<SymbolicTensor> out;
    for (const auto& k : keys) out.push_back(tensors.at(k));
    return out;
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (auto& p : layers) {
      while (p.done < p.calls.size() && available(p.calls[p.done].argument) && available(p.calls[p.done].initial_state)) {
        const CallEntry& call = p.calls[p.done];
        CallOptions options{lookup(call.initial_state)};
        std::vector<SymbolicTensor> outs = call.is_list ? call_layer(p.layer, lookup(call.argument), options)
                                                        : call_layer(p.layer, lookup(call.argument)[0], options);
        for (size_t k = 0; k < outs.size(); ++k) tensors[{p.name, int64_t(p.done), int64_t(k)}] = outs[k];
        ++p.done;
        progress = true;
      }
    }
  }
  for (const auto& p : layers)
    if (p.done < p.calls.size()) {
      const CallEntry& call = p.calls[p.done];
      std::string missing;
      for (const auto& k : call.argument) if (!tensors.count(k)) missing = k.text();
      for (const auto& k : call.initial_state) if (!tensors.count(k)) missing = k.text();
      throw Error(fmt::format("layer '{}' (call {}) reads tensor {}, which no layer of the config gives", p.name, p.done,
                              missing));
    }
  auto resolve = [&](const std::vector<TensorKey>& keys, const char* what) {
    std::vector<SymbolicTensor> out;
    for (const auto& k : keys) {
      auto it = tensors.find(k);
      if (it == tensors.end())
        throw Error(fmt::format("the model's {} names tensor {}, which no layer of the config gives", what, k.text()));
      out.push_back(it->second);
    }
    return out;
  };
  auto model = std::make_unique<Model>(resolve(model_tensors(cfg.at("input_layers"), "input_layers"), "input_layers"),
                                       resolve(model_tensors(cfg.at("output_layers"), "output_layers"), "output_layers"),
                                       cfg.value("name", std::string()));
  apply_model_trainable(*model, cfg);
  return model;
}

}  // namespace

std::string Model::to_json(int indent) const {
  Json layers = Json::array();
  Json root;
  if (is_sequential()) {
    if (built()) layers.push_back(input_layer_entry(input_names()[0], input_shape(), input_dtype()));
    if (built())
      for (const auto& l : Model::layers()) layers.push_back(layer_entry(*l, true));
    else
      for (const auto& l : static_cast<const Sequential*>(this)->sequential_layers()) layers.push_back(layer_entry(*l, true));
    Json cfg = {{"name", name_}, {"trainable", true}, {"dtype", config::dtype_policy_json()}, {"layers", layers}};
    if (built()) cfg["build_input_shape"] = config::shape_to_json(input_shape());
    root = {{"module", "keras"}, {"class_name", "Sequential"}, {"config", cfg}, {"registered_name", nullptr}};
    if (built()) root["build_config"] = {{"input_shape", config::shape_to_json(input_shape())}};
  } else {
    auto tensor_json = [&](const TensorRef& r) {
      const Step& src = steps_[size_t(r.step)];
      const std::string from = src.layer ? src.layer->name() : src.node->input_name;
      return keras_tensor(shape_of(r), src.layer ? DType::float32 : src.node->dtype, from, src.call_index, r.index);
    };
    for (const Step& st : steps_) {
      if (!st.layer) {
        Json in = input_layer_entry(st.node->input_name, st.node->shapes[0], st.node->dtype);
        in["name"] = st.node->input_name;
        in["inbound_nodes"] = Json::array();
        layers.push_back(in);
        continue;
      }
      if (st.call_index > 0) continue;
      Json e = layer_entry(*st.layer, true);
      e["name"] = st.layer->name();
      e["inbound_nodes"] = Json::array();
      for (const Step& call : steps_) {
        if (call.layer != st.layer) continue;
        const size_t n_arg = call.node->first_argument;
        Json arg;
        if (call.node->argument_is_list) {
          arg = Json::array();
          for (size_t i = 0; i < n_arg; ++i) arg.push_back(tensor_json(call.inputs[i]));
        } else {
          arg = tensor_json(call.inputs[0]);
        }
        Json kwargs = Json::object();
        if (call.inputs.size() > n_arg) {
          kwargs["initial_state"] = Json::array();
          for (size_t i = n_arg; i < call.inputs.size(); ++i) kwargs["initial_state"].push_back(tensor_json(call.inputs[i]));
        }
        e["inbound_nodes"].push_back({{"args", Json::array({arg})}, {"kwargs", kwargs}});
      }
      layers.push_back(e);
    }
    auto refs = [&](const std::vector<TensorRef>& list) {
      Json out = Json::array();
      for (const auto& r : list) {
        const Step& src = steps_[size_t(r.step)];
        out.push_back({src.layer ? src.layer->name() : src.node->input_name, src.call_index, r.index});
      }
      return out.size() == 1 ? out[0] : out;  // Keras writes one tensor unwrapped
    };
    std::vector<TensorRef> ins;
    for (int s : input_steps_) ins.push_back({s, 0});
    Json cfg = {{"name", name_}, {"trainable", true}, {"layers", layers}, {"input_layers", refs(ins)},
                {"output_layers", refs(outputs_)}};
    root = {{"module", "keras.src.models.functional"}, {"class_name", "Functional"}, {"config", cfg},
            {"registered_name", "Functional"}, {"build_config", {{"input_shape", nullptr}}}};
  }
  root["compile_config"] = Json::object();
  return root.dump(indent);
}

namespace {
// Whether `key` is set anywhere in the config, nested layers included (to `value`, when one is given).
const Json kTrue = true;
bool holds_key(const Json& j, const char* key, const Json* value = nullptr) {
  if (j.is_object() && j.contains(key) && (!value || j[key] == *value)) return true;
  if (j.is_object() || j.is_array())
    for (const Json& e : j)
      if (holds_key(e, key, value)) return true;
  return false;
}

// Keras 1/2 wrote "keras_version": "2.x" beside a to_json() config (and load_model gives a legacy .h5 file's
// version to its model_config). Without a version, a config is Keras 2's only if it has no "module" key (every
// Keras 3 config has them) and declares its input the Keras 2 way (batch_input_shape, input_shape, input_dim):
// a hand-written config such as an experiment file's, with an InputLayer's batch_shape, means Keras 3's.
bool written_by_keras2(const Json& root) {
  if (root.contains("keras_version") && root["keras_version"].is_string()) {
    const std::string v = root["keras_version"].get<std::string>();
    return v.rfind("1.", 0) == 0 || v.rfind("2.", 0) == 0;
  }
  return !root.contains("module") &&
         (holds_key(root, "batch_input_shape") || holds_key(root, "input_shape") || holds_key(root, "input_dim"));
}
// Keras 2's hard_sigmoid is 0.2x + 0.5 (Keras 3's is x/6 + 0.5): every "activation" or
// "recurrent_activation" naming it, nested layers included, becomes "hard_sigmoid_keras2".
void use_keras2_hard_sigmoid(Json& j) {
  if (j.is_array()) {
    for (Json& e : j) use_keras2_hard_sigmoid(e);
    return;
  }
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "activation" || it.key() == "recurrent_activation") {
      Json& a = it.value();
      if (a.is_string() && a.get<std::string>() == "hard_sigmoid") a = "hard_sigmoid_keras2";
      else if (a.is_object() && a.contains("config") && a["config"] == "hard_sigmoid") a["config"] = "hard_sigmoid_keras2";
    } else {
      use_keras2_hard_sigmoid(it.value());
    }
  }
}
}  // namespace

std::unique_ptr<Model> model_from_json(const std::string& text) {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(std::string("the model config is not valid JSON: ") + e.what());
  }
  // A full .keras config.json, or a to_json() string, or Keras 2's {"class_name", "config"}.
  if (!root.is_object()) throw Error("the model config is not a JSON object");
  try {
    std::string cls = root.value("class_name", std::string());
    if (!root.contains("config")) throw Error("the model config has no 'config' entry");
    if (written_by_keras2(root)) use_keras2_hard_sigmoid(root["config"]);
    struct KeepBatch {
      explicit KeepBatch(bool on) { config::t_keep_batch_size = on; }
      ~KeepBatch() { config::t_keep_batch_size = false; }
    } keep_batch(holds_key(root["config"], "stateful", &kTrue));
    const Json& cfg = root["config"];
    if (cls == "Sequential") return sequential_from(cfg);
    if (cls == "Functional" || cls == "Model") return functional_from(cfg);
    throw Error("unsupported model class '" + cls + "' (expected Sequential, Functional or Model)");
  } catch (const Json::exception& e) {
    // A value of the wrong JSON type somewhere in the config (a string where a number belongs, ...).
    throw Error(std::string("malformed Keras config: ") + e.what());
  }
}

std::unique_ptr<Model> model_from_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open model config '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return model_from_json(ss.str());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed Keras config: " + e.what());
  }
}

}  // namespace seqnet
