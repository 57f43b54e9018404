// compile / fit / evaluate / predict: the Keras training loop.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>

#include "model/progbar.h"
#include "seqnet/layers/core.h"
#include "seqnet/model.h"

namespace seqnet {

void Model::compile(CompileOptions options) {
  loss_ = options.loss.resolve();
  optimizer_ = options.optimizer.resolve();
  metrics_.clear();
  const int64_t width = built() ? output_shape().back() : 1;
  for (const auto& m : options.metrics) metrics_.push_back(metrics::get(m, loss_->name(), width));
  // Keras computes BCE on probabilities when no sigmoid precedes it — which is what the book's
  // IMDB Conv1D model (Dense(1) without activation) trains on. We do the same, and say so once.
  if (built() && loss_->name() == "binary_crossentropy") {
    auto* last = dynamic_cast<LogitsLayer*>(nodes_.back().layer.get());
    bool sigmoid_out = last && last->output_activation() == Activation::sigmoid;
    if (!sigmoid_out && loss_->expects_probabilities()) {
      std::fprintf(stderr,
                   "seqnet: warning: binary_crossentropy expects probabilities, but the output of model '%s' has no "
                   "sigmoid and from_logits is false; its values are clipped to [1e-7, 1 - 1e-7] as Keras does. "
                   "Add activation=\"sigmoid\" or use BinaryCrossentropy({.from_logits = true}).\n",
                   name_.c_str());
    }
  }
}

void Model::check_xy(const Tensor& x, const Tensor& y, const char* what) const {
  if (x.rank() == 0 || x.dim(0) == 0) throw Error(fmt::format("{}: the data set is empty (x has shape {})", what, x.shape_string()));
  if (y.rank() == 0 || y.dim(0) != x.dim(0))
    throw Error(fmt::format("{}: x has {} samples but y has {} (x shape {}, y shape {})", what, x.dim(0),
                            y.rank() ? y.dim(0) : 0, x.shape_string(), y.shape_string()));
  if (!y.is_float()) throw Error(fmt::format("{}: y must be float32, got int32 of shape {}", what, y.shape_string()));
}

double Model::loss_and_backward(const Tensor& x, const Tensor& y, bool update_metrics) {
  Tensor y_pred = forward(x, /*training=*/true);
  auto* last = dynamic_cast<LogitsLayer*>(nodes_.back().layer.get());
  double loss_value;
  Tensor grad;
  if (last && loss_->fuses_with(last->output_activation())) {
    loss_value = loss_->compute_from_logits(last->logits(), y, &grad);
    Tensor g = last->backward_from_logits(grad);
    for (size_t i = nodes_.size() - 2; i >= 1 && !g.empty(); --i) g = nodes_[i].layer->backward(g);
  } else {
    loss_value = loss_->compute(y_pred, y, &grad);
    backward(grad);
  }
  if (update_metrics)
    for (auto& m : metrics_) m->update(y_pred, y);
  return loss_value;
}

double Model::train_on_batch(const Tensor& x, const Tensor& y) {
  ensure_built(*this, x);
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before training", name_));
  zero_grads();
  double loss_value = loss_and_backward(x, y, false);
  optimizer_->apply(trainable_params());
  return loss_value;
}

namespace {
// A running, sample-weighted mean per logged value, as Keras's progress bar shows.
struct EpochAverages {
  double loss_sum = 0, count = 0;
  void add(double loss, double n) {
    loss_sum += loss * n;
    count += n;
  }
  double loss() const { return count ? loss_sum / count : 0.0; }
};

class ArraySource : public BatchSource {
 public:
  ArraySource(const Tensor& x, const Tensor& y, int64_t batch_size, bool shuffle, Rng& rng)
      : x_(x), y_(y), batch_(batch_size), shuffle_(shuffle), rng_(rng) {}
  int64_t batches() const { return (x_.dim(0) + batch_ - 1) / batch_; }
  void start_epoch() {
    order_.resize(size_t(x_.dim(0)));
    if (shuffle_) order_ = rng_.permutation(x_.dim(0));
    else
      for (size_t i = 0; i < order_.size(); ++i) order_[i] = int64_t(i);
    pos_ = 0;
  }
  std::pair<Tensor, Tensor> next_batch() override {
    int64_t end = std::min<int64_t>(pos_ + batch_, x_.dim(0));
    std::vector<int64_t> rows(order_.begin() + pos_, order_.begin() + end);
    pos_ = end;
    if (!shuffle_) return {x_.slice_rows(rows.front(), rows.back() + 1), y_.slice_rows(rows.front(), rows.back() + 1)};
    return {x_.gather_rows(rows), y_.gather_rows(rows)};
  }

