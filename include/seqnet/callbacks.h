// Callbacks: the hooks of the fit loop, with Keras's names and order.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet {

class Model;

// Ordered name -> value pairs ("loss", "acc", "val_loss", ...), in the order Keras prints them.
class Logs {
 public:
  void set(const std::string& key, double value);
  std::optional<double> get(const std::string& key) const;
  bool contains(const std::string& key) const { return get(key).has_value(); }
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  void clear() { items_.clear(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

class Callback {
 public:
  virtual ~Callback() = default;
  void set_model(Model* model) { model_ = model; }
  Model* model() const { return model_; }
  virtual void on_train_begin(Logs&) {}
  virtual void on_train_end(Logs&) {}
  virtual void on_epoch_begin(int epoch, Logs&) {}   // epoch counts from 0, as in Keras
  virtual void on_epoch_end(int epoch, Logs&) {}
  virtual void on_train_batch_begin(int batch, Logs&) {}
  virtual void on_train_batch_end(int batch, Logs&) {}

  // Exact resume (`seqnet train` into an interrupted run folder): the state that on_train_begin would
  // reset (best value so far, patience counters, a log's rows), as JSON text, and its restoration, which the
  // next on_train_begin applies after its reset. Stateless callbacks keep these defaults.
  virtual std::string save_state() const { return {}; }
  virtual void restore_state(std::string state) { pending_state_ = std::move(state); }

 protected:
  // What restore_state received, for on_train_begin to apply (and clear).
  std::string take_pending_state() { return std::exchange(pending_state_, std::string()); }

 private:
  Model* model_ = nullptr;
  std::string pending_state_;
};

using CallbackPtr = std::shared_ptr<Callback>;

// What fit() returns: one value per epoch for every logged key.
struct History {
  std::vector<int> epoch;
  std::vector<std::pair<std::string, std::vector<double>>> history;
  const std::vector<double>& operator[](const std::string& key) const;
  bool contains(const std::string& key) const;
  void append(int epoch_index, const Logs& logs);
};

}  // namespace seqnet

// ---- built-in callbacks (src/model/callbacks_builtin.cpp), with Keras 3's defaults and messages ----

namespace seqnet {

// "auto" picks "min" for losses and errors, "max" for accuracies (Keras's metric direction).
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  int verbose = 0;
  std::string mode = "auto";  // "auto" | "min" | "max"
  std::optional<double> baseline;
  bool restore_best_weights = false;  // Keras 3: restored at train end whenever a best epoch exists
  int start_from_epoch = 0;
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(Logs&) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs&) override;
  int stopped_epoch() const { return stopped_epoch_; }  // 0 when it never fired, as in Keras
  int best_epoch() const { return best_epoch_; }
  std::optional<double> best() const { return best_; }
  int wait() const { return wait_; }
  std::string save_state() const override;

 private:
  EarlyStoppingOptions o_;
  bool minimize_ = true, op_set_ = false;
  double min_delta_ = 0.0;
  int wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  std::optional<double> best_;
  std::vector<Tensor> best_weights_;
  bool have_best_weights_ = false;
};

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  int verbose = 0;
  bool save_best_only = false;
  bool save_weights_only = false;  // then the path must end in .weights.h5
  std::string mode = "auto";
  int64_t save_freq = 0;  // 0 = "epoch"; N > 0 = every N training batches
  std::optional<double> initial_value_threshold;
};

// Saves the model (.keras, or legacy .h5) or its weights (.weights.h5) at the end of each epoch or
// every save_freq batches. `filepath` may hold Python-style fields: "model-{epoch:02d}-{val_loss:.4f}.keras".
// Every save is atomic: a crash mid-save leaves the previous file as it was.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});
  void on_train_begin(Logs&) override;
  void on_epoch_begin(int epoch, Logs&) override { current_epoch_ = epoch; }
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_batch_end(int batch, Logs& logs) override;
  std::optional<double> best() const { return best_; }
  const std::string& last_saved() const { return last_saved_; }
  std::string save_state() const override;

 private:
  void save(int epoch, std::optional<int> batch, const Logs& logs);
  std::string filepath_;
  ModelCheckpointOptions o_;
  bool minimize_ = true, op_set_ = false;
  std::optional<double> best_;
  int current_epoch_ = 0, last_batch_seen_ = -1;
  int64_t batches_since_save_ = 0;
  std::string last_saved_;
};

