// The built-in callbacks, following Keras 3's callbacks/*.py: the same defaults, decisions and messages.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

#include "model/callback_state.h"
#include "seqnet/callbacks.h"
#include "seqnet/distributed.h"
#include "seqnet/model.h"
#include "seqnet/saving.h"

namespace seqnet {

Json tensors_to_json(const std::vector<Tensor>& tensors) {
  Json out = Json::array();
  for (const Tensor& t : tensors)
    out.push_back({{"shape", t.shape()}, {"values", std::vector<float>(t.data(), t.data() + t.size())}});
  return out;
}

std::vector<Tensor> tensors_from_json(const Json& j) {
  std::vector<Tensor> out;
  for (const Json& t : j) out.emplace_back(t.at("shape").get<Shape>(), t.at("values").get<std::vector<float>>());
  return out;
}

namespace {

// ---- callback state for exact resume (Callback::save_state) ----
Json parse_state(const std::string& text, const char* callback) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    throw Error(std::string(callback) + ": the saved training state cannot be read: " + e.what());
  }
}
Json optional_to_json(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }
std::optional<double> optional_from_json(const Json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(j.get<double>());
}


void warn(const std::string& msg) { std::fprintf(stderr, "seqnet: warning: %s\n", msg.c_str()); }

std::string available_keys(const Logs& logs) {
  std::string out;
  for (const auto& [k, v] : logs.items()) out += (out.empty() ? "" : ",") + k;
  return out;
}

// Keras's MonitorCallback._set_monitor_op: true = minimize. "auto" uses the metric's direction.
bool minimize_for(const std::string& monitor, const std::string& mode, const char* who) {
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

std::string checked_mode(const std::string& mode, const char* who) {
  if (mode == "auto" || mode == "min" || mode == "max") return mode;
  warn(fmt::format("{} mode {} is unknown, fallback to auto mode.", who, mode));
  return "auto";
}

// Python's repr of a float for CSV cells: shortest round trip, with ".0" on whole numbers.
std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

// ---------------- EarlyStopping ----------------

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : o_(std::move(options)) {
  o_.mode = checked_mode(o_.mode, "EarlyStopping");
  min_delta_ = std::abs(o_.min_delta);
}

void EarlyStopping::on_train_begin(Logs&) {
  wait_ = 0;
  stopped_epoch_ = 0;
  best_.reset();
  best_weights_.clear();
  have_best_weights_ = false;
  best_epoch_ = 0;
  if (std::string state = take_pending_state(); !state.empty()) {
    const Json j = parse_state(state, "EarlyStopping");
    wait_ = j.at("wait").get<int>();
    best_epoch_ = j.at("best_epoch").get<int>();
    best_ = optional_from_json(j.at("best"));
    best_weights_ = tensors_from_json(j.at("best_weights"));
    have_best_weights_ = !best_weights_.empty();
  }
}

std::string EarlyStopping::save_state() const {
  return Json{{"wait", wait_},
              {"best_epoch", best_epoch_},
              {"best", optional_to_json(best_)},
              {"best_weights", tensors_to_json(have_best_weights_ ? best_weights_ : std::vector<Tensor>{})}}
      .dump();
}

void EarlyStopping::on_epoch_end(int epoch, Logs& logs) {
  if (!op_set_) {
    minimize_ = minimize_for(o_.monitor, o_.mode, "EarlyStopping");
    op_set_ = true;
  }
  auto current = logs.get(o_.monitor);
  if (!current) {
    warn(fmt::format("Early stopping conditioned on metric `{}` which is not available. Available metrics are: {}",
                     o_.monitor, available_keys(logs)));
    return;
  }
  if (epoch < o_.start_from_epoch) return;
  auto improves = [&](double value, std::optional<double> reference) {
    if (!reference) return true;
    // Keras: monitor_op(value - min_delta, reference), with min_delta negated when minimizing.
    return minimize_ ? value + min_delta_ < *reference : value - min_delta_ > *reference;
  };
  if (o_.restore_best_weights && !have_best_weights_) {
    best_weights_ = model()->get_weights();
    have_best_weights_ = true;
  }
  ++wait_;
  if (improves(*current, best_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (o_.restore_best_weights) best_weights_ = model()->get_weights();
    if (!o_.baseline || improves(*current, o_.baseline)) wait_ = 0;
    return;
  }
  if (wait_ >= o_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model()->stop_training = true;
  }
}

void EarlyStopping::on_train_end(Logs&) {
  if (stopped_epoch_ > 0 && o_.verbose > 0) std::printf("Epoch %d: early stopping\n", stopped_epoch_ + 1);
  if (o_.restore_best_weights && have_best_weights_) {
    if (o_.verbose > 0) std::printf("Restoring model weights from the end of the best epoch: %d.\n", best_epoch_ + 1);
    model()->set_weights(best_weights_);
  }
  std::fflush(stdout);
}

// ---------------- ModelCheckpoint ----------------

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::string format_checkpoint_path(const std::string& pattern, int epoch, std::optional<int> batch, const Logs& logs) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '{' && i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < pattern.size() && pattern[i + 1] == '}') {
      out += '}';
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = pattern.find('}', i);
    if (close == std::string::npos)
      throw Error(fmt::format("Failed to format this callback filepath: \"{}\". Reason: a '{{' is never closed", pattern));
    std::string field = pattern.substr(i + 1, close - i - 1);
    std::string key = field, spec;
    if (auto colon = field.find(':'); colon != std::string::npos) {
      key = field.substr(0, colon);
      spec = field.substr(colon + 1);
    }
    const std::string f = "{:" + spec + "}";
    try {
      if (key == "epoch") {
        out += fmt::format(fmt::runtime(f), epoch + 1);
      } else if (key == "batch" && batch) {
        out += fmt::format(fmt::runtime(f), *batch + 1);
      } else if (auto v = logs.get(key)) {
        out += fmt::format(fmt::runtime(f), *v);
      } else {
        throw Error(fmt::format("Failed to format this callback filepath: \"{}\". Reason: '{}' is not among the logs ({})",
                                pattern, key, available_keys(logs)));
      }
    } catch (const fmt::format_error& e) {
      throw Error(fmt::format("Failed to format this callback filepath: \"{}\". Reason: format spec '{}' for '{}': {}",
                              pattern, spec, key, e.what()));
    }
    i = close;
  }
  return out;
}

ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)), o_(std::move(options)) {
  o_.mode = checked_mode(o_.mode, "ModelCheckpoint");
  if (o_.save_freq < 0) throw Error(fmt::format("Unrecognized save_freq: {} (use 0 for \"epoch\" or a positive number of batches)", o_.save_freq));
  if (o_.save_weights_only) {
    if (!ends_with(filepath_, ".weights.h5"))
      throw Error(fmt::format("When using save_weights_only=true in ModelCheckpoint, the filepath provided must end in "
                              "`.weights.h5` (Keras weights format). Received: filepath={}",
                              filepath_));
  } else if (!ends_with(filepath_, ".keras") && !ends_with(filepath_, ".h5")) {
    throw Error(fmt::format("The filepath provided must end in `.keras` (Keras model format). Received: filepath={}", filepath_));
  }
  best_ = o_.initial_value_threshold;
}

