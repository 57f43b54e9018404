#include "kernels/conv1d_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/blas.h"

namespace seqnet::kernels {

namespace {
// Floats in one chunk of the col buffer (4 MiB): big enough for an efficient GEMM, small enough to
// stay near the cache instead of materialising all B*Lout rows (226 MiB for the IMDB shape).
constexpr long kColBudget = 1L << 20;
// Below this many floats a parallel region costs more than the copy it splits.
constexpr long kParallelMin = 1L << 16;

long rows_per_chunk(long rows, long kc) { return std::min(rows, std::max(1L, kColBudget / kc)); }

// A 1x1 convolution with stride 1 and no padding reads each input row as it is: col == inp.
bool col_is_input(long L, long K, long Lout, long stride, long pad_left) {
  return K == 1 && stride == 1 && pad_left == 0 && Lout == L;
}
}  // namespace

void conv1d_im2col(float* col, const float* inp, long r0, long r1, long L, long C, long K, long Lout, long stride,
                   long dilation, long pad_left) {
  const long KC = K * C;
  // Rows are independent copies; parallel only when there is enough to copy.
#pragma omp parallel for schedule(static) if ((r1 - r0) * KC >= kParallelMin)
  for (long r = r0; r < r1; ++r) {
    const long b = r / Lout, t = r % Lout;
    float* dst = col + (r - r0) * KC;
    for (long j = 0; j < K; ++j) {
      const long p = t * stride + j * dilation - pad_left;
      if (p >= 0 && p < L) std::memcpy(dst + j * C, inp + (b * L + p) * C, sizeof(float) * size_t(C));
      else std::memset(dst + j * C, 0, sizeof(float) * size_t(C));
    }
  }
}

void conv1d_col2im(float* dinp, const float* dcol, long r0, long r1, long L, long C, long K, long Lout, long stride,
                   long dilation, long pad_left) {
  const long KC = K * C;
  // For one tap j, distinct output rows read distinct input rows (p = t*stride + j*dilation - pad_left
  // is one-to-one in t), so the rows of one tap can be added in parallel without races.
#pragma omp parallel if ((r1 - r0) * KC >= kParallelMin)
  for (long j = 0; j < K; ++j) {
#pragma omp for schedule(static)
    for (long r = r0; r < r1; ++r) {
      const long b = r / Lout, t = r % Lout;
      const long p = t * stride + j * dilation - pad_left;
      if (p < 0 || p >= L) continue;
      float* dst = dinp + (b * L + p) * C;
      const float* src = dcol + (r - r0) * KC + j * C;
      for (long c = 0; c < C; ++c) dst[c] += src[c];
    }
  }
}

void conv1d_forward(float* out, const float* inp, const float* weight, const float* bias, long B, long L, long C,
                    long F, long K, long Lout, long stride, long dilation, long pad_left) {
  const long KC = K * C, rows = B * Lout;
  if (rows == 0) return;
  if (col_is_input(L, K, Lout, stride, pad_left)) {
    matmul_forward(out, inp, weight, bias, rows, KC, F);
    return;
  }
  const long chunk = rows_per_chunk(rows, KC);
  std::vector<float> col(size_t(chunk * KC));
  for (long r0 = 0; r0 < rows; r0 += chunk) {
    const long r1 = std::min(rows, r0 + chunk);
    conv1d_im2col(col.data(), inp, r0, r1, L, C, K, Lout, stride, dilation, pad_left);
    matmul_forward(out + r0 * F, col.data(), weight, bias, r1 - r0, KC, F);
  }
}

void conv1d_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, long B, long L, long C, long F, long K, long Lout, long stride,
                     long dilation, long pad_left) {
  const long KC = K * C, rows = B * Lout;
  if (dinp) std::fill(dinp, dinp + B * L * C, 0.0f);
  if (rows == 0) return;
  if (col_is_input(L, K, Lout, stride, pad_left)) {
    matmul_backward(dinp, dweight, dbias, dout, inp, weight, rows, KC, F);
    return;
  }
  const long chunk = rows_per_chunk(rows, KC);
  std::vector<float> col(dweight ? size_t(chunk * KC) : 0), dcol(dinp ? size_t(chunk * KC) : 0);
  for (long r0 = 0; r0 < rows; r0 += chunk) {
    const long r1 = std::min(rows, r0 + chunk);
    if (dweight) conv1d_im2col(col.data(), inp, r0, r1, L, C, K, Lout, stride, dilation, pad_left);
    // dweight += col^T @ dout_chunk, dbias += sum(dout_chunk), dcol = dout_chunk @ weight^T
    matmul_backward(dinp ? dcol.data() : nullptr, dweight, dbias, dout + r0 * F, col.data(), weight, r1 - r0, KC, F);
    if (dinp) conv1d_col2im(dinp, dcol.data(), r0, r1, L, C, K, Lout, stride, dilation, pad_left);
  }
}

}  // namespace seqnet::kernels