 private:
  const Tensor& x_;
  const Tensor& y_;
  int64_t batch_;
  bool shuffle_;
  Rng& rng_;
  std::vector<int64_t> order_;
  int64_t pos_ = 0;
};

struct Loop {
  Model& model;
  FitOptions& opt;
  History history;
  Logs logs;

  void begin() {
    model.stop_training = false;
    for (auto& cb : opt.callbacks) cb->set_model(&model);
    for (auto& cb : opt.callbacks) cb->on_train_begin(logs);
  }
  void end() {
    for (auto& cb : opt.callbacks) cb->on_train_end(logs);
  }
};
}  // namespace

History Model::fit(const Tensor& x, const Tensor& y, FitOptions options) {
  ensure_built(*this, x);
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before fit()", name_));
  check_xy(x, y, "fit");
  if (options.batch_size <= 0) throw Error(fmt::format("fit: batch_size must be positive, got {}", options.batch_size));
  if (!(options.validation_split >= 0.0f && options.validation_split < 1.0f))
    throw Error(fmt::format("fit: validation_split must be in [0, 1), got {}", options.validation_split));

  Tensor train_x = x, train_y = y, val_x, val_y;
  if (options.validation_data) {
    val_x = options.validation_data->first;
    val_y = options.validation_data->second;
    check_xy(val_x, val_y, "fit (validation_data)");
  } else if (options.validation_split > 0.0f) {
    int64_t split_at = int64_t(std::floor(double(x.dim(0)) * (1.0 - options.validation_split)));
    if (split_at == 0 || split_at == x.dim(0))
      throw Error(fmt::format("fit: validation_split={} leaves an empty training or validation set for {} samples",
                              options.validation_split, x.dim(0)));
    train_x = x.slice_rows(0, split_at);
    train_y = y.slice_rows(0, split_at);
    val_x = x.slice_rows(split_at, x.dim(0));
    val_y = y.slice_rows(split_at, x.dim(0));
  }

  ArraySource source(train_x, train_y, options.batch_size, options.shuffle, rng_);
  Loop loop{*this, options, {}, {}};
  loop.begin();
  for (int epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch) {
    if (options.verbose) std::printf("Epoch %d/%d\n", epoch + 1, options.epochs), std::fflush(stdout);
    Logs epoch_logs;
    for (auto& cb : options.callbacks) cb->on_epoch_begin(epoch, epoch_logs);
    for (auto& m : metrics_) m->reset();
    source.start_epoch();
    Progbar bar(source.batches(), options.verbose);
    EpochAverages avg;
    Logs batch_logs;
    int64_t step = 0;
    for (; step < source.batches(); ++step) {
      for (auto& cb : options.callbacks) cb->on_train_batch_begin(int(step), batch_logs);
      auto [bx, by] = source.next_batch();
      zero_grads();
      double loss_value = loss_and_backward(bx, by, true);
      if (!std::isfinite(loss_value)) {
        std::printf("\nBatch %lld: Invalid loss, terminating training\n", static_cast<long long>(step));
        stop_training = true;
        avg.add(loss_value, double(bx.dim(0)));
        ++step;
        break;
      }
      optimizer_->apply(trainable_params());
      avg.add(loss_value, double(bx.dim(0)));
      batch_logs.clear();
      batch_logs.set("loss", avg.loss());
      for (auto& m : metrics_) batch_logs.set(m->name(), m->result());
      for (auto& cb : options.callbacks) cb->on_train_batch_end(int(step), batch_logs);
      if (step + 1 < source.batches()) bar.update(step + 1, batch_logs);
    }
    epoch_logs.set("loss", avg.loss());
    for (auto& m : metrics_) epoch_logs.set(m->name(), m->result());
    if (!val_x.empty()) {
      Logs v = evaluate(val_x, val_y, {.batch_size = options.batch_size, .verbose = 0});
      for (const auto& [k, value] : v.items()) epoch_logs.set("val_" + k, value);
    }
    bar.update(step, epoch_logs, /*finalize=*/true);
    epochs_completed = epoch + 1;
    for (auto& cb : options.callbacks) cb->on_epoch_end(epoch, epoch_logs);
    loop.history.append(epoch, epoch_logs);
    loop.logs = epoch_logs;
  }
  loop.end();
  return loop.history;
}

History Model::fit(BatchSource& train, FitOptions options) {
  if (options.steps_per_epoch <= 0) throw Error("fit(BatchSource): steps_per_epoch must be positive");
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before fit()", name_));
  Loop loop{*this, options, {}, {}};
  loop.begin();
  for (int epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch) {
    if (options.verbose) std::printf("Epoch %d/%d\n", epoch + 1, options.epochs), std::fflush(stdout);
    Logs epoch_logs;
    for (auto& cb : options.callbacks) cb->on_epoch_begin(epoch, epoch_logs);
    for (auto& m : metrics_) m->reset();
    Progbar bar(options.steps_per_epoch, options.verbose);
    EpochAverages avg;
    Logs batch_logs;
    int64_t step = 0;
    for (; step < options.steps_per_epoch; ++step) {
      for (auto& cb : options.callbacks) cb->on_train_batch_begin(int(step), batch_logs);
      auto [bx, by] = train.next_batch();
      ensure_built(*this, bx);
      check_xy(bx, by, "fit (batch source)");
      zero_grads();
      double loss_value = loss_and_backward(bx, by, true);
      if (!std::isfinite(loss_value)) {
        std::printf("\nBatch %lld: Invalid loss, terminating training\n", static_cast<long long>(step));
        stop_training = true;
        avg.add(loss_value, double(bx.dim(0)));
        ++step;
        break;
      }
      optimizer_->apply(trainable_params());
      avg.add(loss_value, double(bx.dim(0)));
      batch_logs.clear();
      batch_logs.set("loss", avg.loss());
      for (auto& m : metrics_) batch_logs.set(m->name(), m->result());
      for (auto& cb : options.callbacks) cb->on_train_batch_end(int(step), batch_logs);
      if (step + 1 < options.steps_per_epoch) bar.update(step + 1, batch_logs);
    }
    epoch_logs.set("loss", avg.loss());
    for (auto& m : metrics_) epoch_logs.set(m->name(), m->result());
    if (options.validation_source && options.validation_steps > 0) {
      EpochAverages vavg;
      for (auto& m : metrics_) m->reset();
      for (int64_t s = 0; s < options.validation_steps; ++s) {
        auto [vx, vy] = options.validation_source->next_batch();
        check_xy(vx, vy, "fit (validation source)");
        Tensor pred = forward(vx, false);
        vavg.add(loss_->compute(pred, vy, nullptr), double(vx.dim(0)));
        for (auto& m : metrics_) m->update(pred, vy);
      }
      epoch_logs.set("val_loss", vavg.loss());
      for (auto& m : metrics_) epoch_logs.set("val_" + m->name(), m->result());
    }
    bar.update(step, epoch_logs, true);
    epochs_completed = epoch + 1;
    for (auto& cb : options.callbacks) cb->on_epoch_end(epoch, epoch_logs);
    loop.history.append(epoch, epoch_logs);
    loop.logs = epoch_logs;
  }
  loop.end();
  return loop.history;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options) {
  ensure_built(*this, x);
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before evaluate()", name_));
  check_xy(x, y, "evaluate");
  if (options.batch_size <= 0) throw Error("evaluate: batch_size must be positive");
  for (auto& m : metrics_) m->reset();
  EpochAverages avg;
  int64_t n = x.dim(0), batches = (n + options.batch_size - 1) / options.batch_size;
  Progbar bar(batches, options.verbose);
  Logs logs;
  for (int64_t b = 0; b < batches; ++b) {
    int64_t begin = b * options.batch_size, end = std::min(n, begin + options.batch_size);
    Tensor bx = x.slice_rows(begin, end), by = y.slice_rows(begin, end);
    Tensor pred = forward(bx, false);
    avg.add(loss_->compute(pred, by, nullptr), double(end - begin));
    for (auto& m : metrics_) m->update(pred, by);
    logs.clear();
    logs.set("loss", avg.loss());
    for (auto& m : metrics_) logs.set(m->name(), m->result());
    bar.update(b + 1, logs, b + 1 == batches);
  }
  return logs;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  ensure_built(*this, x);
  if (x.rank() == 0 || x.dim(0) == 0) throw Error(fmt::format("predict: the input is empty (shape {})", x.shape_string()));
  if (batch_size <= 0) throw Error("predict: batch_size must be positive");
  int64_t n = x.dim(0);
  Tensor out;
  int64_t row = 0;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    int64_t end = std::min(n, begin + batch_size);
    Tensor pred = forward(x.slice_rows(begin, end), false);
    if (out.empty()) {
      Shape s = pred.shape();
      s[0] = n;
      out = Tensor(s);
      row = pred.size() / pred.dim(0);
    }
    std::copy_n(pred.data(), pred.size(), out.data() + begin * row);
  }
  return out;
}

}  // namespace seqnet
