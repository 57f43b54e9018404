// What the built-in callbacks share: their saved-state helpers, Keras's monitor direction and messages, and
// Python's float repr. Internal header (the file-writing callbacks live in src/io/file_callbacks.cpp).
#pragma once
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "seqnet/console.h"
#include "seqnet/callbacks.h"

namespace seqnet::callback_support {

using Json = nlohmann::json;

// ---- callback state for exact resume (Callback::save_state) ----
inline Json parse_state(const std::string& text, const char* callback) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    throw Error(std::string(callback) + ": the saved training state cannot be read: " + e.what());
  }
}
inline Json optional_to_json(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }
inline std::optional<double> optional_from_json(const Json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(j.get<double>());
}


inline void warn(const std::string& msg) { console_err("seqnet: warning: " + msg + "\n"); }

inline std::string available_keys(const Logs& logs) {
  std::string out;
  for (const auto& [k, v] : logs.items()) out += (out.empty() ? "" : ",") + k;
  return out;
}

// Keras's MonitorCallback._set_monitor_op: true = minimize. "auto" uses the metric's direction.
inline bool minimize_for(const std::string& monitor, const std::string& mode, const char* who) {
  if (mode == "min") return true;
  if (mode == "max") return false;
  std::string m = monitor.rfind("val_", 0) == 0 ? monitor.substr(4) : monitor;
  if (m == "loss" || m.find("loss") != std::string::npos || m.find("error") != std::string::npos || m == "mae" ||
      m == "mse" || m == "mape" || m == "msle" || m.find("crossentropy") != std::string::npos || m == "huber")
    return true;
  if (m.find("acc") != std::string::npos || m == "auc" || m == "precision" || m == "recall") return false;
  throw Error(fmt::format(
      "{} callback received monitor={} but seqnet isn't able to automatically determine whether that metric should "
      "be maximized or minimized. Pass mode='max' in order to use the highest metric value, or pass mode='min' in "
      "order to use the lowest value.",
      who, monitor));
}

inline std::string checked_mode(const std::string& mode, const char* who) {
  if (mode == "auto" || mode == "min" || mode == "max") return mode;
  warn(fmt::format("{} mode {} is unknown, fallback to auto mode.", who, mode));
  return "auto";
}

// Python's repr of a float for CSV cells: shortest round trip, with ".0" on whole numbers.
inline std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}


}  // namespace seqnet::callback_support
