// compile / fit / evaluate / predict: the Keras training loop.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <type_traits>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backend/backend.h"
#include "seqnet/console.h"
#include "model/progbar.h"
#include "seqnet/distributed.h"
#include "seqnet/layers/core.h"
#include "seqnet/model.h"

namespace seqnet {

void Model::compile(CompileOptions options) {
  const size_t n_out = built() ? outputs_.size() : 1;
  const std::vector<std::string> names = built() ? output_names() : std::vector<std::string>{""};
  losses_.clear();
  if (!options.losses.empty()) {
    if (options.losses.size() != n_out)
      throw Error(fmt::format("compile: model '{}' has {} outputs, but {} losses were given", name_, n_out,
                              options.losses.size()));
    for (const auto& l : options.losses) losses_.push_back(l.resolve());
  } else {
    losses_.assign(n_out, options.loss.resolve());
  }
  loss_weights_ = options.loss_weights;
  if (loss_weights_.empty()) loss_weights_.assign(n_out, 1.0);
  if (loss_weights_.size() != n_out)
    throw Error(fmt::format("compile: model '{}' has {} outputs, but {} loss_weights were given", name_, n_out,
                            loss_weights_.size()));
  optimizer_ = options.optimizer.resolve();
  metrics_.clear();
  metric_output_.clear();
  if (!options.metrics_per_output.empty() && options.metrics_per_output.size() != n_out)
    throw Error(fmt::format("compile: model '{}' has {} outputs, but metrics_per_output lists {}", name_, n_out,
                            options.metrics_per_output.size()));
  for (size_t i = 0; i < n_out; ++i) {
    const int64_t width = built() ? output_shape(i).back() : 1;
    // Metrics given once apply to every output (Keras 2's reading of a flat list).
    std::vector<std::string> names_i = options.metrics;
    if (!options.metrics_per_output.empty())
      names_i.insert(names_i.end(), options.metrics_per_output[i].begin(), options.metrics_per_output[i].end());
    for (const auto& m : names_i) {
      metrics_.push_back(metrics::get(m, losses_[i]->name(), width));
      metric_output_.push_back(i);
    }
  }
  // Keras computes BCE on probabilities when no sigmoid precedes it — which is what the book's
  // IMDB Conv1D model (Dense(1) without activation) trains on. We do the same, and say so once.
  for (size_t i = 0; built() && i < n_out; ++i) {
    if (losses_[i]->name() != "binary_crossentropy") continue;
    auto* last = dynamic_cast<LogitsLayer*>(steps_[size_t(outputs_[i].step)].runner);
    bool sigmoid_out = last && last->output_activation() == Activation::sigmoid;
    if (!sigmoid_out && losses_[i]->expects_probabilities()) {
      console_err(fmt::format(
          "seqnet: warning: binary_crossentropy expects probabilities, but the output of model '{}'{} has no "
          "sigmoid and from_logits is false; its values are clipped to [1e-7, 1 - 1e-7] as Keras does. "
          "Add a sigmoid activation, or use BinaryCrossentropy with from_logits = true.\n",
          name_, n_out > 1 ? " ('" + names[i] + "')" : ""));
    }
  }
}

detail::ArraysRef::ArraysRef(const Arrays& a) {
  for (const auto& t : a.x) x.push_back(&t);
  for (const auto& t : a.y) y.push_back(&t);
}

void Model::check_xy(const ArraysRef& d, const char* what) const {
  if (d.x.size() != num_inputs())
    throw Error(fmt::format("{}: model '{}' takes {} inputs ({}), got {} arrays", what, name_, num_inputs(),
                            fmt::join(input_names(), ", "), d.x.size()));
  if (d.y.size() != num_outputs())
    throw Error(fmt::format("{}: model '{}' has {} outputs ({}), got {} target arrays", what, name_, num_outputs(),
                            fmt::join(output_names(), ", "), d.y.size()));
  const Tensor& x = *d.x[0];
  if (x.rank() == 0 || x.dim(0) == 0) throw Error(fmt::format("{}: the data set is empty (x has shape {})", what, x.shape_string()));
  for (size_t i = 1; i < d.x.size(); ++i)
    if (d.x[i]->rank() == 0 || d.x[i]->dim(0) != x.dim(0))
      throw Error(fmt::format("{}: input '{}' has {} samples but input '{}' has {}", what, input_names()[i],
                              d.x[i]->rank() ? d.x[i]->dim(0) : 0, input_names()[0], x.dim(0)));
  for (size_t i = 0; i < d.y.size(); ++i) {
    const Tensor& y = *d.y[i];
    const std::string which = d.y.size() > 1 ? " (output '" + output_names()[i] + "')" : "";
    if (y.rank() == 0 || y.dim(0) != x.dim(0))
      throw Error(fmt::format("{}: x has {} samples but y{} has {} (x shape {}, y shape {})", what, x.dim(0), which,
                              y.rank() ? y.dim(0) : 0, x.shape_string(), y.shape_string()));
    if (!y.is_float()) throw Error(fmt::format("{}: y{} must be float32, got int32 of shape {}", what, which, y.shape_string()));
  }
}

double Model::compute_loss(const std::vector<Tensor>& pred, const std::vector<const Tensor*>& y, std::vector<double>& per_output) {
  per_output.assign(pred.size(), 0.0);
  double total = 0.0;
  for (size_t i = 0; i < pred.size(); ++i) {
    per_output[i] = losses_[i]->compute(pred[i], *y[i], nullptr);
    total += loss_weights_[i] * per_output[i];
  }
  return total;
}

void Model::update_metrics(const std::vector<Tensor>& pred, const std::vector<const Tensor*>& y) {
  for (size_t k = 0; k < metrics_.size(); ++k) metrics_[k]->update(pred[metric_output_[k]], *y[metric_output_[k]]);
}

// Keras's names: "loss" and the metric's name for one output; with several, also "<output>_loss" and
// "<output>_<metric>".
void Model::set_metric_logs(Logs& logs, double loss, const std::vector<double>& output_losses) const {
  logs.set("loss", loss);
  const bool several = outputs_.size() > 1;
  const std::vector<std::string> names = several ? output_names() : std::vector<std::string>{};
  if (several)
    for (size_t i = 0; i < output_losses.size(); ++i) logs.set(names[i] + "_loss", output_losses[i]);
  for (size_t k = 0; k < metrics_.size(); ++k)
    logs.set(several ? names[metric_output_[k]] + "_" + metrics_[k]->name() : metrics_[k]->name(), metrics_[k]->result());
}

double Model::loss_and_backward(const ArraysRef& batch, bool update) {
  // The data has no gradient: the first layers may skip their input gradient.
  std::vector<Tensor> y_pred = forward_inputs(batch.x, {.training = true, .input_grad = false});
  const size_t n_out = y_pred.size();
  std::vector<Tensor> grads(n_out);
  std::vector<bool> of_logits(n_out, false);
  batch_output_losses_.assign(n_out, 0.0);
  double total = 0.0;
  for (size_t i = 0; i < n_out; ++i) {
    const Loss& loss = *losses_[i];
    LogitsLayer* last = fusable_output(i);
    if (last && loss.fuses_with(last->output_activation())) {
      batch_output_losses_[i] = loss.compute_from_logits(last->logits(), *batch.y[i], &grads[i]);
      of_logits[i] = true;
    } else {
      batch_output_losses_[i] = loss.compute(y_pred[i], *batch.y[i], &grads[i]);
    }
    if (loss_weights_[i] != 1.0) backend().scale(grads[i], grads[i], float(loss_weights_[i]));
    total += loss_weights_[i] * batch_output_losses_[i];
  }
  backward_graph(std::move(grads), of_logits);
  if (update) update_metrics(y_pred, batch.y);
  return total;
}

double Model::train_on_batch(const Tensor& x, const Tensor& y) {
  ensure_built(*this, x);
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before training", name_));
  ArraysRef batch(x, y);
  check_xy(batch, "train_on_batch");
  return train_step(batch);
}

double Model::train_on_batch(const Arrays& batch) {
  if (!built()) throw Error(fmt::format("model '{}' is not built", name_));
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before training", name_));
  ArraysRef ref(batch);
  check_xy(ref, "train_on_batch");
  return train_step(ref);
}

namespace {
template <typename Data>
Arrays slice_arrays(const Data& d, int64_t begin, int64_t end) {
  auto ref = [](const auto& t) -> const Tensor& {
    if constexpr (std::is_pointer_v<std::decay_t<decltype(t)>>) return *t;
    else return t;
  };
  Arrays out(std::vector<Tensor>{}, std::vector<Tensor>{});
  for (const auto& t : d.x) out.x.push_back(ref(t).slice_rows(begin, end));
  for (const auto& t : d.y) out.y.push_back(ref(t).slice_rows(begin, end));
  return out;
}
}  // namespace

double Model::train_step(const ArraysRef& batch) {
  const int64_t n = batch.x[0]->dim(0);
  Arrays shard(std::vector<Tensor>{}, std::vector<Tensor>{});
  std::optional<ArraysRef> shard_ref;
  double share = 1.0;  // this rank's fraction of the global batch
  if (distributed::active()) {
    auto [begin, end] = distributed::shard(n);
    shard = slice_arrays(batch, begin, end);
    shard_ref.emplace(shard);
    share = double(end - begin) / double(n);
  }
  const ArraysRef& local = shard_ref ? *shard_ref : batch;
  zero_grads();
  double loss_value = 0.0;
  if (local.x[0]->dim(0) > 0) {
    loss_value = loss_and_backward(local, true);
  } else {
    batch_output_losses_.assign(outputs_.size(), 0.0);
  }
  std::vector<Param*> params = trainable_params();
  if (distributed::active()) {
    // The gradient of the global mean loss is the share-weighted sum of the ranks' gradients: one fused
    // buffer, one allreduce per step. The losses travel in the same buffer.
    const int64_t n_losses = 1 + int64_t(batch_output_losses_.size());
    int64_t total = n_losses;
    for (Param* p : params) total += p->grad.size();
    std::vector<float> buffer(static_cast<size_t>(total));
    float* out = buffer.data();
    for (Param* p : params) {
      const float* g = p->grad.data();
      for (int64_t i = 0; i < p->grad.size(); ++i) *out++ = float(g[i] * share);
    }
    *out++ = float(loss_value * share);
    for (double l : batch_output_losses_) *out++ = float(l * share);
    distributed::allreduce_sum(buffer.data(), total);
    const float* in = buffer.data();
    for (Param* p : params) {
      std::copy_n(in, p->grad.size(), p->grad.data());
      in += p->grad.size();
    }
    loss_value = *in++;
    for (double& l : batch_output_losses_) l = *in++;
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

// Where fit's batches come from: arrays (shuffled per epoch) or a BatchSource.
class Batches {
 public:
  virtual ~Batches() = default;
  virtual void start_epoch() {}
  virtual Arrays next() = 0;
  virtual const char* what() const = 0;
};

namespace {
// Running, sample-weighted means of the loss and of each output's loss, as Keras's progress bar shows them.
struct EpochAverages {
  double loss_sum = 0, count = 0;
  std::vector<double> output_sums;
  void add(double loss, const std::vector<double>& outputs, double n) {
    loss_sum += loss * n;
    count += n;
    output_sums.resize(outputs.size(), 0.0);
    for (size_t i = 0; i < outputs.size(); ++i) output_sums[i] += outputs[i] * n;
  }
  double loss() const { return count ? loss_sum / count : 0.0; }
  std::vector<double> outputs() const {
    std::vector<double> out;
    for (double s : output_sums) out.push_back(count ? s / count : 0.0);
    return out;
  }
  // Sums over ranks (identity on one rank).
  void reduce() {
    std::vector<double> sums{loss_sum, count};
    sums.insert(sums.end(), output_sums.begin(), output_sums.end());
    distributed::allreduce_sum(sums.data(), int64_t(sums.size()));
    loss_sum = sums[0], count = sums[1];
    for (size_t i = 0; i < output_sums.size(); ++i) output_sums[i] = sums[2 + i];
  }
};


// fit(x, y): consecutive or shuffled batches of arrays, reshuffled every epoch.
class ArrayBatches : public Batches {
 public:
  ArrayBatches(const detail::ArraysRef& data, int64_t batch_size, bool shuffle, Rng& rng)
      : data_(data), n_(data.x[0]->dim(0)), batch_(batch_size), shuffle_(shuffle), rng_(rng) {}
  int64_t batches() const { return (n_ + batch_ - 1) / batch_; }
  void start_epoch() override {
    if (shuffle_) {
      order_ = rng_.permutation(n_);
    } else {
      order_.resize(size_t(n_));
      for (size_t i = 0; i < order_.size(); ++i) order_[i] = int64_t(i);
    }
    pos_ = 0;
  }
  Arrays next() override {
    if (pos_ >= n_) start_epoch();
    int64_t end = std::min<int64_t>(pos_ + batch_, n_);
    int64_t begin = pos_;
    pos_ = end;
    if (!shuffle_) return slice_arrays(data_, begin, end);
    std::vector<int64_t> rows(order_.begin() + begin, order_.begin() + end);
    Arrays out(std::vector<Tensor>{}, std::vector<Tensor>{});
    for (const Tensor* t : data_.x) out.x.push_back(t->gather_rows(rows));
    for (const Tensor* t : data_.y) out.y.push_back(t->gather_rows(rows));
    return out;
  }
  const char* what() const override { return "fit"; }

 private:
  detail::ArraysRef data_;
  int64_t n_, batch_;
  bool shuffle_;
  Rng& rng_;
  std::vector<int64_t> order_;
  int64_t pos_ = 0;
};

class SourceBatches : public Batches {
 public:
  explicit SourceBatches(BatchSource& source) : source_(source) {}
  Arrays next() override { return Arrays(source_.next_batch()); }
  const char* what() const override { return "fit (batch source)"; }

 private:
  BatchSource& source_;
};
}  // namespace

// Where the end-of-epoch validation comes from: arrays (validation_data / validation_split) or a source.
struct Model::Validation {
  const ArraysRef* arrays = nullptr;
  BatchSource* source = nullptr;
  int64_t steps = 0;
  int64_t batch_size = 32;
};

History Model::fit_loop(Batches& train, int64_t steps_per_epoch, FitOptions& options, const Validation& validation) {
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
  for (int epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch) {
    if (options.verbose) console_out(fmt::format("Epoch {}/{}\n", epoch + 1, options.epochs));
    Logs epoch_logs;
    for (auto& cb : options.callbacks) cb->on_epoch_begin(epoch, epoch_logs);
    for (auto& m : metrics_) m->reset();
    train.start_epoch();
    Progbar bar(steps_per_epoch, options.verbose);
    EpochAverages avg;
    Logs batch_logs;
    int64_t step = 0;
    while (step < steps_per_epoch) {
      for (auto& cb : options.callbacks) cb->on_train_batch_begin(int(step), batch_logs);
      Arrays batch = train.next();
      if (options.tbptt_steps > 0 && batch.x.size() == 1) ensure_built_variable_length(*this, batch.x[0]);
      if (batch.x.size() == 1) ensure_built(*this, batch.x[0]);
      const ArraysRef batch_ref(batch);
      check_xy(batch_ref, train.what());
      double loss_value;
      if (options.tbptt_steps > 0) {
        if (batch.x.size() != 1 || batch.y.size() != 1)
          throw Error("fit: tbptt_steps needs a model of one input and one output");
        loss_value = tbptt_step(batch.x[0], batch.y[0], options.tbptt_steps);
        batch_output_losses_.assign(1, loss_value);
      } else {
        loss_value = train_step(batch_ref);
      }
      avg.add(loss_value, batch_output_losses_, double(batch.x[0].dim(0)));
      ++step;
      if (!std::isfinite(loss_value)) {
        if (options.verbose) console_out("\n");
        if (distributed::is_root()) console_out(fmt::format("Batch {}: Invalid loss, terminating training\n", step - 1));
        stop_training = true;
        break;
      }
      batch_logs.clear();
      set_metric_logs(batch_logs, avg.loss(), avg.outputs());
      for (auto& cb : options.callbacks) cb->on_train_batch_end(int(step - 1), batch_logs);
      if (stop_training) break;  // as Keras 3: a callback may end training within an epoch
      if (step < steps_per_epoch) bar.update(step, batch_logs);
    }
    reduce_metrics();
    set_metric_logs(epoch_logs, avg.loss(), avg.outputs());
    if (validation.arrays) {
      Logs v = evaluate_ref(*validation.arrays, {.batch_size = validation.batch_size, .verbose = 0});
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
  return fit_ref(ArraysRef(x, y), std::move(options));
}

History Model::fit(const Arrays& data, FitOptions options) { return fit_ref(ArraysRef(data), std::move(options)); }

History Model::fit_ref(const ArraysRef& data, FitOptions options) {
  if (!built()) throw Error(fmt::format("model '{}' is not built", name_));
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before fit()", name_));
  check_xy(data, "fit");
  if (options.batch_size <= 0) throw Error(fmt::format("fit: batch_size must be positive, got {}", options.batch_size));
  if (!(options.validation_split >= 0.0 && options.validation_split < 1.0))
    throw Error(fmt::format("fit: validation_split must be in [0, 1), got {}", options.validation_split));
  const int64_t n = data.x[0]->dim(0);
  ArraysRef train = data;
  Arrays train_part(std::vector<Tensor>{}, std::vector<Tensor>{}), val(std::vector<Tensor>{}, std::vector<Tensor>{});
  if (options.validation_data) {
    val = *options.validation_data;
    check_xy(ArraysRef(val), "fit (validation_data)");
  } else if (options.validation_split > 0.0) {
    // Keras takes the last fraction, before any shuffling.
    int64_t split_at = int64_t(std::floor(double(n) * (1.0 - options.validation_split)));
    if (split_at == 0 || split_at == n)
      throw Error(fmt::format("fit: validation_split={} leaves an empty training or validation set for {} samples",
                              options.validation_split, n));
    train_part = slice_arrays(data, 0, split_at);
    val = slice_arrays(data, split_at, n);
    train = ArraysRef(train_part);
  }
  ArrayBatches batches(train, options.batch_size, options.shuffle, shuffle_rng_);
  const ArraysRef val_ref(val);
  Validation validation;
  if (!val.x.empty()) validation = {.arrays = &val_ref, .batch_size = options.batch_size};
  return fit_loop(batches, batches.batches(), options, validation);
}

History Model::fit(BatchSource& train, FitOptions options) {
  if (options.steps_per_epoch <= 0) throw Error("fit(BatchSource): steps_per_epoch must be positive");
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before fit()", name_));
  Validation validation{.source = options.validation_source, .steps = options.validation_steps};
  SourceBatches batches(train);
  return fit_loop(batches, options.steps_per_epoch, options, validation);
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options) {
  ensure_built(*this, x);
  return evaluate_ref(ArraysRef(x, y), options);
}

Logs Model::evaluate(const Arrays& data, EvaluateOptions options) { return evaluate_ref(ArraysRef(data), options); }

Logs Model::evaluate_ref(const ArraysRef& data, EvaluateOptions options) {
  if (!built()) throw Error(fmt::format("model '{}' is not built", name_));
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before evaluate()", name_));
  check_xy(data, "evaluate");
  if (options.batch_size <= 0) throw Error("evaluate: batch_size must be positive");
  if (!distributed::is_root()) options.verbose = 0;
  for (auto& m : metrics_) m->reset();
  EpochAverages avg;
  std::vector<double> per_output;
  int64_t n = data.x[0]->dim(0), batches = (n + options.batch_size - 1) / options.batch_size;
  Progbar bar(batches, options.verbose);
  Logs logs;
  for (int64_t b = 0; b < batches; ++b) {
    int64_t begin = b * options.batch_size, end = std::min(n, begin + options.batch_size);
    if (distributed::active()) {  // each rank evaluates its shard of every batch
      auto [s0, s1] = distributed::shard(end - begin);
      end = begin + s1, begin += s0;
    }
    if (end > begin) {
      const Arrays batch = slice_arrays(data, begin, end);
      const ArraysRef ref(batch);
      std::vector<Tensor> pred = forward_inputs(ref.x, {.keep_for_backward = false});
      double loss = compute_loss(pred, ref.y, per_output);
      avg.add(loss, per_output, double(end - begin));
      update_metrics(pred, ref.y);
    }
    if (options.verbose && b + 1 < batches) {
      logs.clear();
      set_metric_logs(logs, avg.loss(), avg.outputs());
      bar.update(b + 1, logs);
    }
  }
  avg.reduce();
  reduce_metrics();
  logs.clear();
  set_metric_logs(logs, avg.loss(), avg.outputs());
  bar.update(batches, logs, true);
  return logs;
}

Logs Model::evaluate(BatchSource& source, int64_t steps) {
  if (!compiled()) throw Error(fmt::format("model '{}' must be compiled before evaluate()", name_));
  if (steps <= 0) throw Error("evaluate(BatchSource): steps must be positive");
  for (auto& m : metrics_) m->reset();
  EpochAverages avg;
  std::vector<double> per_output;
  for (int64_t s = 0; s < steps; ++s) {
    Arrays batch(source.next_batch());
    ensure_built(*this, batch.x[0]);
    check_xy(ArraysRef(batch), "evaluate (batch source)");
    int64_t begin = 0, end = batch.x[0].dim(0);
    if (distributed::active()) std::tie(begin, end) = distributed::shard(end);
    if (end <= begin) continue;
    const Arrays part = slice_arrays(batch, begin, end);
    const ArraysRef ref(part);
    std::vector<Tensor> pred = forward_inputs(ref.x, {.keep_for_backward = false});
    double loss = compute_loss(pred, ref.y, per_output);
    avg.add(loss, per_output, double(end - begin));
    update_metrics(pred, ref.y);
  }
  avg.reduce();
  reduce_metrics();
  Logs logs;
  set_metric_logs(logs, avg.loss(), avg.outputs());
  return logs;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  ensure_built(*this, x);
  if (num_outputs() != 1)
    throw Error(fmt::format("predict: model '{}' has {} outputs: call predict with a list of inputs", name_, num_outputs()));
  return std::move(predict_ref({&x}, batch_size)[0]);
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& xs, int64_t batch_size) {
  std::vector<const Tensor*> ptrs;
  for (const auto& t : xs) ptrs.push_back(&t);
  return predict_ref(ptrs, batch_size);
}

std::vector<Tensor> Model::predict_ref(const std::vector<const Tensor*>& xs, int64_t batch_size) {
  if (!built()) throw Error(fmt::format("model '{}' is not built", name_));
  if (xs.size() != num_inputs())
    throw Error(fmt::format("predict: model '{}' takes {} inputs ({}), got {}", name_, num_inputs(),
                            fmt::join(input_names(), ", "), xs.size()));
  const Tensor& x = *xs[0];
  if (x.rank() == 0 || x.dim(0) == 0) throw Error(fmt::format("predict: the input is empty (shape {})", x.shape_string()));
  for (size_t i = 1; i < xs.size(); ++i)
    if (xs[i]->rank() == 0 || xs[i]->dim(0) != x.dim(0))
      throw Error(fmt::format("predict: input '{}' has {} samples but input '{}' has {}", input_names()[i],
                              xs[i]->rank() ? xs[i]->dim(0) : 0, input_names()[0], x.dim(0)));
  if (batch_size <= 0) throw Error("predict: batch_size must be positive");
  const int64_t n = x.dim(0);
  std::vector<Tensor> out(num_outputs());
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    int64_t end = std::min(n, begin + batch_size);
    std::vector<Tensor> part;
    std::vector<const Tensor*> part_ptrs;
    const bool whole = begin == 0 && end == n;  // one batch: the inputs themselves
    for (const Tensor* t : xs) part.push_back(whole ? Tensor() : t->slice_rows(begin, end));
    for (size_t i = 0; i < xs.size(); ++i) part_ptrs.push_back(whole ? xs[i] : &part[i]);
    std::vector<Tensor> pred = forward_inputs(part_ptrs, {.keep_for_backward = false});
    for (size_t k = 0; k < pred.size(); ++k) {
      if (out[k].empty()) {
        Shape s = pred[k].shape();
        s[0] = n;
        out[k] = Tensor(s);
      }
      const int64_t row = pred[k].size() / pred[k].dim(0);
      backend().copy_rows(out[k], pred[k], {.rows = 1, .length = pred[k].size(), .dst_offset = begin * row});
    }
  }
  return out;
}

}  // namespace seqnet
