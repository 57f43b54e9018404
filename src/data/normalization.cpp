#include "seqnet/data/normalization.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace seqnet::data {

ColumnNormalizer::ColumnNormalizer(std::vector<double> mean, std::vector<double> stddev)
    : mean_(std::move(mean)), std_(std::move(stddev)) {
  if (mean_.size() != std_.size()) throw Error("ColumnNormalizer: mean and std differ in length");
  for (size_t c = 0; c < std_.size(); ++c)
    if (!(std_[c] > 0) || !std::isfinite(std_[c]) || !std::isfinite(mean_[c]))
      throw Error("ColumnNormalizer: column " + std::to_string(c) + " needs a finite mean and a positive std");
}

ColumnNormalizer ColumnNormalizer::fit(const Tensor& data, int64_t begin, int64_t end) {
  if (data.rank() != 2 || !data.is_float())
    throw Error("ColumnNormalizer::fit: data must be float32 (rows, columns), got " + data.shape_string());
  const int64_t rows = data.dim(0), cols = data.dim(1);
  if (end < 0) end = rows;
  if (begin < 0 || end > rows || begin >= end)
    throw Error("ColumnNormalizer::fit: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") are not a non-empty range of the " + std::to_string(rows) + " rows");
  std::vector<double> mean(static_cast<size_t>(cols), 0.0), sd(static_cast<size_t>(cols), 0.0);
  const double n = static_cast<double>(end - begin);
  for (int64_t r = begin; r < end; ++r)
    for (int64_t c = 0; c < cols; ++c) mean[static_cast<size_t>(c)] += data.data()[r * cols + c];
  for (auto& m : mean) m /= n;
  for (int64_t r = begin; r < end; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double d = data.data()[r * cols + c] - mean[static_cast<size_t>(c)];
      sd[static_cast<size_t>(c)] += d * d;
    }
  for (size_t c = 0; c < sd.size(); ++c) {
    if (!std::isfinite(mean[c])) throw Error("ColumnNormalizer::fit: column " + std::to_string(c) + " holds NaN or infinity in the fitted rows");
    sd[c] = std::sqrt(sd[c] / n);
    if (sd[c] == 0) sd[c] = 1.0;
  }
  return ColumnNormalizer(std::move(mean), std::move(sd));
}

Tensor ColumnNormalizer::transform(const Tensor& data) const {
  if (!data.is_float() || data.rank() == 0 || data.dim(-1) != columns())
    throw Error("ColumnNormalizer: expected float32 data with " + std::to_string(columns()) + " columns on the last axis, got " + data.shape_string());
  Tensor out = data;
  const int64_t cols = columns();
  for (int64_t i = 0; i < out.size(); ++i) {
    const size_t c = static_cast<size_t>(i % cols);
    out[i] = static_cast<float>((out[i] - mean_[c]) / std_[c]);
  }
  return out;
}

Tensor ColumnNormalizer::inverse_transform(const Tensor& data) const {
  if (!data.is_float() || data.rank() == 0 || data.dim(-1) != columns())
    throw Error("ColumnNormalizer: expected float32 data with " + std::to_string(columns()) + " columns on the last axis, got " + data.shape_string());
  Tensor out = data;
  const int64_t cols = columns();
  for (int64_t i = 0; i < out.size(); ++i) {
    const size_t c = static_cast<size_t>(i % cols);
    out[i] = static_cast<float>(out[i] * std_[c] + mean_[c]);
  }
  return out;
}

float ColumnNormalizer::inverse(float value, int64_t column) const {
  if (column < 0 || column >= columns())
    throw Error("ColumnNormalizer: column " + std::to_string(column) + " out of range (" + std::to_string(columns()) + " columns)");
  return static_cast<float>(value * std_[static_cast<size_t>(column)] + mean_[static_cast<size_t>(column)]);
}

Tensor ColumnNormalizer::inverse_column(const Tensor& values, int64_t column) const {
  if (!values.is_float()) throw Error("ColumnNormalizer::inverse_column: values must be float32");
  Tensor out = values;
  for (int64_t i = 0; i < out.size(); ++i) out[i] = inverse(out[i], column);
  return out;
}

std::string ColumnNormalizer::to_json() const {
  nlohmann::json j = {{"class_name", "ColumnNormalizer"}, {"mean", mean_}, {"std", std_}};
  return j.dump();
}

ColumnNormalizer ColumnNormalizer::from_json(const std::string& text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.value("class_name", "") != "ColumnNormalizer") throw Error("ColumnNormalizer::from_json: not a ColumnNormalizer");
    return ColumnNormalizer(j.at("mean").get<std::vector<double>>(), j.at("std").get<std::vector<double>>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("ColumnNormalizer::from_json: ") + e.what());
  }
}

}  // namespace seqnet::data
