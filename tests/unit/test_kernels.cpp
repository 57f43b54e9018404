// The small-matrix kernels every layer goes through (src/kernels): each against a double-precision reference
// over shapes that reach every panel width (32, 24, 16, 8) and the masked tail, with strided operands and
// each way the accumulators start (zero, C, a bias row); and bitwise the same on one and two threads. Every
// test runs once per kernel variant the build contains (avx2, avx512 or native: src/kernels/isa.h), on this
// machine's CPU; a variant the CPU cannot run is skipped with the reason. KernelVariants.* checks that all
// variants compute the same bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "kernels/blas.h"
#include "kernels/dispatch.h"
#include "kernels/parallel.h"
#include "kernels/rnn_kernels.h"
#include "seqnet/activations.h"
#include "seqnet/random.h"
#include "seqnet/tensor.h"
#include "seqnet/threads.h"

using namespace seqnet;

namespace {

std::vector<float> uniform(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  return v;
}

enum class Start { zero, accumulate, bias };

// C(M, N) = [C or bias or 0] + A(M, K) B(K, N) in double precision.
std::vector<double> reference(long M, long N, long K, const std::vector<float>& A, long lda, const std::vector<float>& B,
                              long ldb, const std::vector<float>& C, long ldc, const std::vector<float>& bias,
                              Start start) {
  std::vector<double> out(size_t(M * N));
  for (long i = 0; i < M; ++i)
    for (long j = 0; j < N; ++j) {
      double s = start == Start::accumulate ? C[size_t(i * ldc + j)] : start == Start::bias ? bias[size_t(j)] : 0.0;
      for (long k = 0; k < K; ++k) s += double(A[size_t(i * lda + k)]) * double(B[size_t(k * ldb + j)]);
      out[size_t(i * N + j)] = s;
    }
  return out;
}

using seqnet::testing::ThreadCount;

// Runs the test's kernel variant (the test parameter) and restores the one that ran before.
class VariantTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    before_ = kernels::active_kernel_variant().name;
    for (const kernels::KernelVariant& v : kernels::kernel_variants())
      if (v.name == GetParam() && !v.cpu_supports())
        GTEST_SKIP() << "this CPU cannot run the " << v.name << " kernels (they need " << v.needs << ")";
    kernels::select_kernel_variant(GetParam());
  }
  void TearDown() override { kernels::select_kernel_variant(before_); }

 private:
  std::string before_;
};

