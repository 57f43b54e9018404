// The callbacks that write files, ModelCheckpoint and CSVLogger (Keras 3's callbacks/model_checkpoint.py and
// csv_logger.py): here beside the file formats, so that the core library writes no file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

#include "seqnet/console.h"
#include "model/callback_support.h"
#include "seqnet/callbacks.h"
#include "seqnet/distributed.h"
#include "seqnet/model.h"
#include "seqnet/saving.h"

namespace seqnet {

using namespace callback_support;

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
        if (o_.verbose > 0) console_out(fmt::format("\nEpoch {}: {} did not improve from {}\n", epoch + 1, o_.monitor, best_str));
        return;
      }
      if (o_.verbose > 0)
        console_out(fmt::format("\nEpoch {}: {} improved from {} to {:.5f}, saving model to {}\n", epoch + 1, o_.monitor,
                                best_str, *current, path));
      best_ = *current;
    }
  } else if (o_.verbose > 0) {
    console_out(fmt::format("\nEpoch {}: saving model to {}\n", epoch + 1, path));
  }
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

}  // namespace seqnet
