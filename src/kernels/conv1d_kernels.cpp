#include "kernels/conv1d_kernels.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <omp.h>
#include <vector>

#include "kernels/blas.h"
#include "kernels/parallel.h"

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

// ---- Direct path: stride 1, dilation 1, no im2col ----
// With stride 1 and dilation 1 the im2col row of output (b, t) is the K*C floats starting at row t of
// sample b of the (padded) input xp: the col matrix is xp itself read with a row stride of C floats
// (overlapping rows). small_gemm takes any lda, so out = view(xp) @ weight is one register-blocked
// product per sample with no copy and no packing. The backward uses the same trick: dweight =
// view(xp)^T @ dext, and dxp = view(dext) @ wflip, where dext is dout spread onto the Lp rows of each
// sample (zero rows in between, K-1 zero rows in front) and wflip(j*F + f, c) = weight(K-1-j, c, f).
// Threads split samples (forward, dx) or rows of dweight: every output value is computed by the same
// sequence of operations whatever the thread count, so results do not depend on it.
namespace {
bool use_direct(long K, long stride, long dilation) { return stride == 1 && dilation == 1 && K > 1; }

// xp: the input with pad_left zero rows in front and zero rows after, Lp = Lout + K - 1 rows per sample.
// Returns inp itself when no padding is needed (valid padding).
const float* padded_input(std::vector<float>& buf, const float* inp, long B, long L, long C, long Lp,
                          long pad_left) {
  if (pad_left == 0 && Lp == L) return inp;
  buf.assign(size_t(B * Lp * C), 0.0f);
  for (long b = 0; b < B; ++b)
    for (long r = 0; r < Lp; ++r) {
      const long p = r - pad_left;
      if (p >= 0 && p < L) std::memcpy(buf.data() + (b * Lp + r) * C, inp + (b * L + p) * C, sizeof(float) * size_t(C));
    }
  return buf.data();
}

void direct_forward(float* out, const float* inp, const float* weight, const float* bias, long B, long L, long C,
                    long F, long K, long Lout, long pad_left) {
  const long Lp = Lout + K - 1, KC = K * C;
  std::vector<float> xbuf;
  const float* xp = padded_input(xbuf, inp, B, L, C, Lp, pad_left);
  // Rows [r0, r1) of sample b. K in chunks whose slice of the weight stays in L1 while the rows pass over it;
  // the first chunk starts from the bias.
  const long kc = std::max(64L, (16L * 1024 / 4) / F);
  auto rows_of_sample = [&](long b, long r0, long r1) {
    float* o = out + (b * Lout + r0) * F;
    for (long k0 = 0; k0 < KC; k0 += kc) {
      const long kn = std::min(kc, KC - k0);
      const float* a = xp + (b * Lp + r0) * C + k0;
      if (k0 == 0 && bias) small_gemm_bias(r1 - r0, F, kn, a, C, weight, F, bias, o, F);
      else small_gemm(r1 - r0, F, kn, a, C, weight + k0 * F, F, o, F, k0 > 0);
    }
  };
  if (B < num_threads()) {
    // Fewer samples than threads (batch-1 prediction): each sample's rows split over the threads, in blocks of
    // 8 rows, which the small GEMM computes exactly as it would whole.
    for (long b = 0; b < B; ++b)
      split_range(Lout, 8, 2.0 * double(Lout) * double(KC) * double(F),
                  [&](long r0, long r1) { rows_of_sample(b, r0, r1); });
    return;
  }
  // Otherwise threads take whole samples.
#pragma omp parallel for schedule(static) if (B * Lout * KC * F >= kParallelMin * 64)
  for (long b = 0; b < B; ++b) rows_of_sample(b, 0, Lout);
}

void direct_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, long B, long L, long C, long F, long K, long Lout, long pad_left) {
  const long Lp = Lout + K - 1, KC = K * C, M = B * Lp - K + 1;
  // dext: K-1 zero rows, then per sample its Lout rows of dout and K-1 zero rows (B*Lp + K-1 rows).
  // Only the zero rows are zeroed: the rest is dout (megabytes; a full zero-fill cost as much as the copy).
  std::unique_ptr<float[]> dext_buf(new float[size_t((B * Lp + K - 1) * F)]);
  float* dext = dext_buf.get();
  const bool parallel = M * KC * F >= kParallelMin * 64;
  std::fill_n(dext, (K - 1) * F, 0.0f);
#pragma omp parallel for schedule(static) if (parallel && B * Lout * F >= kParallelMin)
  for (long b = 0; b < B; ++b) {
    float* rows = dext + (K - 1 + b * Lp) * F;
    std::memcpy(rows, dout + b * Lout * F, sizeof(float) * size_t(Lout * F));
    std::fill_n(rows + Lout * F, (K - 1) * F, 0.0f);
  }
  if (dbias) add_column_sums(dbias, dout, B * Lout, F);
  if (dweight) {
    // dweight(KC, F) += view(xp)^T @ dext over the M rows of the flattened batch (rows straddling two
    // samples meet zero rows of dext). Threads take blocks of dweight rows.
    std::vector<float> xbuf;
    const float* xp = padded_input(xbuf, inp, B, L, C, Lp, pad_left);
    const float* d0 = dext + (K - 1) * F;
    // small_gemm_tn gives each thread one contiguous share of rows (a multiple of 8), so that its K chunks of
    // dext are reused across many rows while they are in cache.
    small_gemm_tn(KC, F, M, xp, C, d0, F, dweight, F, true);
  }
  if (!dinp) return;
  std::vector<float> wflip(size_t(K * F * C));
  for (long j = 0; j < K; ++j)
    for (long c = 0; c < C; ++c)
      for (long f = 0; f < F; ++f) wflip[size_t(((K - 1 - j) * F + f) * C + c)] = weight[(j * C + c) * F + f];
  const bool padded = !(pad_left == 0 && Lp == L);
  std::vector<float> dbuf(padded ? size_t(B * Lp * C) : 0);
  float* dxp = padded ? dbuf.data() : dinp;
  // dxp(q, c) = sum_{j', f} dext(q + j', f) * wflip(j'*F + f, c): per sample, rows q of that sample.
#pragma omp parallel for schedule(static) if (parallel)
  for (long b = 0; b < B; ++b)
    small_gemm(Lp, C, K * F, dext + b * Lp * F, F, wflip.data(), C, dxp + b * Lp * C, C, false);
  if (padded)
    for (long b = 0; b < B; ++b)
      for (long p = 0; p < L; ++p) {
        const long r = p + pad_left;
        float* dst = dinp + (b * L + p) * C;
        if (r >= 0 && r < Lp) std::memcpy(dst, dxp + (b * Lp + r) * C, sizeof(float) * size_t(C));
        else std::memset(dst, 0, sizeof(float) * size_t(C));
      }
}
}  // namespace

void conv1d_forward(float* out, const float* inp, const float* weight, const float* bias, long B, long L, long C,
                    long F, long K, long Lout, long stride, long dilation, long pad_left) {
  const long KC = K * C, rows = B * Lout;
  if (rows == 0) return;
  if (col_is_input(L, K, Lout, stride, pad_left)) {
    matmul_forward(out, inp, weight, bias, rows, KC, F);
    return;
  }
  if (use_direct(K, stride, dilation)) {
    direct_forward(out, inp, weight, bias, B, L, C, F, K, Lout, pad_left);
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
  if (rows > 0 && use_direct(K, stride, dilation)) {  // writes every row of dinp
    direct_backward(dinp, dweight, dbias, dout, inp, weight, B, L, C, F, K, Lout, pad_left);
    return;
  }
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
