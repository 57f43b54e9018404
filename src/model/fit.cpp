// compile / fit / evaluate / predict: the Keras training loop.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>

#include "model/progbar.h"
#include "seqnet/distributed.h"
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
  // The data has no gradient: the first layer may skip its input gradient.
  Tensor y_pred = forward(x, {.training = true, .input_grad = false});
  auto* last = dynamic_cast<LogitsLayer*>(nodes_.back().layer.get());
  double loss_value;
  Tensor grad;
  if (last && loss_->fuses_with(last->output_activation())) {
    loss_value = loss_->compute_from_logits(last->logits(), y, &grad);
    backward_below(nodes_.size() - 1, last->backward_from_logits(grad));
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
  check_xy(x, y, "train_on_batch");
  return train_step(x, y);
}

double Model::train_step(const Tensor& x, const Tensor& y) {
  const int64_t n = x.dim(0);
  Tensor local_x = x, local_y = y;
  double share = 1.0;  // this rank's fraction of the global batch
  if (distributed::active()) {
    auto [begin, end] = distributed::shard(n);
    local_x = x.slice_rows(begin, end);
    local_y = y.slice_rows(begin, end);
    share = double(end - begin) / double(n);
  }
  zero_grads();
  double loss_value = local_x.dim(0) > 0 ? loss_and_backward(local_x, local_y, true) : 0.0;
  std::vector<Param*> params = trainable_params();
  if (distributed::active()) {
    // The gradient of the global mean loss is the share-weighted sum of the ranks' gradients: one fused
    // buffer, one allreduce per step. The loss travels in the same buffer.
    int64_t total = 1;
    for (Param* p : params) total += p->grad.size();
    std::vector<float> buffer(static_cast<size_t>(total));
    float* out = buffer.data();
    for (Param* p : params) {
      const float* g = p->grad.data();
      for (int64_t i = 0; i < p->grad.size(); ++i) *out++ = float(g[i] * share);
    }
    *out = float(loss_value * share);
    distributed::allreduce_sum(buffer.data(), total);
    const float* in = buffer.data();
    for (Param* p : params) {
      std::copy_n(in, p->grad.size(), p->grad.data());
      in += p->grad.size();
    }
    loss_value = *in;
  }
  if (std::isfinite(loss_value)) optimizer_->apply(params);
  return loss_value;
}

void Model::reduce_metrics() {
  if (!distributed::active() || metrics_.empty()) return;
  std::vector<double> state;
  for (auto& m : metrics_) {
    auto [total, count] = m->state();
    state.push_back(total);
    state.push_back(count);
  }
  distributed::allreduce_sum(state.data(), int64_t(state.size()));
  for (size_t i = 0; i < metrics_.size(); ++i) metrics_[i]->set_state(state[2 * i], state[2 * i + 1]);
}

