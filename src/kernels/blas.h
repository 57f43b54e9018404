// The GEMM every layer goes through. Row-major, Keras-layout friendly. A GPU backend implements
// the same signatures; layers never call a BLAS directly.
#pragma once
#include "kernels/isa.h"

namespace seqnet::kernels {

// C(M,N) = alpha * op(A) op(B) + beta * C, row-major; op transposes when the flag is set. Large products run
// on seqnet::num_threads() threads (split by rows of C where the BLAS keeps the bits, so the result does not
// depend on the count).
void gemm(bool trans_a, bool trans_b, long M, long N, long K, float alpha, const float* A, long lda, const float* B,
          long ldb, float beta, float* C, long ldc);

// out(rows, out_dim) = inp(rows, in_dim) @ weight(in_dim, out_dim) + bias(out_dim)   [bias may be null]
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, long rows, long in_dim,
                    long out_dim);
// Accumulates: dweight += inp^T @ dout, dbias += sum_rows(dout); writes dinp = dout @ weight^T
// (dinp, dweight or dbias may be null when not wanted).
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, long rows, long in_dim, long out_dim);

// sums(cols) += the column sums of m(rows, cols), each added row by row in order (any thread count).
void add_column_sums(float* sums, const float* m, long rows, long cols);
// dst = src (n floats), split over threads when it is megabytes (a layer keeping its input for backward).
void copy(const float* src, long n, float* dst);

}  // namespace seqnet::kernels

// The register-blocked products, compiled once per instruction-set variant (kernels/isa.h).
SEQNET_KERNELS_BEGIN

// C(M,N) = A(M,K) @ B(K,N) (+ C when accumulate), row-major, no transposes: the register-blocked
// small-matrix path of the recurrent time loop (small_gemm.cpp). No packing, no allocation; threads only for a
// large call made outside a parallel region.
void small_gemm(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                bool accumulate);
// C(M,N) = S(M,N) + A(M,K) @ B(K,N), S row-major with leading dimension lds (S may be C: lds = ldc): the
// accumulators start from S, so that the sum costs no copy of S into C first.
void small_gemm_add(long M, long N, long K, const float* A, long lda, const float* B, long ldb, const float* S,
                    long lds, float* C, long ldc);
// C(M,N) = bias(N) + A(M,K) @ B(K,N): small_gemm whose accumulators start from the bias row, so that a
// layer's bias costs no pass of its own over C.
void small_gemm_bias(long M, long N, long K, const float* A, long lda, const float* B, long ldb, const float* bias,
                     float* C, long ldc);
// C(M,N) = A^T B (+ C when accumulate) with A stored (K, M): the weight gradients of all time steps at once
// (K = time * batch is long, M and N are small), in K chunks that stay in cache.
// column_sums (may be null): += the column sums of B (a bias gradient), each added row by row in order.
void small_gemm_tn(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                   bool accumulate, float* column_sums = nullptr);
// dst(cols, rows) = src(rows, cols)^T
void transpose(const float* src, long rows, long cols, float* dst);

SEQNET_KERNELS_END
