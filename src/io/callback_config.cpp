// The built-in callbacks from Keras's constructor arguments, as a JSON object: what experiment files and the
// Python package's keras.callbacks give. Every key is honoured or refused by name.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>

#include "io/json_numbers.h"
#include "seqnet/callbacks.h"
#include "seqnet/serialization.h"

namespace seqnet {

namespace {
using Json = nlohmann::json;

void check_keys(const Json& c, const std::string& cls, const std::set<std::string>& known) {
  if (!c.is_object()) throw Error(fmt::format("{}: the arguments must be an object, got {}", cls, c.dump()));
  for (const auto& [key, value] : c.items()) {
    if (known.count(key)) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw Error(fmt::format("{}: unknown argument '{}' (known: {})", cls, key, list.empty() ? "none" : list));
  }
}

template <typename T>
T arg(const Json& c, const std::string& cls, const char* key, T fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  const bool ok = std::is_same_v<T, bool>          ? it->is_boolean()
                  : std::is_same_v<T, std::string> ? it->is_string()
                  : std::is_integral_v<T>          ? it->is_number_integer() || it->is_boolean()
                                                   : it->is_number();
  if (!ok) throw Error(fmt::format("{}: argument '{}' has the wrong type: {}", cls, key, it->dump()));
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    if (!it->is_boolean()) return whole_number_at<T>(*it, fmt::format("{}: argument '{}'", cls, key));
  return it->get<T>();
}

std::optional<double> optional_number(const Json& c, const std::string& cls, const char* key) {
  if (!c.contains(key) || c[key].is_null()) return std::nullopt;
  return arg<double>(c, cls, key, 0.0);
}
}  // namespace

CallbackPtr callback_from_config(const std::string& cls, const Json& c) {
  if (cls == "EarlyStopping") {
    check_keys(c, cls, {"monitor", "min_delta", "patience", "verbose", "mode", "baseline", "restore_best_weights",
                        "start_from_epoch"});
    EarlyStoppingOptions o;
    o.monitor = arg(c, cls, "monitor", o.monitor);
    o.min_delta = arg(c, cls, "min_delta", o.min_delta);
    o.patience = arg(c, cls, "patience", o.patience);
    o.verbose = arg(c, cls, "verbose", o.verbose);
    o.mode = arg(c, cls, "mode", o.mode);
    o.baseline = optional_number(c, cls, "baseline");
    o.restore_best_weights = arg(c, cls, "restore_best_weights", o.restore_best_weights);
    o.start_from_epoch = arg(c, cls, "start_from_epoch", o.start_from_epoch);
    return callbacks::EarlyStopping(o);
  }
  if (cls == "ModelCheckpoint") {
    check_keys(c, cls, {"filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode", "save_freq",
                        "initial_value_threshold"});
    ModelCheckpointOptions o;
    o.monitor = arg(c, cls, "monitor", o.monitor);
    o.verbose = arg(c, cls, "verbose", o.verbose);
    o.save_best_only = arg(c, cls, "save_best_only", o.save_best_only);
    o.save_weights_only = arg(c, cls, "save_weights_only", o.save_weights_only);
    o.mode = arg(c, cls, "mode", o.mode);
    if (c.contains("save_freq") && c["save_freq"].is_string()) {
      if (c["save_freq"].get<std::string>() != "epoch")
        throw Error("ModelCheckpoint: save_freq must be \"epoch\" or a number of batches, got " + c["save_freq"].dump());
    } else {
      o.save_freq = arg<int64_t>(c, cls, "save_freq", 0);
      if (o.save_freq < 0) throw Error(fmt::format("ModelCheckpoint: save_freq must be positive, got {}", o.save_freq));
    }
    o.initial_value_threshold = optional_number(c, cls, "initial_value_threshold");
    const std::string path = arg(c, cls, "filepath", std::string());
    if (path.empty()) throw Error("ModelCheckpoint: 'filepath' is required");
    return callbacks::ModelCheckpoint(path, o);
  }
  if (cls == "ReduceLROnPlateau") {
    check_keys(c, cls, {"monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr"});
    ReduceLROnPlateauOptions o;
    o.monitor = arg(c, cls, "monitor", o.monitor);
    o.factor = arg(c, cls, "factor", o.factor);
    o.patience = arg(c, cls, "patience", o.patience);
    o.verbose = arg(c, cls, "verbose", o.verbose);
    o.mode = arg(c, cls, "mode", o.mode);
    o.min_delta = arg(c, cls, "min_delta", o.min_delta);
    o.cooldown = arg(c, cls, "cooldown", o.cooldown);
    o.min_lr = arg(c, cls, "min_lr", o.min_lr);
    return callbacks::ReduceLROnPlateau(o);
  }
  if (cls == "CSVLogger") {
    check_keys(c, cls, {"filename", "separator", "append"});
    const std::string file = arg(c, cls, "filename", std::string());
    if (file.empty()) throw Error("CSVLogger: 'filename' is required");
    return callbacks::CSVLogger(file, arg(c, cls, "separator", std::string(",")), arg(c, cls, "append", false));
  }
  if (cls == "TerminateOnNaN") {
    check_keys(c, cls, {});
    return callbacks::TerminateOnNaN();
  }
  throw Error("unknown callback '" + cls + "' (known: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger, "
              "TerminateOnNaN)");
}

}  // namespace seqnet