std::vector<std::string> variant_names() {
  std::vector<std::string> names;
  for (const kernels::KernelVariant& v : kernels::kernel_variants()) names.push_back(v.name);
  return names;
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace

using SmallGemm = VariantTest;
using SmallGemmTn = VariantTest;
using RecurrentMatmul = VariantTest;
INSTANTIATE_TEST_SUITE_P(Variants, SmallGemm, ::testing::ValuesIn(variant_names()), param_name);
INSTANTIATE_TEST_SUITE_P(Variants, SmallGemmTn, ::testing::ValuesIn(variant_names()), param_name);
INSTANTIATE_TEST_SUITE_P(Variants, RecurrentMatmul, ::testing::ValuesIn(variant_names()), param_name);

TEST_P(SmallGemm, MatchesAReferenceForEveryPanelTailAndStart) {
  for (long M : {1L, 2L, 3L, 6L, 7L, 8L, 13L, 64L})
    for (long N : {1L, 5L, 8L, 16L, 24L, 29L, 32L, 40L, 56L, 72L, 96L, 100L})
      for (long K : {1L, 7L, 32L, 70L})
        for (Start start : {Start::zero, Start::accumulate, Start::bias}) {
          SCOPED_TRACE(::testing::Message() << "M=" << M << " N=" << N << " K=" << K << " start=" << int(start));
          const long lda = K + 3, ldb = N + 2, ldc = N + 1;  // strided operands, as the layers pass them
          const auto A = uniform(size_t(M * lda), 1), B = uniform(size_t(K * ldb), 2), bias = uniform(size_t(N), 3);
          auto C = uniform(size_t(M * ldc), 4);
          const auto want = reference(M, N, K, A, lda, B, ldb, C, ldc, bias, start);
          if (start == Start::bias)
            kernels::small_gemm_bias(M, N, K, A.data(), lda, B.data(), ldb, bias.data(), C.data(), ldc);
          else
            kernels::small_gemm(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, start == Start::accumulate);
          for (long i = 0; i < M; ++i)
            for (long j = 0; j < N; ++j)
              ASSERT_NEAR(C[size_t(i * ldc + j)], want[size_t(i * N + j)], 1e-5 * (1 + double(K)))
                  << "C(" << i << ", " << j << ")";
          // The column past N (the stride's padding) is never written: tails are masked, not rounded up.
          const auto before = uniform(size_t(M * ldc), 4);
          for (long i = 0; i < M; ++i) ASSERT_EQ(C[size_t(i * ldc + N)], before[size_t(i * ldc + N)]) << "row " << i;
        }
}

TEST_P(SmallGemmTn, MatchesAReferenceAndSumsColumnsInRowOrder) {
  // C(M, N) += A^T B with A stored (K, M), over K chunks (700 > one chunk), and the column sums of B.
  for (long M : {3L, 8L, 20L})
    for (long N : {5L, 8L, 24L, 32L, 40L, 44L, 56L, 60L, 100L})
      for (long K : {1L, 100L, 700L}) {
        SCOPED_TRACE(::testing::Message() << "M=" << M << " N=" << N << " K=" << K);
        const long lda = M + 1, ldb = N + 3, ldc = N + 1;
        const auto A = uniform(size_t(K * lda), 5), B = uniform(size_t(K * ldb), 6);
        auto C = uniform(size_t(M * ldc), 7);
        std::vector<float> sums = uniform(size_t(N), 8), want_sums = sums;
        for (long k = 0; k < K; ++k)
          for (long j = 0; j < N; ++j) want_sums[size_t(j)] += B[size_t(k * ldb + j)];  // the order add_column_sums uses
        std::vector<double> want(size_t(M * N));
        for (long i = 0; i < M; ++i)
          for (long j = 0; j < N; ++j) {
            double s = C[size_t(i * ldc + j)];
            for (long k = 0; k < K; ++k) s += double(A[size_t(k * lda + i)]) * double(B[size_t(k * ldb + j)]);
            want[size_t(i * N + j)] = s;
          }
        kernels::small_gemm_tn(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, true, sums.data());
        for (long i = 0; i < M; ++i)
          for (long j = 0; j < N; ++j)
            ASSERT_NEAR(C[size_t(i * ldc + j)], want[size_t(i * N + j)], 1e-5 * (1 + double(K))) << i << ", " << j;
        const auto before = uniform(size_t(M * ldc), 7);  // the column past N is never written
        for (long i = 0; i < M; ++i) ASSERT_EQ(C[size_t(i * ldc + N)], before[size_t(i * ldc + N)]) << "row " << i;
        for (long j = 0; j < N; ++j) ASSERT_EQ(sums[size_t(j)], want_sums[size_t(j)]) << "column " << j;
      }
}

TEST_P(SmallGemm, LargeProductsAreBitwiseTheSameOnOneAndTwoThreads) {
  // Above the parallel threshold the kernels split rows (or, for few rows, columns) over threads, never the
  // reduction: every value must come out bit for bit as on one thread.
  struct Shape3 {
    long M, N, K;
  };
  for (Shape3 s : {Shape3{2048, 96, 64}, Shape3{1000, 24, 500}}) {
    const auto A = uniform(size_t(s.M * s.K), 9), B = uniform(size_t(s.K * s.N), 10), bias = uniform(size_t(s.N), 11);
    std::vector<float> C[2];
    for (int threads = 1; threads <= 2; ++threads) {
      ThreadCount t(threads);
      C[threads - 1].assign(size_t(s.M * s.N), 0.0f);
      kernels::small_gemm_bias(s.M, s.N, s.K, A.data(), s.K, B.data(), s.N, bias.data(), C[threads - 1].data(), s.N);
    }
    ASSERT_EQ(C[0], C[1]) << "small_gemm_bias " << s.M << "x" << s.N << "x" << s.K;
  }
  for (Shape3 s : {Shape3{64, 96, 4096}, Shape3{8, 256, 8192}}) {  // row split; column split (M < 16)
    const auto A = uniform(size_t(s.K * s.M), 12), B = uniform(size_t(s.K * s.N), 13);
    std::vector<float> C[2], sums[2];
    for (int threads = 1; threads <= 2; ++threads) {
      ThreadCount t(threads);
      C[threads - 1].assign(size_t(s.M * s.N), 0.0f);
      sums[threads - 1].assign(size_t(s.N), 0.0f);
      kernels::small_gemm_tn(s.M, s.N, s.K, A.data(), s.M, B.data(), s.N, C[threads - 1].data(), s.N, false,
                             sums[threads - 1].data());
    }
    ASSERT_EQ(C[0], C[1]) << "small_gemm_tn " << s.M << "x" << s.N << "x" << s.K;
    ASSERT_EQ(sums[0], sums[1]) << "column sums " << s.M << "x" << s.N << "x" << s.K;
  }
}

TEST_P(SmallGemm, OneRowIsBitwiseTheSameRowOfABatch) {
  // Batch-1 prediction takes a one-row pass (all columns' FMA chains at once); each value must be exactly the
  // one the same row gets inside a batch, so that predict(x[i:i+1]) equals predict(x)[i].
  for (long N : {5L, 24L, 100L, 200L})
    for (Start start : {Start::zero, Start::accumulate, Start::bias}) {
      SCOPED_TRACE(::testing::Message() << "N=" << N << " start=" << int(start));
      const long M = 13, K = 100;
      const auto A = uniform(size_t(M * K), 14), B = uniform(size_t(K * N), 15), bias = uniform(size_t(N), 16);
      const auto C0 = uniform(size_t(M * N), 17);
      auto batch = C0;
      auto run = [&](long m, const float* a, float* c) {
        if (start == Start::bias) kernels::small_gemm_bias(m, N, K, a, K, B.data(), N, bias.data(), c, N);
        else kernels::small_gemm(m, N, K, a, K, B.data(), N, c, N, start == Start::accumulate);
      };
      run(M, A.data(), batch.data());
      for (long i = 0; i < M; ++i) {
        std::vector<float> row(C0.begin() + i * N, C0.begin() + (i + 1) * N);
        run(1, A.data() + i * K, row.data());
        for (long j = 0; j < N; ++j) ASSERT_EQ(row[size_t(j)], batch[size_t(i * N + j)]) << "row " << i << " column " << j;
      }
    }
}

// Recurrent dropout's per-gate products (Keras's implementation 1): out[b, gate k] (+)= (h[b] ⊙ m_k[b]) @ R_k,
// its transpose dh[b] (+)= sum_k (d[b, gate k] @ RT_k) ⊙ m_k[b], and the weight gradient over all steps,
// dR[:, gate k] += sum over rows r of (H[r] ⊙ m_k[r % B])^T D[r, gate k]. Widths with a fused kernel (8, 16)
// and without (5, 32, 160), batches that fill row blocks and leave a tail, every gate count; at 160 units the
// weight gradient takes the sequences in groups.
TEST_P(RecurrentMatmul, MaskedProductsMatchAReference) {
  for (long u : {5L, 8L, 16L, 32L, 160L})
    for (int G : {1, 3, 4})
      for (long B : {1L, 9L, 13L})
        for (bool accumulate : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "u=" << u << " G=" << G << " B=" << B << " accumulate=" << accumulate);
          const long Gu = G * u;
          auto tol = [](long terms) { return 1e-5 + 2e-6 * double(terms); };  // float rounding of a sum of products
          const auto h = uniform(size_t(B * u), 1), R = uniform(size_t(u * Gu), 2), d = uniform(size_t(B * Gu), 3);
          auto masks = uniform(size_t(G * B * u), 4);
          for (float& m : masks) m = m < 0 ? 0.0f : 2.0f;  // dropped or scaled, as drawn
          std::vector<float> RT(size_t(Gu * u));
          kernels::transpose(R.data(), u, Gu, RT.data());
          std::vector<float> scratch(size_t(B * u));
          auto out = uniform(size_t(B * Gu), 5), dh = uniform(size_t(B * u), 6);
          const auto out0 = out, dh0 = dh;
          kernels::recurrent_matmul(h.data(), masks.data(), R.data(), out.data(), B, u, G, accumulate, scratch.data());
          kernels::recurrent_matmul_t(d.data(), masks.data(), RT.data(), dh.data(), B, u, G, accumulate, scratch.data());
          for (long b = 0; b < B; ++b)
            for (long c = 0; c < Gu; ++c) {
              const long k = c / u;
              double s = accumulate ? out0[size_t(b * Gu + c)] : 0.0;
              for (long i = 0; i < u; ++i)
                s += double(h[size_t(b * u + i)]) * masks[size_t((k * B + b) * u + i)] * R[size_t(i * Gu + c)];
              ASSERT_NEAR(out[size_t(b * Gu + c)], s, tol(u)) << "forward, row " << b << " column " << c;
            }
          for (long b = 0; b < B; ++b)
            for (long i = 0; i < u; ++i) {
              double s = accumulate ? dh0[size_t(b * u + i)] : 0.0;
              for (long c = 0; c < Gu; ++c)
                s += double(d[size_t(b * Gu + c)]) * R[size_t(i * Gu + c)] * masks[size_t((c / u * B + b) * u + i)];
              ASSERT_NEAR(dh[size_t(b * u + i)], s, tol(Gu)) << "transposed, row " << b << " unit " << i;
            }
          // The weight gradient over T = 3 steps of the batch, with the bias gradient (column sums of D).
          const long T = 3, TB = T * B;
          const auto H = uniform(size_t(TB * u), 7), D = uniform(size_t(TB * Gu), 8);
          auto dR = uniform(size_t(u * Gu), 9), dbias = uniform(size_t(Gu), 10);
          const auto dR0 = dR, dbias0 = dbias;
          kernels::recurrent_weight_grad(H.data(), masks.data(), D.data(), dR.data(), TB, B, u, G, dbias.data());
          for (long i = 0; i < u; ++i)
            for (long c = 0; c < Gu; ++c) {
              double s = dR0[size_t(i * Gu + c)];
              for (long r = 0; r < TB; ++r)
                s += double(H[size_t(r * u + i)]) * masks[size_t((c / u * B + r % B) * u + i)] * D[size_t(r * Gu + c)];
              ASSERT_NEAR(dR[size_t(i * Gu + c)], s, tol(TB)) << "weight gradient " << i << ", " << c;
            }
          for (long c = 0; c < Gu; ++c) {
            double s = dbias0[size_t(c)];
            for (long r = 0; r < TB; ++r) s += D[size_t(r * Gu + c)];
            ASSERT_NEAR(dbias[size_t(c)], s, tol(TB)) << "bias gradient " << c;
          }
        }
}

