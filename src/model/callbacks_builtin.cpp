// The built-in callbacks, following Keras 3's callbacks/*.py: the same defaults, decisions and messages.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/json_numbers.h"
#include "seqnet/console.h"
#include "model/callback_state.h"
#include "model/callback_support.h"
#include "seqnet/callbacks.h"
#include "seqnet/distributed.h"
#include "seqnet/model.h"

namespace seqnet {

Json tensors_to_json(const std::vector<Tensor>& tensors) {
  Json out = Json::array();
  for (const Tensor& t : tensors)
    out.push_back({{"shape", t.shape()}, {"values", t.values()}});
  return out;
}

std::vector<Tensor> tensors_from_json(const Json& j) {
  std::vector<Tensor> out;
  for (const Json& t : j) out.emplace_back(whole_numbers_at<int64_t>(t.at("shape"), "a saved callback state: a tensor's shape"), t.at("values").get<std::vector<float>>());
  return out;
}

using namespace callback_support;


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
    wait_ = whole_number_at<int>(j.at("wait"), "EarlyStopping's saved state: wait");
    best_epoch_ = whole_number_at<int>(j.at("best_epoch"), "EarlyStopping's saved state: best_epoch");
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
  if (stopped_epoch_ > 0 && o_.verbose > 0) console_out(fmt::format("Epoch {}: early stopping\n", stopped_epoch_ + 1));
  if (o_.restore_best_weights && have_best_weights_) {
    if (o_.verbose > 0)
      console_out(fmt::format("Restoring model weights from the end of the best epoch: {}.\n", best_epoch_ + 1));
    model()->set_weights(best_weights_);
  }
}

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
    wait_ = whole_number_at<int>(j.at("wait"), "ReduceLROnPlateau's saved state: wait");
    cooldown_counter_ = whole_number_at<int>(j.at("cooldown_counter"), "ReduceLROnPlateau's saved state: cooldown_counter");
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
          console_out(fmt::format("\nEpoch {}: ReduceLROnPlateau reducing learning rate to {}.\n", epoch + 1, py_float(new_lr)));
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
  if (verbose_ > 0)
    console_out(fmt::format("\nEpoch {}: LearningRateScheduler setting learning rate to {}.\n", epoch + 1, py_float(lr)));
}

void LearningRateScheduler::on_epoch_end(int, Logs& logs) {
  logs.set("learning_rate", double(model()->optimizer()->learning_rate()));
}

// ---------------- TerminateOnNaN ----------------

void TerminateOnNaN::on_train_batch_end(int batch, Logs& logs) {
  auto loss = logs.get("loss");
  if (loss && !std::isfinite(*loss)) {
    console_out(fmt::format("Batch {}: Invalid loss, terminating training\n", batch));
    model()->stop_training = true;
  }
}

}  // namespace seqnet