namespace {
// A running, sample-weighted mean of the loss, as Keras's progress bar shows it.
struct EpochAverages {
  double loss_sum = 0, count = 0;
  void add(double loss, double n) {
    loss_sum += loss * n;
    count += n;
  }
  double loss() const { return count ? loss_sum / count : 0.0; }
};

// fit(x, y): consecutive or shuffled batches of arrays, reshuffled every epoch.
class ArraySource : public BatchSource {
 public:
  ArraySource(const Tensor& x, const Tensor& y, int64_t batch_size, bool shuffle, Rng& rng)
      : x_(x), y_(y), batch_(batch_size), shuffle_(shuffle), rng_(rng) {}
  int64_t batches() const { return (x_.dim(0) + batch_ - 1) / batch_; }
  void start_epoch() {
    if (shuffle_) {
      order_ = rng_.permutation(x_.dim(0));
    } else {
      order_.resize(size_t(x_.dim(0)));
      for (size_t i = 0; i < order_.size(); ++i) order_[i] = int64_t(i);
    }
    pos_ = 0;
  }
  std::pair<Tensor, Tensor> next_batch() override {
    if (pos_ >= x_.dim(0)) start_epoch();
    int64_t end = std::min<int64_t>(pos_ + batch_, x_.dim(0));
    std::vector<int64_t> rows(order_.begin() + pos_, order_.begin() + end);
    int64_t begin = pos_;
    pos_ = end;
    if (!shuffle_) return {x_.slice_rows(begin, end), y_.slice_rows(begin, end)};
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
}  // namespace

// Where the end-of-epoch validation comes from: arrays (validation_data / validation_split) or a source.
struct Model::Validation {
  const Tensor* x = nullptr;
  const Tensor* y = nullptr;
  BatchSource* source = nullptr;
  int64_t steps = 0;
  int64_t batch_size = 32;
};

History Model::fit_loop(BatchSource& train, int64_t steps_per_epoch, FitOptions& options, const Validation& validation) {
  if (!distributed::is_root()) options.verbose = 0;  // rank 0 alone prints
  if (distributed::active()) {
    // Identical starting weights everywhere; a dropout stream of each rank's own.
    for (Param* p : params()) distributed::broadcast(p->value.data(), p->value.size());
    rng_ = Rng(rng_.next_u64() + uint64_t(distributed::rank()));
  }
  History history;
  Logs logs;
  stop_training = false;
  for (auto& cb : options.callbacks) cb->set_model(this);
  for (auto& cb : options.callbacks) cb->on_train_begin(logs);
  auto* arrays = dynamic_cast<ArraySource*>(&train);
  for (int epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch) {
    if (options.verbose) std::printf("Epoch %d/%d\n", epoch + 1, options.epochs), std::fflush(stdout);
    Logs epoch_logs;
    for (auto& cb : options.callbacks) cb->on_epoch_begin(epoch, epoch_logs);
    for (auto& m : metrics_) m->reset();
    if (arrays) arrays->start_epoch();
    Progbar bar(steps_per_epoch, options.verbose);
    EpochAverages avg;
    Logs batch_logs;
    int64_t step = 0;
    while (step < steps_per_epoch) {
      for (auto& cb : options.callbacks) cb->on_train_batch_begin(int(step), batch_logs);
      auto [bx, by] = train.next_batch();
      if (options.tbptt_steps > 0) ensure_built_variable_length(*this, bx);
      ensure_built(*this, bx);
      check_xy(bx, by, arrays ? "fit" : "fit (batch source)");
      double loss_value = options.tbptt_steps > 0 ? tbptt_step(bx, by, options.tbptt_steps) : train_step(bx, by);
      avg.add(loss_value, double(bx.dim(0)));
      ++step;
      if (!std::isfinite(loss_value)) {
        if (options.verbose) std::printf("\n");
        if (distributed::is_root())
          std::printf("Batch %lld: Invalid loss, terminating training\n", static_cast<long long>(step - 1));
        std::fflush(stdout);
        stop_training = true;
        break;
      }
      batch_logs.clear();
      batch_logs.set("loss", avg.loss());
      for (auto& m : metrics_) batch_logs.set(m->name(), m->result());
      for (auto& cb : options.callbacks) cb->on_train_batch_end(int(step - 1), batch_logs);
      if (step < steps_per_epoch) bar.update(step, batch_logs);
    }
    reduce_metrics();
    epoch_logs.set("loss", avg.loss());
    for (auto& m : metrics_) epoch_logs.set(m->name(), m->result());
    if (validation.x) {
      Logs v = evaluate(*validation.x, *validation.y, {.batch_size = validation.batch_size, .verbose = 0});
      for (const auto& [k, value] : v.items()) epoch_logs.set("val_" + k, value);
    } else if (validation.source && validation.steps > 0) {
      Logs v = evaluate(*validation.source, validation.steps);
      for (const auto& [k, value] : v.items()) epoch_logs.set("val_" + k, value);
    }
    bar.update(step, epoch_logs, /*finalize=*/true);
    epochs_completed = epoch + 1;
    for (auto& cb : options.callbacks) cb->on_epoch_end(epoch, epoch_logs);
    history.append(epoch, epoch_logs);
    logs = epoch_logs;
  }
  for (auto& cb : options.callbacks) cb->on_train_end(logs);
  return history;
}

History Model::fit(const Tensor& x, const Tensor& y, FitOptions options) {
  if (options.tbptt_steps > 0) ensure_built_variable_length(*this, x);
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
    // Keras takes the last fraction, before any shuffling.
    int64_t split_at = int64_t(std::floor(double(x.dim(0)) * (1.0 - options.validation_split)));
    if (split_at == 0 || split_at == x.dim(0))
      throw Error(fmt::format("fit: validation_split={} leaves an empty training or validation set for {} samples",
                              options.validation_split, x.dim(0)));
    train_x = x.slice_rows(0, split_at);
    train_y = y.slice_rows(0, split_at);
    val_x = x.slice_rows(split_at, x.dim(0));
    val_y = y.slice_rows(split_at, x.dim(0));
  }
  ArraySource source(train_x, train_y, options.batch_size, options.shuffle, shuffle_rng_);
  Validation validation;
  if (!val_x.empty()) validation = {.x = &val_x, .y = &val_y, .batch_size = options.batch_size};
  return fit_loop(source, source.batches(), options, validation);
}

History Model::fit(BatchSource& train, FitOptions options) {
  if (options.steps_per_epoch <= 0) throw Error("fit(BatchSource): steps_per_epoch must be positive");
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before fit()", name_));
  Validation validation{.source = options.validation_source, .steps = options.validation_steps};
  return fit_loop(train, options.steps_per_epoch, options, validation);
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options) {
  ensure_built(*this, x);
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before evaluate()", name_));
  check_xy(x, y, "evaluate");
  if (options.batch_size <= 0) throw Error("evaluate: batch_size must be positive");
  if (!distributed::is_root()) options.verbose = 0;
  for (auto& m : metrics_) m->reset();
  EpochAverages avg;
  int64_t n = x.dim(0), batches = (n + options.batch_size - 1) / options.batch_size;
  Progbar bar(batches, options.verbose);
  Logs logs;
  for (int64_t b = 0; b < batches; ++b) {
    int64_t begin = b * options.batch_size, end = std::min(n, begin + options.batch_size);
    if (distributed::active()) {  // each rank evaluates its shard of every batch
      auto [s0, s1] = distributed::shard(end - begin);
      end = begin + s1, begin += s0;
    }
    if (end > begin) {
      Tensor bx = x.slice_rows(begin, end), by = y.slice_rows(begin, end);
      Tensor pred = forward(bx, {.keep_for_backward = false});
      avg.add(loss_->compute(pred, by, nullptr), double(end - begin));
      for (auto& m : metrics_) m->update(pred, by);
    }
    if (options.verbose && b + 1 < batches) {
      logs.clear();
      logs.set("loss", avg.loss());
      for (auto& m : metrics_) logs.set(m->name(), m->result());
      bar.update(b + 1, logs);
    }
  }
  double sums[2] = {avg.loss_sum, avg.count};
  distributed::allreduce_sum(sums, 2);
  reduce_metrics();
  logs.clear();
  logs.set("loss", sums[1] ? sums[0] / sums[1] : 0.0);
  for (auto& m : metrics_) logs.set(m->name(), m->result());
  bar.update(batches, logs, true);
  return logs;
}

Logs Model::evaluate(BatchSource& source, int64_t steps) {
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before evaluate()", name_));
  if (steps <= 0) throw Error("evaluate(BatchSource): steps must be positive");
  for (auto& m : metrics_) m->reset();
  EpochAverages avg;
  for (int64_t s = 0; s < steps; ++s) {
    auto [x, y] = source.next_batch();
    ensure_built(*this, x);
    check_xy(x, y, "evaluate (batch source)");
    int64_t begin = 0, end = x.dim(0);
    if (distributed::active()) std::tie(begin, end) = distributed::shard(x.dim(0));
    if (end <= begin) continue;
    Tensor bx = x.slice_rows(begin, end), by = y.slice_rows(begin, end);
    Tensor pred = forward(bx, {.keep_for_backward = false});
    avg.add(loss_->compute(pred, by, nullptr), double(end - begin));
    for (auto& m : metrics_) m->update(pred, by);
  }
  double sums[2] = {avg.loss_sum, avg.count};
  distributed::allreduce_sum(sums, 2);
  reduce_metrics();
  Logs logs;
  logs.set("loss", sums[1] ? sums[0] / sums[1] : 0.0);
  for (auto& m : metrics_) logs.set(m->name(), m->result());
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
    Tensor pred = forward(x.slice_rows(begin, end), {.keep_for_backward = false});
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
