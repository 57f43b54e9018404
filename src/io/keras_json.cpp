// model_to_json / model_from_json in Keras's formats, and the registry of layer configs.
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "io/layer_registry.h"
#include "seqnet/layers/core.h"
#include "seqnet/serialization.h"

namespace seqnet {

namespace config {

int64_t get_int_or_first(const Json& c, const char* key, int64_t fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  if (it->is_array()) {
    if (it->size() != 1) throw Error(fmt::format("config key '{}' must hold one value for a 1-D layer, got {}", key, it->dump()));
    return (*it)[0].get<int64_t>();
  }
  return it->get<int64_t>();
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
  auto l = std::make_shared<Dense>(c["units"].get<int64_t>(), o);
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
  auto l = std::make_shared<Embedding>(c["input_dim"].get<int64_t>(), c["output_dim"].get<int64_t>(), o);
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

LayerPtr layer_from_config(const std::string& class_name, const Json& c) {
  const std::string name = c.is_object() && c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>() : "?";
  for (const auto& e : config::kLayerFactories) {
    if (class_name != e.class_name) continue;
    try {
      LayerPtr layer = e.make(c);
      check_known_keys(*layer, c);
      return layer;
    } catch (const Error& err) {
      // A check in a layer's constructor runs before the config's name is applied: say which entry it was.
      const std::string msg = err.what();
      if (msg.find("'" + name + "'") != std::string::npos) throw;
      throw Error(fmt::format("layer '{}' ({}) in the model config: {}", name, class_name, msg));
    }
  }
  throw Error(fmt::format("unknown layer class '{}' (layer '{}') in the model config", class_name, name));
}

namespace {

using config::Json;

Json layer_entry(const Layer& layer, bool keras3) {
  Json c = layer.get_config();
  if (keras3) c["dtype"] = config::dtype_policy_json();
  Json e = {{"module", "keras.layers"}, {"class_name", layer.class_name()}, {"config", c}, {"registered_name", nullptr}};
  if (layer.built()) e["build_config"] = {{"input_shape", config::shape_to_json(layer.input_shape())}};
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

Json keras_tensor(const Shape& shape, const std::string& from_layer) {
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", config::shape_to_json(shape)}, {"dtype", "float32"}, {"keras_history", {from_layer, 0, 0}}}}};
}

std::optional<int64_t> batch_size_of(const Shape& batch_shape) {
  if (!config::t_keep_batch_size || batch_shape.empty() || batch_shape[0] < 0) return std::nullopt;
  return batch_shape[0];
}

// The layer a chain link reads, from [name, node_index, tensor_index]: anything else than the first output of
// the first call of one layer would be read as another model, so it is an error (the layer graph is issue 19).
std::string chain_source(const std::string& layer, const Json& history) {
  const std::string from = history.at(0).get<std::string>();
  const int64_t node = history.size() > 1 ? history[1].get<int64_t>() : 0;
  const int64_t tensor = history.size() > 2 ? history[2].get<int64_t>() : 0;
  if (tensor != 0)
    throw Error(fmt::format("layer '{}' takes output {} of layer '{}' (a state of return_state, say); seqnet reads "
                            "models whose layers take the first output of the layer before",
                            layer, tensor, from));
  if (node != 0)
    throw Error(fmt::format("layer '{}' takes the output of call {} of layer '{}': shared layers are not supported",
                            layer, node, from));
  return from;
}

// Call arguments beyond the input change what a layer computes: none may be dropped.
void refuse_call_arguments(const std::string& layer, const Json& kwargs) {
  if (!kwargs.is_object()) return;
  for (const auto& [k, v] : kwargs.items()) {
    if (v.is_null() || (k == "training" && v.is_boolean())) continue;  // Keras's defaults, the same model
    throw Error(fmt::format("layer '{}' is called with {} = {}: call arguments other than the input (initial_state, "
                            "mask, constants) are not supported",
                            layer, k, v.dump().substr(0, 80)));
  }
}

// Keras 2 configs name the inbound layer as [[["name", 0, 0, {}]]]; Keras 3 as a keras tensor.
std::string inbound_layer_name(const Json& layer_entry) {
  const std::string layer = layer_entry.value("name", std::string("?"));
  const Json& nodes = layer_entry.value("inbound_nodes", Json::array());
  if (nodes.empty()) return "";
  if (nodes.size() > 1) throw Error("layer '" + layer + "' is shared; shared layers are not supported");
  const Json& node = nodes[0];
  if (node.is_object()) {  // Keras 3
    const Json& args = node.at("args");
    if (args.size() != 1 || !args[0].is_object())
      throw Error("layer '" + layer + "' has several inputs; only single-input layers are supported");
    refuse_call_arguments(layer, node.value("kwargs", Json::object()));
    return chain_source(layer, args[0].at("config").at("keras_history"));
  }
  if (node.size() != 1) throw Error("layer '" + layer + "' has several inputs; only single-input layers are supported");
  if (node[0].size() > 3) refuse_call_arguments(layer, node[0][3]);
  return chain_source(layer, node[0]);
}

std::unique_ptr<Model> sequential_from(const Json& cfg) {
  // Keras 2.0-2.1 wrote the layer list as the config itself.
  const Json& layers = cfg.is_array() ? cfg : cfg.at("layers");
  std::string name = cfg.is_object() ? cfg.value("name", std::string()) : std::string();
  auto model = std::make_unique<Sequential>(name);
  std::optional<Shape> build_shape;
  if (cfg.is_object() && cfg.contains("build_input_shape") && !cfg["build_input_shape"].is_null())
    build_shape = config::shape_from_json(cfg["build_input_shape"]);
  for (const Json& entry : layers) {
    std::string cls = entry.at("class_name").get<std::string>();
    const Json& c = entry.at("config");
    if (cls == "InputLayer") {
      Shape bs = config::shape_from_json(c.contains("batch_shape") ? c["batch_shape"] : c.at("batch_input_shape"));
      DType dt = c.value("dtype", std::string("float32")).find("int") != std::string::npos ? DType::int32 : DType::float32;
      model->add(Input(Shape(bs.begin() + 1, bs.end()),
                       {.dtype = dt, .batch_size = batch_size_of(bs), .name = c.value("name", std::string())}));
      continue;
    }
    model->add(layer_from_config(cls, c));
  }
  if (!model->built() && build_shape) model->build(Shape(build_shape->begin() + 1, build_shape->end()));
  return model;
}

std::unique_ptr<Model> functional_from(const Json& cfg) {
  std::map<std::string, SymbolicTensor> tensors;
  std::string input_name, output_name;
  const Json& in = cfg.at("input_layers");
  const Json& out = cfg.at("output_layers");
  // Keras 3 writes ["name", 0, 0] for one input; Keras 2 writes [["name", 0, 0]].
  auto first_name = [](const Json& j) -> std::string {
    if (j.size() > 0 && j[0].is_array()) {
      if (j.size() != 1) throw Error("models with several inputs or outputs are not supported yet");
      return chain_source("the model's input or output", j[0]);
    }
    return chain_source("the model's input or output", j);
  };
  input_name = first_name(in);
  output_name = first_name(out);
  for (const Json& entry : cfg.at("layers")) {
    std::string cls = entry.at("class_name").get<std::string>();
    const Json& c = entry.at("config");
    std::string name = entry.value("name", c.value("name", std::string()));
    if (cls == "InputLayer") {
      Shape bs = config::shape_from_json(c.contains("batch_shape") ? c["batch_shape"] : c.at("batch_input_shape"));
      DType dt = c.value("dtype", std::string("float32")).find("int") != std::string::npos ? DType::int32 : DType::float32;
      tensors[name] = Input(Shape(bs.begin() + 1, bs.end()), {.dtype = dt, .batch_size = batch_size_of(bs), .name = name});
      continue;
    }
    std::string from = inbound_layer_name(entry);
    auto it = tensors.find(from);
    if (it == tensors.end()) throw Error(fmt::format("layer '{}' takes its input from unknown layer '{}'", name, from));
    tensors[name] = apply_layer(layer_from_config(cls, c), it->second);
  }
  if (!tensors.count(input_name) || !tensors.count(output_name))
    throw Error("the functional config names inputs or outputs that are not among its layers");
  return std::make_unique<Model>(tensors[input_name], tensors[output_name], cfg.value("name", std::string()));
}

}  // namespace

std::string Model::to_json(int indent) const {
  Json layers = Json::array();
  Json root;
  if (is_sequential()) {
    if (built()) layers.push_back(input_layer_entry(input_name_, nodes_.front().shape, input_dtype_));
    if (built())
      for (size_t i = 1; i < nodes_.size(); ++i) layers.push_back(layer_entry(*nodes_[i].layer, true));
    else
      for (const auto& l : static_cast<const Sequential*>(this)->sequential_layers()) layers.push_back(layer_entry(*l, true));
    Json cfg = {{"name", name_}, {"trainable", true}, {"dtype", config::dtype_policy_json()}, {"layers", layers}};
    if (built()) cfg["build_input_shape"] = config::shape_to_json(nodes_.front().shape);
    root = {{"module", "keras"}, {"class_name", "Sequential"}, {"config", cfg}, {"registered_name", nullptr}};
    if (built()) root["build_config"] = {{"input_shape", config::shape_to_json(nodes_.front().shape)}};
  } else {
    Json in = input_layer_entry(input_name_, nodes_.front().shape, input_dtype_);
    in["name"] = input_name_;
    in["inbound_nodes"] = Json::array();
    layers.push_back(in);
    std::string prev = input_name_;
    for (size_t i = 1; i < nodes_.size(); ++i) {
      Json e = layer_entry(*nodes_[i].layer, true);
      e["name"] = nodes_[i].layer->name();
      e["inbound_nodes"] = Json::array({{{"args", Json::array({keras_tensor(nodes_[i - 1].shape, prev)})}, {"kwargs", Json::object()}}});
      layers.push_back(e);
      prev = nodes_[i].layer->name();
    }
    Json cfg = {{"name", name_},
                {"trainable", true},
                {"layers", layers},
                {"input_layers", {input_name_, 0, 0}},
                {"output_layers", {prev, 0, 0}}};
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
