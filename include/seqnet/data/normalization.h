// Per-column standardization fitted on a training range only: (x - mean) / std, and back to units.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::data {

class ColumnNormalizer {
 public:
  ColumnNormalizer() = default;
  ColumnNormalizer(std::vector<double> mean, std::vector<double> stddev);

  // Mean and population std (numpy's std, ddof = 0) of rows [begin, end) of a float32 (rows, columns)
  // tensor; end < 0 means every row. A constant column gets std 1, so it maps to 0 instead of NaN.
  static ColumnNormalizer fit(const Tensor& data, int64_t begin = 0, int64_t end = -1);

  // Works on any float32 tensor whose last axis has one entry per column.
  Tensor transform(const Tensor& data) const;
  Tensor inverse_transform(const Tensor& data) const;
  // One column alone: model predictions of a single target column back to units.
  Tensor inverse_column(const Tensor& values, int64_t column) const;
  float inverse(float value, int64_t column) const;

  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& std() const { return std_; }
  int64_t columns() const { return static_cast<int64_t>(mean_.size()); }

  // {"class_name": "ColumnNormalizer", "mean": [...], "std": [...]}, to store with a run.
  std::string to_json() const;
  static ColumnNormalizer from_json(const std::string& text);

 private:
  std::vector<double> mean_, std_;
};

}  // namespace seqnet::data
