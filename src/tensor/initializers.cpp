#include "seqnet/initializers.h"

#include <cmath>
#include <fmt/format.h>
#include <vector>

namespace seqnet {

namespace {

std::pair<double, double> compute_fans(const Shape& shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  if (shape.size() == 2) return {double(shape[0]), double(shape[1])};
  double receptive = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive, double(shape.back()) * receptive};
}

Tensor variance_scaling(const Shape& shape, Rng& rng, double scale, const std::string& mode, const std::string& dist) {
  auto [fan_in, fan_out] = compute_fans(shape);
  double n = mode == "fan_in" ? fan_in : mode == "fan_out" ? fan_out : (fan_in + fan_out) / 2.0;
  if (mode != "fan_in" && mode != "fan_out" && mode != "fan_avg")
    throw Error("variance_scaling: mode must be fan_in, fan_out or fan_avg, got '" + mode + "'");
  double s = scale / std::max(1.0, n);
  Tensor t(shape);
  float* p = t.data();
  if (dist == "uniform") {
    float limit = static_cast<float>(std::sqrt(3.0 * s));
    for (int64_t i = 0; i < t.size(); ++i) p[i] = rng.uniform(-limit, limit);
  } else if (dist == "truncated_normal") {
    // 0.8796... is the stddev of a standard normal truncated to [-2, 2] (Keras's constant).
    float stddev = static_cast<float>(std::sqrt(s) / 0.87962566103423978);
    for (int64_t i = 0; i < t.size(); ++i) p[i] = rng.truncated_normal(0.0f, stddev);
  } else if (dist == "untruncated_normal" || dist == "normal") {
    float stddev = static_cast<float>(std::sqrt(s));
    for (int64_t i = 0; i < t.size(); ++i) p[i] = rng.normal(0.0f, stddev);
  } else {
    throw Error("variance_scaling: unknown distribution '" + dist + "'");
  }
  return t;
}

// Keras's Orthogonal: a normal (rows, cols) matrix flattened as (prod(shape[:-1]), shape[-1]),
// QR of the tall orientation, columns signed so that diag(R) > 0, transposed back when wide.
Tensor orthogonal(const Shape& shape, Rng& rng, float gain) {
  if (shape.size() < 2) throw Error("orthogonal initializer needs a shape of rank >= 2, got " + shape_to_string(shape));
  int64_t cols = shape.back();
  int64_t rows = shape_size(shape) / cols;
  int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> a(static_cast<size_t>(m * n));  // column-major m x n
  for (auto& v : a) v = rng.normal();
  // Modified Gram-Schmidt, twice for stability; gives the Q of a QR with positive diag(R).
  for (int64_t j = 0; j < n; ++j) {
    double* qj = &a[static_cast<size_t>(j * m)];
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t k = 0; k < j; ++k) {
        const double* qk = &a[static_cast<size_t>(k * m)];
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += qk[i] * qj[i];
        for (int64_t i = 0; i < m; ++i) qj[i] -= dot * qk[i];
      }
    }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += qj[i] * qj[i];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < m; ++i) qj[i] /= norm;
  }
  Tensor t(shape);
  float* p = t.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      // Tall: Q is (rows, cols). Wide: Q is (cols, rows) and we take its transpose.
      double v = rows >= cols ? a[static_cast<size_t>(c * m + r)] : a[static_cast<size_t>(r * m + c)];
      p[r * cols + c] = static_cast<float>(gain * v);
    }
  return t;
}

}  // namespace

void validate_initializer(const Initializer& init) {
  static const char* known[] = {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                                "lecun_normal", "orthogonal", "random_uniform", "uniform", "random_normal", "normal",
                                "truncated_normal", "zeros", "ones", "constant", "identity", "variance_scaling"};
  for (const char* k : known)
    if (init.name == k) return;
  throw Error("unknown initializer '" + init.name + "'");
}

Tensor initialize(const Initializer& init, const Shape& shape, Rng& rng) {
  const std::string& n = init.name;
  if (n == "glorot_uniform") return variance_scaling(shape, rng, 1.0, "fan_avg", "uniform");
  if (n == "glorot_normal") return variance_scaling(shape, rng, 1.0, "fan_avg", "truncated_normal");
  if (n == "he_uniform") return variance_scaling(shape, rng, 2.0, "fan_in", "uniform");
  if (n == "he_normal") return variance_scaling(shape, rng, 2.0, "fan_in", "truncated_normal");
  if (n == "lecun_uniform") return variance_scaling(shape, rng, 1.0, "fan_in", "uniform");
  if (n == "lecun_normal") return variance_scaling(shape, rng, 1.0, "fan_in", "truncated_normal");
  if (n == "variance_scaling") return variance_scaling(shape, rng, init.scale, init.mode, init.distribution);
  if (n == "orthogonal") return orthogonal(shape, rng, init.gain);
  if (n == "zeros") return Tensor(shape);
  if (n == "ones") return Tensor::full(shape, 1.0f);
  if (n == "constant") return Tensor::full(shape, init.value);
  Tensor t(shape);
  float* p = t.data();
  if (n == "random_uniform" || n == "uniform") {
    for (int64_t i = 0; i < t.size(); ++i) p[i] = rng.uniform(init.minval, init.maxval);
    return t;
  }
  if (n == "random_normal" || n == "normal") {
    for (int64_t i = 0; i < t.size(); ++i) p[i] = rng.normal(init.mean, init.stddev);
    return t;
  }
  if (n == "truncated_normal") {
    for (int64_t i = 0; i < t.size(); ++i) p[i] = rng.truncated_normal(init.mean, init.stddev);
    return t;
  }
  if (n == "identity") {
    if (shape.size() != 2) throw Error("identity initializer needs a 2-D shape, got " + shape_to_string(shape));
    for (int64_t i = 0; i < std::min(shape[0], shape[1]); ++i) p[i * shape[1] + i] = init.gain;
    return t;
  }
  throw Error("unknown initializer '" + n + "'");
}

}  // namespace seqnet
