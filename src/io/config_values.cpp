#include "io/config_values.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/json_numbers.h"

namespace seqnet::config {

namespace {
struct InitName {
  const char* snake;
  const char* klass;
};
const InitName kInitNames[] = {
    {"glorot_uniform", "GlorotUniform"}, {"glorot_normal", "GlorotNormal"},   {"he_uniform", "HeUniform"},
    {"he_normal", "HeNormal"},           {"lecun_uniform", "LecunUniform"},   {"lecun_normal", "LecunNormal"},
    {"orthogonal", "Orthogonal"},        {"random_uniform", "RandomUniform"}, {"random_normal", "RandomNormal"},
    {"truncated_normal", "TruncatedNormal"}, {"zeros", "Zeros"},           {"ones", "Ones"},
    {"constant", "Constant"},            {"identity", "Identity"},           {"variance_scaling", "VarianceScaling"},
};

std::string canonical_init_name(const std::string& name) {
  for (const auto& n : kInitNames)
    if (name == n.snake || name == n.klass) return n.snake;
  if (name == "uniform" || name == "RandomUniform") return "random_uniform";
  if (name == "normal") return "random_normal";
  if (name == "zero") return "zeros";
  if (name == "one") return "ones";
  if (name == "IdentityInitializer") return "identity";
  if (name == "OrthogonalInitializer") return "orthogonal";
  throw Error("unknown initializer '" + name + "' in a Keras config");
}
}  // namespace

Json initializer_to_json(const Initializer& init) {
  std::string snake = canonical_init_name(init.name);
  std::string klass;
  for (const auto& n : kInitNames)
    if (snake == n.snake) klass = n.klass;
  Json cfg = Json::object();
  if (snake == "constant") cfg["value"] = init.value;
  else if (snake == "random_uniform") cfg = {{"minval", init.minval}, {"maxval", init.maxval}, {"seed", nullptr}};
  else if (snake == "random_normal" || snake == "truncated_normal")
    cfg = {{"mean", init.mean}, {"stddev", init.stddev}, {"seed", nullptr}};
  else if (snake == "orthogonal" || snake == "identity") cfg = {{"gain", init.gain}, {"seed", nullptr}};
  else if (snake == "variance_scaling")
    cfg = {{"scale", init.scale}, {"mode", init.mode}, {"distribution", init.distribution}, {"seed", nullptr}};
  else if (snake != "zeros" && snake != "ones") cfg["seed"] = nullptr;
  return {{"module", "keras.initializers"}, {"class_name", klass}, {"config", cfg}, {"registered_name", nullptr}};
}

Initializer initializer_from_json(const Json& j) {
  if (j.is_null()) return Initializer("zeros");
  if (j.is_string()) return Initializer(canonical_init_name(j.get<std::string>()));
  if (!j.is_object() || !j.contains("class_name")) throw Error("malformed initializer in a Keras config: " + j.dump());
  Initializer init(canonical_init_name(j["class_name"].get<std::string>()));
  const Json cfg = j.value("config", Json::object());
  if (init.name == "constant") init.value = cfg.value("value", 0.0f);
  if (init.name == "random_uniform") {
    init.minval = cfg.value("minval", -0.05f);
    init.maxval = cfg.value("maxval", 0.05f);
  }
  if (init.name == "random_normal" || init.name == "truncated_normal") {
    init.mean = cfg.value("mean", 0.0f);
    init.stddev = cfg.value("stddev", 0.05f);
  }
  if (init.name == "orthogonal" || init.name == "identity") init.gain = cfg.value("gain", 1.0f);
  if (init.name == "variance_scaling") {
    init.scale = cfg.value("scale", 1.0f);
    init.mode = cfg.value("mode", std::string("fan_in"));
    init.distribution = cfg.value("distribution", std::string("truncated_normal"));
    if (init.distribution == "normal") init.distribution = "truncated_normal";  // Keras 2's alias
  }
  return init;
}

Json shape_to_json(const Shape& shape) {
  Json j = Json::array();
  for (int64_t d : shape) {
    if (d < 0) j.push_back(nullptr);
    else j.push_back(d);
  }
  return j;
}

Shape shape_from_json(const Json& j) {
  if (!j.is_array()) throw Error("expected a shape list in a Keras config, got " + j.dump());
  Shape s;
  for (const auto& d : j) s.push_back(d.is_null() ? -1 : whole_number_at<int64_t>(d, "a shape in a Keras config"));
  return s;
}

Json dtype_policy_json() {
  return {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "float32"}}}, {"registered_name", nullptr}};
}

std::vector<Json> entries_per_output(const Json& j, const std::vector<std::string>& outputs, const std::string& where) {
  std::vector<Json> out;
  if (j.is_object()) {
    for (const auto& [k, v] : j.items())
      if (std::find(outputs.begin(), outputs.end(), k) == outputs.end())
        throw Error(fmt::format("{}: the model has no output '{}' (outputs: {})", where, k, fmt::join(outputs, ", ")));
    for (const auto& name : outputs) {
      if (!j.contains(name)) throw Error(fmt::format("{}: no entry for output '{}'", where, name));
      out.push_back(j[name]);
    }
  } else if (j.is_array() && j.size() == outputs.size()) {
    for (const Json& e : j) out.push_back(e);
  } else {
    throw Error(fmt::format("{}: expected one entry per output ({}), got {}", where, fmt::join(outputs, ", "),
                            j.dump().substr(0, 120)));
  }
  return out;
}

}  // namespace seqnet::config
