// One harness for every layer (after ggml's test-backend-ops): forward runs, and the hand-written
// backward agrees with central finite differences for the input and for every weight.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "seqnet/layer.h"
#include "seqnet/threads.h"

namespace seqnet::testing {

struct GradCheckOptions {
  bool training = false;           // forward in training mode; dropout masks are redrawn from `seed` each call
  uint64_t seed = 42;
  const Tensor* mask = nullptr;    // input mask passed to the layer
  double step = 2e-3;              // finite-difference step
  double atol = 2e-3, rtol = 2e-2; // |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)
  int max_checks_per_tensor = 48;  // sampled elements per tensor (all when smaller)
  bool check_input = true;         // false for integer inputs (Embedding)
};

// Builds `layer` for x's shape (batch axis kept concrete) when it is not built yet, then checks
// d(sum(w * y))/dx and d/dparam for a fixed random w. Reports failures through GoogleTest.
void expect_gradients_match(Layer& layer, const Tensor& x, GradCheckOptions options = {});

// A tensor of the given shape with values uniform in [lo, hi), from a fixed seed.
Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

// Runs the enclosing scope on n threads (seqnet::set_num_threads) and restores the count before.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : before_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(before_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int before_;
};

// Fails the test when any |a - b| > tol, naming the first bad index.
void expect_tensor_near(const Tensor& actual, const Tensor& expected, double tol, const std::string& what = "");

// Fails the test when the largest |a - b| / (1 + |b|) passes tol (the shapes must be equal).
void expect_relative_close(const Tensor& actual, const Tensor& expected, double tol, const std::string& what);

// Ids (B, T) int32 uniform in [0, vocab), from a fixed seed.
Tensor random_ids(int64_t B, int64_t T, int32_t vocab, uint64_t seed);

}  // namespace seqnet::testing
