// Optimizers from Keras's serialized form (compile_config, experiment files).
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>

#include "seqnet/optimizers.h"

namespace seqnet::optimizers {

namespace {
ClipOptions clip_from(const Json& c) {
  ClipOptions clip;
  if (c.contains("clipnorm") && !c["clipnorm"].is_null()) clip.clipnorm = c["clipnorm"].get<float>();
  if (c.contains("clipvalue") && !c["clipvalue"].is_null()) clip.clipvalue = c["clipvalue"].get<float>();
  if (c.contains("global_clipnorm") && !c["global_clipnorm"].is_null()) clip.global_clipnorm = c["global_clipnorm"].get<float>();
  return clip;
}

void check_keys(const std::string& cls, const Json& c, std::set<std::string> allowed) {
  // Keys Keras writes that change nothing for seqnet's optimizers when left at their defaults.
  for (const char* k : {"name", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
                        "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps", "is_legacy_optimizer",
                        "jit_compile", "decay", "lr"})
    allowed.insert(k);
  for (auto it = c.begin(); it != c.end(); ++it) {
    if (!allowed.count(it.key()))
      throw Error(fmt::format("optimizer {}: unknown or unsupported option '{}'", cls, it.key()));
  }
  auto off = [&](const char* key) { return !c.contains(key) || c[key].is_null() || c[key] == false; };
  if (!off("use_ema")) throw Error(fmt::format("optimizer {}: use_ema is not supported", cls));
  if (cls != "AdamW" && c.contains("weight_decay") && !c["weight_decay"].is_null() && c["weight_decay"].get<double>() != 0.0)
    throw Error(fmt::format("optimizer {}: weight_decay is only supported by AdamW", cls));
  if (c.contains("gradient_accumulation_steps") && !c["gradient_accumulation_steps"].is_null())
    throw Error(fmt::format("optimizer {}: gradient_accumulation_steps is not supported", cls));
}

float lr_of(const Json& c, float fallback) {
  if (c.contains("learning_rate")) {
    if (!c["learning_rate"].is_number()) throw Error("optimizer: learning_rate schedules in configs are not supported; use a callback");
    return c["learning_rate"].get<float>();
  }
  return c.value("lr", fallback);  // Keras 2's name
}
}  // namespace

OptimizerPtr from_config(const Json& j) {
  if (j.is_string()) return get(j.get<std::string>());
  if (!j.is_object() || !j.contains("class_name")) throw Error("optimizer config must be a name or {\"class_name\", \"config\"}: " + j.dump());
  std::string cls = j["class_name"].get<std::string>();
  const Json c = j.value("config", Json::object());
  std::string lower = cls;
  for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "sgd") {
    check_keys(cls, c, {"learning_rate", "momentum", "nesterov", "weight_decay"});
    return SGD({.learning_rate = lr_of(c, 0.01f), .momentum = c.value("momentum", 0.0f), .nesterov = c.value("nesterov", false), .clip = clip_from(c)});
  }
  if (lower == "rmsprop") {
    check_keys(cls, c, {"learning_rate", "rho", "momentum", "epsilon", "centered", "weight_decay"});
    return RMSprop({.learning_rate = lr_of(c, 0.001f), .rho = c.value("rho", 0.9f), .momentum = c.value("momentum", 0.0f),
                    .epsilon = c.value("epsilon", 1e-7f), .centered = c.value("centered", false), .clip = clip_from(c)});
  }
  if (lower == "adam") {
    check_keys(cls, c, {"learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"});
    return Adam({.learning_rate = lr_of(c, 0.001f), .beta_1 = c.value("beta_1", 0.9f), .beta_2 = c.value("beta_2", 0.999f),
                 .epsilon = c.value("epsilon", 1e-7f), .amsgrad = c.value("amsgrad", false), .clip = clip_from(c)});
  }
  if (lower == "adamw") {
    check_keys(cls, c, {"learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad"});
    float wd = c.contains("weight_decay") && !c["weight_decay"].is_null() ? c["weight_decay"].get<float>() : 0.004f;
    return AdamW({.learning_rate = lr_of(c, 0.001f), .weight_decay = wd, .beta_1 = c.value("beta_1", 0.9f),
                  .beta_2 = c.value("beta_2", 0.999f), .epsilon = c.value("epsilon", 1e-7f), .amsgrad = c.value("amsgrad", false),
                  .clip = clip_from(c)});
  }
  if (lower == "adagrad") {
    check_keys(cls, c, {"learning_rate", "initial_accumulator_value", "epsilon", "weight_decay"});
    return Adagrad({.learning_rate = lr_of(c, 0.001f), .initial_accumulator_value = c.value("initial_accumulator_value", 0.1f),
                    .epsilon = c.value("epsilon", 1e-7f), .clip = clip_from(c)});
  }
  throw Error("unknown optimizer class '" + cls + "' (known: SGD, RMSprop, Adam, AdamW, Adagrad)");
}

}  // namespace seqnet::optimizers