TEST_P(RecurrentMatmul, MaskedWeightGradientIsBitwiseTheSameOnOneAndTwoThreads) {
  // Large enough to split over threads (by sequences); the sums into dR must not depend on the split.
  const long T = 80, B = 37, u = 32, G = 4, Gu = G * u;
  const auto H = uniform(size_t(T * B * u), 1), D = uniform(size_t(T * B * Gu), 2);
  auto masks = uniform(size_t(G * B * u), 3);
  for (float& m : masks) m = m < 0 ? 0.0f : 2.0f;
  std::vector<std::vector<float>> dR(2, std::vector<float>(size_t(u * Gu), 0.5f)), dbias(2, std::vector<float>(size_t(Gu)));
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    kernels::recurrent_weight_grad(H.data(), masks.data(), D.data(), dR[size_t(threads - 1)].data(), T * B, B, u, G,
                                   dbias[size_t(threads - 1)].data());
  }
  EXPECT_EQ(dR[0], dR[1]);
  EXPECT_EQ(dbias[0], dbias[1]);
}

TEST(SplitRange, ThePartsCoverEveryIndexOnce) {
  // Odd lengths with every alignment the kernels use: a floor division here once dropped the last index of
  // an odd count (a time step of transpose_time, a row of an activation, a parameter of the optimizer).
  ThreadCount tc(2);
  for (long n : {1L, 2L, 3L, 37L, 129L, 1000L, 1025L})
    for (long align : {1L, 8L, 16L, 64L, 1024L}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " align=" << align);
      std::vector<int> hits(size_t(n), 0);
      kernels::split_range(n, align, 1e12, [&](long begin, long end) {
        EXPECT_EQ(begin % align, 0);
        for (long i = begin; i < end; ++i) ++hits[size_t(i)];
      });
      for (long i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)], 1) << "index " << i;
    }
}

