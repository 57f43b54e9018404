#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "seqnet/testing.h"

namespace seqnet::testing {

namespace {
// Every test linking this support library sees its threads' cores as near (seqnet/testing.h), so that the
// comparisons of one thread with two split the work on any machine.
[[maybe_unused]] const bool cores_fixed_near = [] {
  set_cores_far_apart(false);
  return true;
}();
}  // namespace

Tensor random_tensor(const Shape& shape, uint64_t seed, float lo, float hi) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

void expect_tensor_near(const Tensor& actual, const Tensor& expected, double tol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what << ": sizes differ, " << actual.shape_string() << " vs "
                                            << expected.shape_string();
  for (int64_t i = 0; i < actual.size(); ++i) {
    if (!(std::fabs(double(actual[i]) - double(expected[i])) <= tol)) {
      ADD_FAILURE() << what << ": first mismatch at flat index " << i << ": got " << actual[i] << ", expected "
                    << expected[i] << " (tol " << tol << ")";
      return;
    }
  }
}

void expect_relative_close(const Tensor& actual, const Tensor& expected, double tol, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  double worst = 0;
  for (int64_t i = 0; i < actual.size(); ++i)
    worst = std::max(worst, double(std::fabs(actual[i] - expected[i])) / (1.0 + std::fabs(expected[i])));
  EXPECT_LE(worst, tol) << what;
}

Tensor random_ids(int64_t B, int64_t T, int32_t vocab, uint64_t seed) {
  Tensor u = random_tensor({B, T}, seed, 0.0f, float(vocab));
  std::vector<int32_t> ids(size_t(u.size()));
  for (int64_t i = 0; i < u.size(); ++i) ids[size_t(i)] = std::min(int32_t(u[i]), vocab - 1);
  return Tensor({B, T}, std::move(ids));
}

namespace {
std::vector<int64_t> sample_indices(int64_t n, int max_checks, uint64_t seed) {
  std::vector<int64_t> idx;
  if (n <= max_checks) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  Rng rng(seed);
  auto perm = rng.permutation(n);
  idx.assign(perm.begin(), perm.begin() + max_checks);
  std::sort(idx.begin(), idx.end());
  return idx;
}
}  // namespace

void expect_gradients_match(Layer& layer, const Tensor& x, GradCheckOptions o) {
  if (!layer.built()) {
    Rng init(7);
    layer.build(x.shape(), init);
  }
  auto run = [&](const Tensor& input) {
    Rng rng(o.seed);
    RunContext ctx;
    ctx.training = o.training;
    ctx.rng = &rng;
    ctx.mask = o.mask;
    return layer.call(input, ctx);
  };
  Tensor y = run(x);
  Tensor w = random_tensor(y.shape(), 99, -1.0f, 1.0f);
  auto objective = [&](const Tensor& out) {
    double s = 0;
    for (int64_t i = 0; i < out.size(); ++i) s += double(out[i]) * double(w[i]);
    return s;
  };

  for (Param* p : layer.params()) p->grad.fill(0.0f);
  y = run(x);
  Tensor dx = layer.backward(w);
  // Copy the analytic weight gradients before the finite-difference passes overwrite layer caches.
  std::vector<Tensor> analytic;
  for (Param* p : layer.params()) analytic.push_back(p->grad);

  auto check = [&](const std::string& what, double a, double n, int64_t i) {
    double tol = o.atol + o.rtol * std::max(std::fabs(a), std::fabs(n));
    EXPECT_LE(std::fabs(a - n), tol) << layer.where() << ": gradient of " << what << "[" << i << "]: analytic " << a
                                     << ", numeric " << n;
  };

  if (o.check_input && x.is_float()) {
    ASSERT_EQ(dx.size(), x.size()) << layer.where() << ": input gradient has shape " << dx.shape_string()
                                   << " for input " << x.shape_string();
    Tensor xp = x;
    for (int64_t i : sample_indices(x.size(), o.max_checks_per_tensor, 1)) {
      float orig = xp[i];
      xp[i] = float(orig + o.step);
      double up = objective(run(xp));
      xp[i] = float(orig - o.step);
      double down = objective(run(xp));
      xp[i] = orig;
      check("input", dx[i], (up - down) / (2 * o.step), i);
    }
  }
  auto params = layer.params();
  for (size_t k = 0; k < params.size(); ++k) {
    Param* p = params[k];
    if (!p->trainable) continue;  // no gradient, as in Keras (Normalization's statistics)
    for (int64_t i : sample_indices(p->value.size(), o.max_checks_per_tensor, 2 + k)) {
      float orig = p->value[i];
      p->value[i] = float(orig + o.step);
      double up = objective(run(x));
      p->value[i] = float(orig - o.step);
      double down = objective(run(x));
      p->value[i] = orig;
      check(p->name, analytic[k][i], (up - down) / (2 * o.step), i);
    }
  }
}

}  // namespace seqnet::testing
