// The small-matrix kernels every layer goes through (src/kernels): each against a double-precision reference
// over shapes that reach every panel width (32, 24, 16, 8) and the zero-padded tail, with strided operands and
// each way the accumulators start (zero, C, a bias row); and bitwise the same on one and two threads.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/blas.h"
#include "kernels/parallel.h"
#include "kernels/rnn_kernels.h"
#include "seqnet/random.h"
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

class ThreadCount {
 public:
  explicit ThreadCount(int n) : before_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(before_); }

 private:
  int before_;
};

}  // namespace

TEST(SmallGemm, MatchesAReferenceForEveryPanelTailAndStart) {
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
        }
}

TEST(SmallGemmTn, MatchesAReferenceAndSumsColumnsInRowOrder) {
  // C(M, N) += A^T B with A stored (K, M), over K chunks (700 > one chunk), and the column sums of B.
  for (long M : {3L, 8L, 20L})
    for (long N : {5L, 8L, 24L, 32L, 40L, 56L, 100L})
      for (long K : {1L, 100L, 700L}) {
        SCOPED_TRACE(::testing::Message() << "M=" << M << " N=" << N << " K=" << K);
        const long lda = M + 1, ldb = N + 3, ldc = N;
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
        for (long j = 0; j < N; ++j) ASSERT_EQ(sums[size_t(j)], want_sums[size_t(j)]) << "column " << j;
      }
}

TEST(SmallGemm, LargeProductsAreBitwiseTheSameOnOneAndTwoThreads) {
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

TEST(SmallGemm, OneRowIsBitwiseTheSameRowOfABatch) {
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
TEST(RecurrentMatmul, MaskedProductsMatchAReference) {
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

TEST(RecurrentMatmul, MaskedWeightGradientIsBitwiseTheSameOnOneAndTwoThreads) {
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
