#include "seqnet/metrics.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "backend/backend.h"

namespace seqnet {

void Metric::update(const Tensor& y_pred, const Tensor& y_true) {
  auto [sum, count] = batch_values(y_pred, y_true);
  total_ += sum;
  count_ += count;
}

namespace {
void check_size(const std::string& metric, const Tensor& p, const Tensor& t) {
  if (p.size() != t.size())
    throw Error(fmt::format("metric {}: y_true has shape {} but the model output has shape {}", metric, t.shape_string(),
                            p.shape_string()));
}

class BinaryAccuracyMetric : public Metric {
 public:
  BinaryAccuracyMetric(std::string n, float threshold) : Metric(std::move(n)), threshold_(threshold) {}
  std::pair<double, double> batch_values(const Tensor& p, const Tensor& t) const override {
    check_size(name(), p, t);
    return {backend().binary_hits(p, t, threshold_), double(p.size())};
  }

 private:
  float threshold_;
};

class CategoricalAccuracyMetric : public Metric {
 public:
  using Metric::Metric;
  std::pair<double, double> batch_values(const Tensor& p, const Tensor& t) const override {
    check_size(name(), p, t);
    const int64_t classes = p.dim(-1);
    return {backend().argmax_hits(p, t, classes, false), double(p.size() / classes)};
  }
};

class SparseCategoricalAccuracyMetric : public Metric {
 public:
  using Metric::Metric;
  std::pair<double, double> batch_values(const Tensor& p, const Tensor& t) const override {
    const int64_t classes = p.dim(-1), rows = p.size() / classes;
    if (t.size() != rows)
      throw Error(fmt::format("metric {}: y_true must hold one class index per sample, got shape {} for output {}",
                              name(), t.shape_string(), p.shape_string()));
    return {backend().argmax_hits(p, t, classes, true), double(rows)};
  }
};

class MeanErrorMetric : public Metric {
 public:
  MeanErrorMetric(std::string n, bool squared) : Metric(std::move(n)), squared_(squared) {}
  std::pair<double, double> batch_values(const Tensor& p, const Tensor& t) const override {
    check_size(name(), p, t);
    const double s = backend().pointwise_loss_forward(
        squared_ ? PointwiseLoss::squared_error : PointwiseLoss::absolute_error, p, t, 0.0f);
    // Per-sample means weighted by sample count equal the mean over all values.
    int64_t per_sample = p.size() / p.dim(0);
    return {s / double(per_sample), double(p.dim(0))};
  }

 private:
  bool squared_;
};
}  // namespace

namespace metrics {
MetricPtr BinaryAccuracy(std::string n, float threshold) { return std::make_shared<BinaryAccuracyMetric>(std::move(n), threshold); }
MetricPtr CategoricalAccuracy(std::string n) { return std::make_shared<CategoricalAccuracyMetric>(std::move(n)); }
MetricPtr SparseCategoricalAccuracy(std::string n) { return std::make_shared<SparseCategoricalAccuracyMetric>(std::move(n)); }
MetricPtr MeanAbsoluteError(std::string n) { return std::make_shared<MeanErrorMetric>(std::move(n), false); }
MetricPtr MeanSquaredError(std::string n) { return std::make_shared<MeanErrorMetric>(std::move(n), true); }

MetricPtr get(const std::string& n, const std::string& loss, int64_t width) {
  if (n == "acc" || n == "accuracy") {
    if (loss == "binary_crossentropy") return BinaryAccuracy(n);
    if (loss == "sparse_categorical_crossentropy") return SparseCategoricalAccuracy(n);
    if (loss == "categorical_crossentropy") return CategoricalAccuracy(n);
    return width == 1 ? BinaryAccuracy(n) : CategoricalAccuracy(n);
  }
  if (n == "binary_accuracy") return BinaryAccuracy(n);
  if (n == "categorical_accuracy") return CategoricalAccuracy(n);
  if (n == "sparse_categorical_accuracy") return SparseCategoricalAccuracy(n);
  if (n == "mae" || n == "mean_absolute_error") return MeanAbsoluteError(n);
  if (n == "mse" || n == "mean_squared_error") return MeanSquaredError(n);
  throw Error("unknown metric '" + n +
              "' (known: acc, accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mae, mse)");
}
}  // namespace metrics

}  // namespace seqnet