// Python's str.format for the fields ModelCheckpoint paths use: {epoch:02d}, {val_loss:.4f}, {batch}.
std::string format_checkpoint_path(const std::string& pattern, int epoch, std::optional<int> batch, const Logs& logs);

// Writes one row per epoch: "epoch" then the logged keys in sorted order, as Keras's CSVLogger.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, std::string separator = ",", bool append = false);
  void on_train_begin(Logs&) override;
  // Rewrites the whole file atomically with the new row: a full disk or a kill never leaves it half-written,
  // and a failed write stops training with an error naming the file.
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs&) override;
  std::string save_state() const override;

 private:
  std::string filename_, sep_;
  bool append_;
  bool writing_ = false;  // rank 0 between on_train_begin and on_train_end
  std::string contents_;  // the file as it stands
  bool header_written_ = false;
  std::vector<std::string> keys_;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  int verbose = 0;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};

class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin(Logs&) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  std::string save_state() const override;

 private:
  ReduceLROnPlateauOptions o_;
  bool minimize_ = true;
  double best_ = 0.0;
  int wait_ = 0, cooldown_counter_ = 0;
};

// Learning-rate schedules of a step (Keras's keras.optimizers.schedules, evaluated at an integer step).
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual double operator()(int64_t step) const = 0;
};
using SchedulePtr = std::shared_ptr<LearningRateSchedule>;

namespace schedules {
// initial * decay_rate ^ (step / decay_steps), the exponent floored with staircase.
SchedulePtr ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate, bool staircase = false);
// initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha).
SchedulePtr CosineDecay(double initial_learning_rate, int64_t decay_steps, double alpha = 0.0);
// values[i] while step <= boundaries[i]; values.back() after the last boundary. |values| = |boundaries| + 1.
SchedulePtr PiecewiseConstantDecay(std::vector<int64_t> boundaries, std::vector<double> values);
}  // namespace schedules

// Sets the optimizer's learning rate at the start of each epoch from schedule(epoch, current lr).
class LearningRateScheduler : public Callback {
 public:
  using Fn = std::function<double(int epoch, double lr)>;
  explicit LearningRateScheduler(Fn schedule, int verbose = 0);
  explicit LearningRateScheduler(SchedulePtr schedule, int verbose = 0);  // evaluated at step = epoch
  void on_epoch_begin(int epoch, Logs&) override;
  void on_epoch_end(int epoch, Logs& logs) override;

 private:
  Fn fn_;
  int verbose_;
};

// Stops training when a batch's loss is NaN or infinite.
class TerminateOnNaN : public Callback {
 public:
  void on_train_batch_end(int batch, Logs& logs) override;
};

namespace callbacks {
inline CallbackPtr EarlyStopping(EarlyStoppingOptions o = {}) { return std::make_shared<seqnet::EarlyStopping>(o); }
inline CallbackPtr ModelCheckpoint(std::string path, ModelCheckpointOptions o = {}) {
  return std::make_shared<seqnet::ModelCheckpoint>(std::move(path), o);
}
inline CallbackPtr CSVLogger(std::string filename, std::string separator = ",", bool append = false) {
  return std::make_shared<seqnet::CSVLogger>(std::move(filename), std::move(separator), append);
}
inline CallbackPtr ReduceLROnPlateau(ReduceLROnPlateauOptions o = {}) { return std::make_shared<seqnet::ReduceLROnPlateau>(o); }
inline CallbackPtr TerminateOnNaN() { return std::make_shared<seqnet::TerminateOnNaN>(); }
}  // namespace callbacks

}  // namespace seqnet