void ModelCheckpoint::on_train_begin(Logs&) {
  last_batch_seen_ = -1;
  batches_since_save_ = 0;
  if (std::string state = take_pending_state(); !state.empty()) {
    const Json j = parse_state(state, "ModelCheckpoint");
    best_ = optional_from_json(j.at("best"));
    last_saved_ = j.at("last_saved").get<std::string>();
  }
}

std::string ModelCheckpoint::save_state() const {
  return Json{{"best", optional_to_json(best_)}, {"last_saved", last_saved_}}.dump();
}

void ModelCheckpoint::on_train_batch_end(int batch, Logs& logs) {
  if (o_.save_freq <= 0) return;
  int64_t add = batch <= last_batch_seen_ ? batch + 1 : batch - last_batch_seen_;  // a new epoch restarts at 0
  batches_since_save_ += add;
  last_batch_seen_ = batch;
  if (batches_since_save_ >= o_.save_freq) {
    batches_since_save_ = 0;
    save(current_epoch_, batch, logs);
  }
}

void ModelCheckpoint::on_epoch_end(int epoch, Logs& logs) {
  if (o_.save_freq <= 0) save(epoch, std::nullopt, logs);
}

void ModelCheckpoint::save(int epoch, std::optional<int> batch, const Logs& logs) {
  // In a data-parallel run every rank holds the same weights and logs; rank 0 alone writes.
  if (!distributed::is_root()) return;
  std::string path = format_checkpoint_path(filepath_, epoch, batch, logs);
  if (o_.save_best_only) {
    if (!op_set_) {
      minimize_ = minimize_for(o_.monitor, o_.mode, "ModelCheckpoint");
      op_set_ = true;
    }
    auto current = logs.get(o_.monitor);
    if (!current) {
      warn(fmt::format("Can save best model only with {} available.", o_.monitor));
    } else {
      std::string best_str = best_ ? fmt::format("{:.5f}", *best_) : "None";
      bool improved = !best_ || (minimize_ ? *current < *best_ : *current > *best_);
      if (!improved) {
        if (o_.verbose > 0) std::printf("\nEpoch %d: %s did not improve from %s\n", epoch + 1, o_.monitor.c_str(), best_str.c_str());
        return;
      }
      if (o_.verbose > 0)
        std::printf("\nEpoch %d: %s improved from %s to %.5f, saving model to %s\n", epoch + 1, o_.monitor.c_str(),
                    best_str.c_str(), *current, path.c_str());
      best_ = *current;
    }
  } else if (o_.verbose > 0) {
    std::printf("\nEpoch %d: saving model to %s\n", epoch + 1, path.c_str());
  }
  std::fflush(stdout);
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  if (o_.save_weights_only) save_weights(*model(), path);
  else save_model(*model(), path);
  last_saved_ = path;
}

