#include "kernels/blas.h"

#include <cblas.h>

namespace seqnet::kernels {

void gemm(bool trans_a, bool trans_b, long M, long N, long K, float alpha, const float* A, long lda, const float* B,
          long ldb, float beta, float* C, long ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(M), int(N),
              int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, long rows, long in_dim,
                    long out_dim) {
  float beta = 0.0f;
  if (bias) {
    for (long r = 0; r < rows; ++r)
      for (long j = 0; j < out_dim; ++j) out[r * out_dim + j] = bias[j];
    beta = 1.0f;
  }
  gemm(false, false, rows, out_dim, in_dim, 1.0f, inp, in_dim, weight, out_dim, beta, out, out_dim);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, long rows, long in_dim, long out_dim) {
  if (dweight) gemm(true, false, in_dim, out_dim, rows, 1.0f, inp, in_dim, dout, out_dim, 1.0f, dweight, out_dim);
  if (dbias)
    for (long r = 0; r < rows; ++r)
      for (long j = 0; j < out_dim; ++j) dbias[j] += dout[r * out_dim + j];
  if (dinp) gemm(false, true, rows, in_dim, out_dim, 1.0f, dout, out_dim, weight, out_dim, 0.0f, dinp, in_dim);
}

}  // namespace seqnet::kernels
