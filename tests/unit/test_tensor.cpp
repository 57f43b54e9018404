// Tensor, Rng and initializers.
#include <cmath>
#include <gtest/gtest.h>

#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;

TEST(Tensor, ShapesAndReshape) {
  Tensor t({2, 3, 4});
  EXPECT_EQ(t.size(), 24);
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_EQ(t.reshaped({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_THROW(t.reshaped({5, -1}), Error);
  EXPECT_EQ(shape_to_string({-1, 500, 128}), "(None, 500, 128)");
  EXPECT_EQ(shape_to_string({-1}), "(None,)");
  Tensor ids = Tensor::ints({2}, {3, 4});
  EXPECT_THROW(ids.data(), Error);
  EXPECT_EQ(ids.as_float()[1], 4.0f);
}

TEST(Tensor, RowsSliceAndGather) {
  Tensor t({3, 2}, std::vector<float>{0, 1, 2, 3, 4, 5});
  Tensor s = t.slice_rows(1, 3);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(s[0], 2.0f);
  Tensor g = t.gather_rows({2, 0});
  EXPECT_EQ(g[0], 4.0f);
  EXPECT_EQ(g[3], 1.0f);
  EXPECT_THROW(t.slice_rows(2, 4), Error);
}

TEST(Rng, SameSeedSameStream) {
  Rng a(5), b(5), c(6);
  for (int i = 0; i < 100; ++i) {
    float x = a.normal();
    EXPECT_EQ(x, b.normal());
  }
  EXPECT_NE(a.uniform(), c.uniform());
  Rng d(1);
  double sum = 0, sq = 0;
  for (int i = 0; i < 20000; ++i) {
    double z = d.normal();
    sum += z, sq += z * z;
  }
  EXPECT_NEAR(sum / 20000, 0.0, 0.03);
  EXPECT_NEAR(sq / 20000, 1.0, 0.04);
}

TEST(Initializers, GlorotUniformLimitUsesWholeKernelFans) {
  Rng rng(1);
  // An LSTM kernel (in=14, 4u=128): limit sqrt(6 / (14 + 128)).
  Tensor k = initialize("glorot_uniform", {14, 128}, rng);
  float limit = std::sqrt(6.0f / (14 + 128)), mx = 0;
  for (int64_t i = 0; i < k.size(); ++i) mx = std::max(mx, std::fabs(k[i]));
  EXPECT_LE(mx, limit);
  EXPECT_GT(mx, 0.95f * limit);
}

TEST(Initializers, ConvFansIncludeReceptiveField) {
  Rng rng(2);
  // Conv1D kernel (k=7, in=128, filters=32): fan_in = 896, fan_out = 224.
  Tensor k = initialize("he_uniform", {7, 128, 32}, rng);
  float limit = std::sqrt(6.0f / 896), mx = 0;
  for (int64_t i = 0; i < k.size(); ++i) mx = std::max(mx, std::fabs(k[i]));
  EXPECT_LE(mx, limit);
  EXPECT_GT(mx, 0.95f * limit);
}

TEST(Initializers, OrthogonalIsOneOrthogonalMatrix) {
  Rng rng(3);
  // A GRU recurrent kernel (u, 3u) is one orthogonal matrix: rows are orthonormal.
  const int u = 8;
  Tensor r = initialize("orthogonal", {u, 3 * u}, rng);
  for (int i = 0; i < u; ++i)
    for (int j = 0; j < u; ++j) {
      double dot = 0;
      for (int c = 0; c < 3 * u; ++c) dot += double(r[i * 3 * u + c]) * r[j * 3 * u + c];
      EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5);
    }
  Tensor tall = initialize("orthogonal", {12, 4}, rng);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      double dot = 0;
      for (int rr = 0; rr < 12; ++rr) dot += double(tall[rr * 4 + i]) * tall[rr * 4 + j];
      EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5);
    }
}

TEST(Initializers, NormalFamiliesAndConstants) {
  Rng rng(4);
  Tensor t = initialize("glorot_normal", {200, 300}, rng);
  double sq = 0, mx = 0;
  for (int64_t i = 0; i < t.size(); ++i) sq += double(t[i]) * t[i], mx = std::max(mx, std::fabs(double(t[i])));
  EXPECT_NEAR(std::sqrt(sq / double(t.size())), std::sqrt(2.0 / 500), 0.003);  // truncation keeps the variance
  EXPECT_LE(mx, 2 * std::sqrt(2.0 / 500) / 0.87962566 + 1e-6);
  Tensor c = initialize(Initializer::constant(0.03f), {3}, rng);
  EXPECT_EQ(c[2], 0.03f);
  EXPECT_EQ(initialize("ones", {2}, rng)[1], 1.0f);
  EXPECT_THROW(initialize("glorot_wobbly", {2, 2}, rng), Error);
  Tensor lecun = initialize("lecun_uniform", {50, 10}, rng);
  for (int64_t i = 0; i < lecun.size(); ++i) EXPECT_LE(std::fabs(lecun[i]), std::sqrt(3.0f / 50));
}

TEST(Threads, SettableCount) {
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(2);
  EXPECT_EQ(num_threads(), 2);
  set_num_threads(1);
}

TEST(Tensor, SizesFromUntrustedFilesAreCheckedBeforeAllocating) {
  // A shape whose product overflows int64 used to wrap to 0 and pass later size checks.
  try {
    Tensor t({int64_t(1) << 32, int64_t(1) << 32});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more elements than a 64-bit count holds"), std::string::npos) << e.what();
  }
  // Larger than any machine's memory: an error naming the shape and the size, not std::bad_alloc.
  try {
    Tensor t({int64_t(1) << 40, 1000});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(1099511627776, 1000) needs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("of memory"), std::string::npos) << e.what();
  }
}