// ---------------- CSVLogger ----------------

CSVLogger::CSVLogger(std::string filename, std::string separator, bool append)
    : filename_(std::move(filename)), sep_(std::move(separator)), append_(append) {}

void CSVLogger::on_train_begin(Logs&) {
  writing_ = distributed::is_root();  // rank 0 alone writes
  if (!writing_) return;
  contents_.clear();
  std::error_code ec;
  if (append_ && std::filesystem::exists(filename_, ec)) contents_ = read_file_bytes(filename_);
  if (!contents_.empty() && contents_.back() != '\n') contents_ += '\n';
  header_written_ = !contents_.empty();
  keys_.clear();
  if (std::string state = take_pending_state(); !state.empty()) {  // the rows of the epochs before the resume
    const Json j = parse_state(state, "CSVLogger");
    contents_ = j.at("contents").get<std::string>();
    header_written_ = j.at("header_written").get<bool>();
    keys_ = j.at("keys").get<std::vector<std::string>>();
  }
  write_file_atomic(filename_, contents_);  // fails now, not after the first epoch, when the file can't be written
}

std::string CSVLogger::save_state() const {
  return Json{{"contents", contents_}, {"header_written", header_written_}, {"keys", keys_}}.dump();
}

void CSVLogger::on_epoch_end(int epoch, Logs& logs) {
  if (!writing_) return;
  if (keys_.empty()) {
    for (const auto& [k, v] : logs.items()) keys_.push_back(k);
    std::sort(keys_.begin(), keys_.end());
  }
  if (!header_written_) {
    contents_ += "epoch";
    for (const auto& k : keys_) contents_ += sep_ + k;
    contents_ += "\n";
    header_written_ = true;
  }
  contents_ += std::to_string(epoch);
  for (const auto& k : keys_) {
    auto v = logs.get(k);
    contents_ += sep_ + (v ? py_float(*v) : std::string("NA"));
  }
  contents_ += "\n";
  write_file_atomic(filename_, contents_);
}

void CSVLogger::on_train_end(Logs&) { writing_ = false; }

// ---------------- ReduceLROnPlateau ----------------

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options) : o_(std::move(options)) {
  if (o_.factor >= 1.0) throw Error(fmt::format("ReduceLROnPlateau does not support a factor >= 1.0. Received factor={}", o_.factor));
  o_.mode = checked_mode(o_.mode, "Learning rate reduction");
}

void ReduceLROnPlateau::on_train_begin(Logs&) {
  // Keras: "auto" minimizes unless the monitor mentions "acc".
  minimize_ = o_.mode == "min" || (o_.mode == "auto" && o_.monitor.find("acc") == std::string::npos);
  best_ = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  cooldown_counter_ = 0;
  wait_ = 0;
  if (std::string state = take_pending_state(); !state.empty()) {
    const Json j = parse_state(state, "ReduceLROnPlateau");
    best_ = optional_from_json(j.at("best")).value_or(best_);
    wait_ = j.at("wait").get<int>();
    cooldown_counter_ = j.at("cooldown_counter").get<int>();
  }
}

std::string ReduceLROnPlateau::save_state() const {
  return Json{{"best", optional_to_json(std::isfinite(best_) ? std::optional<double>(best_) : std::nullopt)},
              {"wait", wait_},
              {"cooldown_counter", cooldown_counter_}}
      .dump();
}