TEST(Gemm, LargeProductsAreBitwiseTheSameOnOneAndTwoThreads) {
  // The BLAS product, split over threads above its threshold: every transpose, with few rows and a long
  // reduction (a weight gradient: OpenBLAS's Haswell kernel gave other bits when these 64 rows were split 32 +
  // 32), with fewer rows than columns (the fused Embedding + Conv1D kernel gradient, once split by columns,
  // which no split keeps the bits of there), and with many rows. beta = 1 as the gradients accumulate.
  struct Shape3 {
    long M, N, K;
  };
  for (Shape3 s : {Shape3{64, 24, 9216}, Shape3{128, 224, 1000}, Shape3{40, 300, 2000}, Shape3{3000, 64, 120}})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const auto A = uniform(size_t(s.M * s.K), 21), B = uniform(size_t(s.K * s.N), 22),
                 C0 = uniform(size_t(s.M * s.N), 23);
      std::vector<float> C[2];
      for (int threads = 1; threads <= 2; ++threads) {
        ThreadCount tc(threads);
        C[threads - 1] = C0;
        kernels::gemm(ta, tb, s.M, s.N, s.K, 1.0f, A.data(), ta ? s.M : s.K, B.data(), tb ? s.K : s.N, 1.0f,
                      C[threads - 1].data(), s.N);
      }
      ASSERT_EQ(C[0], C[1]) << s.M << "x" << s.N << "x" << s.K << " trans_a " << ta << " trans_b " << tb;
    }
}

