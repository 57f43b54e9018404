// Metrics accumulated over an epoch (Keras's stateful metrics): sample-weighted means.
#pragma once
#include <memory>
#include <string>

#include "seqnet/tensor.h"

namespace seqnet {

class Metric {
 public:
  explicit Metric(std::string display_name) : display_name_(std::move(display_name)) {}
  virtual ~Metric() = default;
  const std::string& name() const { return display_name_; }  // the name logged, as the user spelled it
  void reset() { total_ = 0.0; count_ = 0.0; }
  void update(const Tensor& y_pred, const Tensor& y_true);
  double result() const { return count_ > 0 ? total_ / count_ : 0.0; }
  // The running (sum, count), so that ranks of a data-parallel run can add theirs up.
  std::pair<double, double> state() const { return {total_, count_}; }
  void set_state(double total, double count) { total_ = total, count_ = count; }

 protected:
  // Adds per-sample values: returns (sum, count).
  virtual std::pair<double, double> batch_values(const Tensor& y_pred, const Tensor& y_true) const = 0;

 private:
  std::string display_name_;
  double total_ = 0.0, count_ = 0.0;
};

using MetricPtr = std::shared_ptr<Metric>;

namespace metrics {
MetricPtr BinaryAccuracy(std::string name = "binary_accuracy", float threshold = 0.5f);
MetricPtr CategoricalAccuracy(std::string name = "categorical_accuracy");
MetricPtr SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy");
MetricPtr MeanAbsoluteError(std::string name = "mae");
MetricPtr MeanSquaredError(std::string name = "mse");
// Resolves a metric name as Keras's compile does: "acc"/"accuracy" picks binary, categorical or sparse
// accuracy from the loss (and, failing that, from the output width).
MetricPtr get(const std::string& name, const std::string& loss_name, int64_t output_width);
}  // namespace metrics

}  // namespace seqnet