void ReduceLROnPlateau::on_epoch_end(int epoch, Logs& logs) {
  Optimizer& opt = *model()->optimizer();
  logs.set("learning_rate", double(opt.learning_rate()));
  auto current = logs.get(o_.monitor);
  if (!current) {
    warn(fmt::format("Learning rate reduction is conditioned on metric `{}` which is not available. Available metrics are: {}.",
                     o_.monitor, available_keys(logs)));
    return;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  bool better = minimize_ ? *current < best_ - o_.min_delta : *current > best_ + o_.min_delta;
  if (better) {
    best_ = *current;
    wait_ = 0;
  } else if (cooldown_counter_ <= 0) {
    ++wait_;
    if (wait_ >= o_.patience) {
      double old_lr = double(opt.learning_rate());
      if (old_lr > double(float(o_.min_lr))) {
        double new_lr = std::max(old_lr * o_.factor, o_.min_lr);
        opt.set_learning_rate(float(new_lr));
        if (o_.verbose > 0)
          std::printf("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1, py_float(new_lr).c_str());
        cooldown_counter_ = o_.cooldown;
        wait_ = 0;
      }
    }
  }
}

// ---------------- schedules and LearningRateScheduler ----------------

namespace {
class ExponentialDecaySchedule : public LearningRateSchedule {
 public:
  ExponentialDecaySchedule(double lr, double steps, double rate, bool staircase)
      : lr_(lr), steps_(steps), rate_(rate), staircase_(staircase) {
    if (!(steps > 0)) throw Error(fmt::format("ExponentialDecay: decay_steps must be positive, got {}", steps));
  }
  double operator()(int64_t step) const override {
    double p = double(step) / steps_;
    if (staircase_) p = std::floor(p);
    return lr_ * std::pow(rate_, p);
  }

 private:
  double lr_, steps_, rate_;
  bool staircase_;
};

class CosineDecaySchedule : public LearningRateSchedule {
 public:
  CosineDecaySchedule(double lr, int64_t steps, double alpha) : lr_(lr), steps_(steps), alpha_(alpha) {
    if (steps <= 0) throw Error(fmt::format("CosineDecay: decay_steps must be positive, got {}", steps));
  }
  double operator()(int64_t step) const override {
    double s = double(std::min(step, steps_));
    double cosine = 0.5 * (1.0 + std::cos(M_PI * s / double(steps_)));
    return lr_ * ((1.0 - alpha_) * cosine + alpha_);
  }

 private:
  double lr_;
  int64_t steps_;
  double alpha_;
};

class PiecewiseConstantSchedule : public LearningRateSchedule {
 public:
  PiecewiseConstantSchedule(std::vector<int64_t> b, std::vector<double> v) : b_(std::move(b)), v_(std::move(v)) {
    if (v_.size() != b_.size() + 1)
      throw Error(fmt::format("PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of "
                              "values; got {} boundaries and {} values",
                              b_.size(), v_.size()));
  }
  double operator()(int64_t step) const override {
    for (size_t i = 0; i < b_.size(); ++i)
      if (step <= b_[i]) return v_[i];
    return v_.back();
  }

 private:
  std::vector<int64_t> b_;
  std::vector<double> v_;
};
}  // namespace

namespace schedules {
SchedulePtr ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate, bool staircase) {
  return std::make_shared<ExponentialDecaySchedule>(initial_learning_rate, decay_steps, decay_rate, staircase);
}
SchedulePtr CosineDecay(double initial_learning_rate, int64_t decay_steps, double alpha) {
  return std::make_shared<CosineDecaySchedule>(initial_learning_rate, decay_steps, alpha);
}
SchedulePtr PiecewiseConstantDecay(std::vector<int64_t> boundaries, std::vector<double> values) {
  return std::make_shared<PiecewiseConstantSchedule>(std::move(boundaries), std::move(values));
}
}  // namespace schedules

LearningRateScheduler::LearningRateScheduler(Fn schedule, int verbose) : fn_(std::move(schedule)), verbose_(verbose) {
  if (!fn_) throw Error("LearningRateScheduler: the schedule is empty");
}

LearningRateScheduler::LearningRateScheduler(SchedulePtr schedule, int verbose) : verbose_(verbose) {
  if (!schedule) throw Error("LearningRateScheduler: the schedule is null");
  fn_ = [schedule](int epoch, double) { return (*schedule)(epoch); };
}

void LearningRateScheduler::on_epoch_begin(int epoch, Logs&) {
  Optimizer& opt = *model()->optimizer();
  double lr = fn_(epoch, double(opt.learning_rate()));
  if (!std::isfinite(lr)) throw Error(fmt::format("The output of the schedule function should be a float, got {}", lr));
  opt.set_learning_rate(float(lr));
  if (verbose_ > 0) std::printf("\nEpoch %d: LearningRateScheduler setting learning rate to %s.\n", epoch + 1, py_float(lr).c_str());
}

void LearningRateScheduler::on_epoch_end(int, Logs& logs) {
  logs.set("learning_rate", double(model()->optimizer()->learning_rate()));
}

// ---------------- TerminateOnNaN ----------------

void TerminateOnNaN::on_train_batch_end(int batch, Logs& logs) {
  auto loss = logs.get("loss");
  if (loss && !std::isfinite(*loss)) {
    std::printf("Batch %d: Invalid loss, terminating training\n", batch);
    model()->stop_training = true;
  }
}

}  // namespace seqnet