TEST(SplitRange, InsideAnyParallelRegionTheCallerDoesItAll) {
  // Also inside a region that an `if` clause left to one thread: splitting there would start a nested team
  // of new threads on every call (it once made a training step six times slower).
  ThreadCount tc(2);
  int calls = 0;
#pragma omp parallel if (false)
  {
    kernels::split_range(1000, 8, 1e12, [&](long begin, long end) {
      ++calls;
      EXPECT_EQ(begin, 0);
      EXPECT_EQ(end, 1000);
    });
  }
  EXPECT_EQ(calls, 1);
}

namespace {

// Outputs of every dispatched kernel family on shapes that reach their panels, tails, fused widths and masks,
// computed by the variant that runs now, one after the other in one vector.
std::vector<float> kernel_outputs() {
  std::vector<float> all;
  auto keep = [&](const std::vector<float>& v) { all.insert(all.end(), v.begin(), v.end()); };
  for (long M : {1L, 3L, 13L, 64L})
    for (long N : {5L, 24L, 29L, 32L, 72L, 100L})
      for (long K : {7L, 70L}) {
        const auto A = uniform(size_t(M * K), 21), B = uniform(size_t(K * N), 22), bias = uniform(size_t(N), 23);
        auto C = uniform(size_t(M * N), 24);
        kernels::small_gemm(M, N, K, A.data(), K, B.data(), N, C.data(), N, true);
        keep(C);
        kernels::small_gemm_bias(M, N, K, A.data(), K, B.data(), N, bias.data(), C.data(), N);
        keep(C);
        std::vector<float> D(size_t(K * N)), sums(static_cast<size_t>(N));
        kernels::small_gemm_tn(K, N, M, A.data(), K, C.data(), N, D.data(), N, false, sums.data());
        keep(D);
        keep(sums);
      }
  for (long u : {8L, 13L, 32L})
    for (bool masked : {false, true}) {
      const long B = 9;
      const auto xw4 = uniform(size_t(B * 4 * u), 31), xw3 = uniform(size_t(B * 3 * u), 32);
      const auto h = uniform(size_t(B * u), 33), c = uniform(size_t(B * u), 34);
      const auto R4 = uniform(size_t(u * 4 * u), 35), R3 = uniform(size_t(u * 3 * u), 36), b3 = uniform(size_t(3 * u), 37);
      auto mask = uniform(size_t(4 * B * u), 38);
      for (float& m : mask) m = m < 0 ? 0.0f : 2.0f;
      const float* rmask = masked ? mask.data() : nullptr;
      std::vector<float> scratch(size_t(B * u)), pre(size_t(B * 4 * u)), gates(size_t(B * 4 * u)), cn(size_t(B * u)),
          tc(size_t(B * u)), hn(size_t(B * u));
      kernels::lstm_fused_forward(xw4.data(), h.data(), c.data(), R4.data(), pre.data(), gates.data(), cn.data(),
                                  tc.data(), hn.data(), B, u, rmask, scratch.data());
      keep(pre), keep(gates), keep(cn), keep(hn);
      std::vector<float> R4t(R4.size()), dpre(pre.size()), dh_prev(size_t(B * u)), dc_prev(size_t(B * u));
      kernels::transpose(R4.data(), u, 4 * u, R4t.data());
      const auto dh = uniform(size_t(B * u), 39), dc = uniform(size_t(B * u), 40);
      kernels::lstm_fused_backward(gates.data(), c.data(), tc.data(), dh.data(), dc.data(), R4t.data(), dpre.data(),
                                   dh_prev.data(), dc_prev.data(), B, u, rmask, scratch.data());
      keep(dpre), keep(dh_prev), keep(dc_prev);
      std::vector<float> rec(size_t(B * 3 * u)), g3(size_t(B * 3 * u)), R3t(R3.size()), dxw(rec.size()), drec(rec.size());
      kernels::gru_fused_forward(xw3.data(), h.data(), R3.data(), b3.data(), rec.data(), g3.data(), hn.data(), B, u,
                                 rmask, scratch.data());
      keep(rec), keep(g3), keep(hn);
      kernels::transpose(R3.data(), u, 3 * u, R3t.data());
      kernels::gru_fused_backward(g3.data(), rec.data(), h.data(), dh.data(), R3t.data(), dxw.data(), drec.data(),
                                  dh_prev.data(), B, u, rmask, scratch.data());
      keep(dxw), keep(drec), keep(dh_prev);
      std::vector<float> dR(size_t(u * 3 * u)), dbias(size_t(3 * u));
      kernels::recurrent_weight_grad(h.data(), rmask, drec.data(), dR.data(), B, 3, u, 3, dbias.data());
      keep(dR), keep(dbias);
      // GRU without the recurrent bias (reset_after = false), and SimpleRNN.
      kernels::gru_fused_forward(xw3.data(), h.data(), R3.data(), nullptr, rec.data(), g3.data(), hn.data(), B, u,
                                 rmask, scratch.data());
      keep(rec), keep(g3), keep(hn);
      const auto R1 = uniform(size_t(u * u), 43);
      std::vector<float> pre1(size_t(B * u));
      kernels::simple_rnn_fused_forward(xw4.data(), h.data(), R1.data(), pre1.data(), hn.data(), B, u, rmask,
                                        scratch.data());
      keep(pre1), keep(hn);
    }
  const auto x = uniform(1000, 41), dy = uniform(1000, 42);
  for (int a = 0; a <= int(Activation::hard_sigmoid_keras2); ++a) {
    std::vector<float> y(x.size()), dx(x.size());
    activation_forward(Activation(a), x.data(), y.data(), 1000, 10);
    activation_backward(Activation(a), x.data(), y.data(), dy.data(), dx.data(), 1000, 10);
    keep(y), keep(dx);
  }
  return all;
}

}  // namespace

