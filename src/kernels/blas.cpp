#include "kernels/blas.h"

#include <algorithm>
#include <cblas.h>
#include <cstdint>
#include <cstring>
#include <omp.h>
#include <vector>

#include "kernels/parallel.h"

namespace seqnet::kernels {

namespace {
void blas_sgemm(bool trans_a, bool trans_b, long M, long N, long K, float alpha, const float* A, long lda,
                const float* B, long ldb, float beta, float* C, long ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(M), int(N),
              int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

// Whether a product computed as two row blocks, [0, split) and [split, M), has the bits of the whole product, for
// a product large enough to take the BLAS's blocked path.
bool rows_split_keeps_bits(long split, bool trans_a, bool trans_b) {
  constexpr long M = 247, N = 200, K = 97;
  std::vector<float> A(M * K), B(K * N), whole(M * N), parts(M * N);
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return float(state >> 8) / float(1u << 24) - 0.5f;
  };
  for (float& v : A) v = next();
  for (float& v : B) v = next();
  const long lda = trans_a ? M : K, ldb = trans_b ? K : N;
  blas_sgemm(trans_a, trans_b, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, whole.data(), N);
  blas_sgemm(trans_a, trans_b, split, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, parts.data(), N);
  blas_sgemm(trans_a, trans_b, M - split, N, K, 1.0f, trans_a ? A.data() + split : A.data() + split * lda, lda,
             B.data(), ldb, 0.0f, parts.data() + split * N, N);
  return std::memcmp(whole.data(), parts.data(), sizeof(float) * size_t(M * N)) == 0;
}

// The BLAS computes a row-major C as the column-major C^T: C's rows are its columns, which its kernels take in
// tiles of a fixed width from the first (OpenBLAS 0.3.21's Haswell/Zen kernel: 12), and each
// tile's elements are summed in an order of the kernel's own, not always the order of a partial tile. So parts
// keep the bits only when they start on a multiple of that width, which the BLAS does not report: found once,
// by computing a product whole and in two parts. (C's columns are tiled in blocks whose positions depend on
// the whole width: OpenBLAS's Haswell kernel gives other bits for every column split, so none is made.) Each
// candidate's test split is a multiple of it and of none of the larger ones. 0: no split keeps the bits.
long row_split_alignment() {
  static const long alignment = [] {
    struct Candidate {
      long alignment, split;
    };
    for (Candidate c : {Candidate{4, 116}, {8, 104}, {12, 108}, {16, 112}, {24, 120}, {48, 96}}) {
      bool keeps = true;
      for (int t = 0; t < 4 && keeps; ++t) keeps = rows_split_keeps_bits(c.split, t & 1, t & 2);
      if (keeps) return c.alignment;
    }
    return 0L;
  }();
  return alignment;
}
}  // namespace

// The BLAS itself always runs on one thread (see threads.cpp); a large product is split here over seqnet's own
// OpenMP threads instead, by rows of C on the BLAS's tile boundaries, never over K: every element of C is the
// same dot product in the same order whatever the thread count. One pool of threads serves both the GEMMs and
// seqnet's loops, so no second pool spins on the cores the first one needs.
void gemm(bool trans_a, bool trans_b, long M, long N, long K, float alpha, const float* A, long lda, const float* B,
          long ldb, float beta, float* C, long ldc) {
  if (M == 0 || N == 0) return;
  // Split only products of tens of MFLOP: concurrent OpenBLAS calls contend on its buffer lock (threads
  // spinning in sched_yield), which cost the hybrid model I's training step 0.7 -> 3.9 ms when its
  // 4-MFLOP Dense gradients were split.
  const double product_flops = 2.0 * double(M) * double(N) * double(K);
  const bool split = product_flops >= 2e7 && num_threads() > 1 && omp_get_level() == 0;
  const long alignment = split ? row_split_alignment() : 0;
  if (alignment == 0) {
    num_threads();  // its first use pins the BLAS to one thread
    blas_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  split_range(M, alignment, product_flops, [&](long begin, long end) {  // rows [begin, end) of op(A) and of C
    blas_sgemm(trans_a, trans_b, end - begin, N, K, alpha, trans_a ? A + begin : A + begin * lda, lda, B, ldb, beta,
               C + begin * ldc, ldc);
  });
}

void copy(const float* src, long n, float* dst) {
  split_range(n, 1024, 20.0 * double(n), [&](long begin, long end) { std::copy(src + begin, src + end, dst + begin); });
}

void add_column_sums(float* sums, const float* m, long rows, long cols) {
  // By columns, so that every sum runs over the rows in order whatever the thread count.
  split_range(cols, 16, double(rows) * double(cols), [&](long begin, long end) {
    for (long r = 0; r < rows; ++r)
      for (long j = begin; j < end; ++j) sums[j] += m[r * cols + j];
  });
}

namespace {
// The forward product of a Dense layer with a short reduction and whole 8-column panels takes the
// register-blocked small-matrix kernel: the weight panel stays in cache over all rows and no packing is paid.
// Measured (one thread, OpenBLAS 0.3.21 SkylakeX): 32 x 240 @ 240 x 256 (the notes' hybrid model) 42 -> 27 us,
// 4096 x 128 @ 128 x 64 the same; BLAS stays ahead for a reduction of 512, for a few output columns (Dense(1),
// Dense(10)) and in both backward products, which therefore stay on the BLAS.
bool small_forward(long in_dim, long out_dim) { return in_dim <= 256 && out_dim % 8 == 0 && out_dim >= 32; }
}  // namespace

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, long rows, long in_dim,
                    long out_dim) {
  if (small_forward(in_dim, out_dim)) {
    if (bias) small_gemm_bias(rows, out_dim, in_dim, inp, in_dim, weight, out_dim, bias, out, out_dim);
    else small_gemm(rows, out_dim, in_dim, inp, in_dim, weight, out_dim, out, out_dim, false);
    return;
  }
  float beta = 0.0f;
  if (bias) {
    split_range(rows, 8, double(rows) * double(out_dim), [&](long begin, long end) {
      for (long r = begin; r < end; ++r) std::copy_n(bias, out_dim, out + r * out_dim);
    });
    beta = 1.0f;
  }
  gemm(false, false, rows, out_dim, in_dim, 1.0f, inp, in_dim, weight, out_dim, beta, out, out_dim);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, long rows, long in_dim, long out_dim) {
  if (dweight) gemm(true, false, in_dim, out_dim, rows, 1.0f, inp, in_dim, dout, out_dim, 1.0f, dweight, out_dim);
  if (dbias) add_column_sums(dbias, dout, rows, out_dim);
  if (dinp) gemm(false, true, rows, in_dim, out_dim, 1.0f, dout, out_dim, weight, out_dim, 0.0f, dinp, in_dim);
}

}  // namespace seqnet::kernels
