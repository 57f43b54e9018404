// A register-blocked GEMM for the small row-major products of the recurrent time loop (h @ R and
// dgates @ R^T per step: M = batch <= a few hundred, N = gates*units, K = units). It has no call
// overhead, no packing and no threads, which is what these shapes need: a BLAS spends more time
// dispatching a 64x32x8 product than computing it. Written in plain loops the compiler vectorizes
// (AVX2 / AVX-512 with -march=native); the accumulators of a 4 x 32 block stay in registers over K.
#include <algorithm>

#include "kernels/blas.h"
#include "kernels/fast_math.h"

namespace seqnet::kernels {

namespace {

template <int MR, int NR>
inline void micro(long K, const float* __restrict A, long lda, const float* __restrict B, long ldb,
                  float* __restrict C, long ldc, bool accumulate) {
  float acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) acc[r][j] = accumulate ? C[r * ldc + j] : 0.0f;
  for (long k = 0; k < K; ++k) {
    const float* b = B + k * ldb;
    for (int r = 0; r < MR; ++r) {
      const float a = A[r * lda + k];
      for (int j = 0; j < NR; ++j) acc[r][j] = SEQNET_FMA(a, b[j], acc[r][j]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) C[r * ldc + j] = acc[r][j];
}

// The last n < 8 columns.
inline void tail(long M, long n, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                 bool accumulate) {
  for (long i = 0; i < M; ++i) {
    float acc[8];
    for (long j = 0; j < n; ++j) acc[j] = accumulate ? C[i * ldc + j] : 0.0f;
    for (long k = 0; k < K; ++k) {
      const float a = A[i * lda + k];
      for (long j = 0; j < n; ++j) acc[j] = SEQNET_FMA(a, B[k * ldb + j], acc[j]);
    }
    for (long j = 0; j < n; ++j) C[i * ldc + j] = acc[j];
  }
}

template <int NR>
inline void column_panel(long M, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                         bool accumulate) {
  long i = 0;
  for (; i + 4 <= M; i += 4) micro<4, NR>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
  for (; i < M; ++i) micro<1, NR>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
}

}  // namespace

void small_gemm(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (long i = 0; i < M; ++i) std::fill_n(C + i * ldc, N, 0.0f);
    return;
  }
  long j = 0;
  for (; j + 32 <= N; j += 32) column_panel<32>(M, K, A, lda, B + j, ldb, C + j, ldc, accumulate);
  if (j + 16 <= N) {
    column_panel<16>(M, K, A, lda, B + j, ldb, C + j, ldc, accumulate);
    j += 16;
  }
  if (j + 8 <= N) {
    column_panel<8>(M, K, A, lda, B + j, ldb, C + j, ldc, accumulate);
    j += 8;
  }
  if (j < N) tail(M, N - j, K, A, lda, B + j, ldb, C + j, ldc, accumulate);
}

void transpose(const float* src, long rows, long cols, float* dst) {
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

}  // namespace seqnet::kernels