TEST(KernelVariants, EveryVariantComputesTheSameBits) {
  // The same fused multiply-adds in the same order in every variant (src/kernels/simd.h): a model gives the
  // same results on an AVX2 and an AVX-512 machine, and with SEQNET_KERNELS forcing either.
  const std::string before = kernels::active_kernel_variant().name;
  std::vector<std::pair<std::string, std::vector<float>>> runs;
  for (const kernels::KernelVariant& v : kernels::kernel_variants()) {
    if (!v.cpu_supports()) continue;
    kernels::select_kernel_variant(v.name);
    runs.emplace_back(v.name, kernel_outputs());
  }
  kernels::select_kernel_variant(before);
  if (runs.size() < 2) GTEST_SKIP() << "only one kernel variant runs on this CPU (" << before << ")";
  for (size_t r = 1; r < runs.size(); ++r) {
    ASSERT_EQ(runs[r].second.size(), runs[0].second.size());
    for (size_t i = 0; i < runs[0].second.size(); ++i)
      ASSERT_EQ(runs[r].second[i], runs[0].second[i]) << runs[r].first << " vs " << runs[0].first << ", value " << i;
  }
}

TEST(KernelVariants, TheWidestVariantTheCpuRunsIsChosen) {
  const kernels::KernelVariant* widest = nullptr;
  for (const kernels::KernelVariant& v : kernels::kernel_variants())
    if (v.cpu_supports()) widest = &v;
  ASSERT_NE(widest, nullptr);
  if (std::getenv("SEQNET_KERNELS")) GTEST_SKIP() << "SEQNET_KERNELS is set";
  EXPECT_STREQ(kernels::active_kernel_variant().name, widest->name);
}

TEST(KernelVariants, AnUnknownVariantIsAnErrorNamingTheKnownOnes) {
  try {
    kernels::select_kernel_variant("sse9");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SEQNET_KERNELS=sse9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(kernels::kernel_variants().front().name), std::string::npos) << e.what();
  }
}
