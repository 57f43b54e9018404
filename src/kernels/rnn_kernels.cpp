#include "kernels/rnn_kernels.h"

#include <algorithm>
#include <cmath>

#include "kernels/blas.h"

namespace seqnet::kernels {

namespace {
// dst(rows, k) = a ⊙ m, the mask row repeating every `period` rows.
void apply_mask(float* dst, const float* a, const float* m, long rows, long k, long period) {
  for (long r = 0; r < rows; ++r) {
    const float* ar = a + r * k;
    const float* mr = m + (r % period) * k;
    float* dr = dst + r * k;
    for (long j = 0; j < k; ++j) dr[j] = ar[j] * mr[j];
  }
}
}  // namespace

void gate_matmul_forward(float* out, long ldo, const float* a, long rows, long k, const float* W, long ldw, long n,
                         int g0, int g1, const float* masks, long period, float* scratch) {
  if (!masks) {
    gemm(false, false, rows, (g1 - g0) * n, k, 1.0f, a, k, W + g0 * n, ldw, 0.0f, out, ldo);
    return;
  }
  for (int g = g0; g < g1; ++g) {
    apply_mask(scratch, a, masks + g * period * k, rows, k, period);
    gemm(false, false, rows, n, k, 1.0f, scratch, k, W + g * n, ldw, 0.0f, out + (g - g0) * n, ldo);
  }
}

void gate_matmul_backward(float* da, float* dW, const float* dout, long ldd, const float* a, long rows, long k,
                          const float* W, long ldw, long n, int g0, int g1, const float* masks, long period,
                          float* scratch) {
  if (!masks) {
    const long cols = (g1 - g0) * n;
    if (dW) gemm(true, false, k, cols, rows, 1.0f, a, k, dout, ldd, 1.0f, dW + g0 * n, ldw);
    if (da) gemm(false, true, rows, k, cols, 1.0f, dout, ldd, W + g0 * n, ldw, 1.0f, da, k);
    return;
  }
  float* am = scratch;
  float* dam = scratch + rows * k;
  for (int g = g0; g < g1; ++g) {
    const float* m = masks + g * period * k;
    const float* dg = dout + (g - g0) * n;
    if (dW) {
      apply_mask(am, a, m, rows, k, period);
      gemm(true, false, k, n, rows, 1.0f, am, k, dg, ldd, 1.0f, dW + g * n, ldw);
    }
    if (da) {
      gemm(false, true, rows, k, n, 1.0f, dg, ldd, W + g * n, ldw, 0.0f, dam, k);
      for (long r = 0; r < rows; ++r) {
        const float* mr = m + (r % period) * k;
        for (long j = 0; j < k; ++j) da[r * k + j] += dam[r * k + j] * mr[j];
      }
    }
  }
}

void activation_columns(Activation act, const float* x, float* y, long rows, long ld, long c0, long c1) {
  for (long r = 0; r < rows; ++r) activation_forward(act, x + r * ld + c0, y + r * ld + c0, c1 - c0, c1 - c0);
}

void activation_columns_backward(Activation act, const float* x, const float* y, const float* dy, float* dx, long rows,
                                 long ld, long c0, long c1) {
  for (long r = 0; r < rows; ++r) {
    const long o = r * ld + c0;
    activation_backward(act, x + o, y + o, dy + o, dx + o, c1 - c0, c1 - c0);
  }
}

void lstm_step_forward(Activation act, Activation rec, const float* pre, float* gates, const float* c_prev, float* c,
                       float* tc, float* h, long B, long u) {
  const long G = 4 * u;
  activation_columns(rec, pre, gates, B, G, 0, 2 * u);
  activation_columns(act, pre, gates, B, G, 2 * u, 3 * u);
  activation_columns(rec, pre, gates, B, G, 3 * u, G);
  for (long b = 0; b < B; ++b) {
    const float* i = gates + b * G;
    const float* f = i + u;
    const float* g = i + 2 * u;
    for (long j = 0; j < u; ++j) c[b * u + j] = f[j] * c_prev[b * u + j] + i[j] * g[j];
  }
  activation_forward(act, c, tc, B * u, u);
  for (long b = 0; b < B; ++b) {
    const float* o = gates + b * G + 3 * u;
    for (long j = 0; j < u; ++j) h[b * u + j] = o[j] * tc[b * u + j];
  }
}

void lstm_step_backward(Activation act, Activation rec, const float* pre, const float* gates, const float* c_prev,
                        const float* c, const float* tc, const float* dh, const float* dc, float* dpre, float* dc_prev,
                        long B, long u) {
  const long G = 4 * u;
  // dc_total = dc + dh * o * act'(c); dc_prev holds it for a moment.
  for (long b = 0; b < B; ++b) {
    const float* o = gates + b * G + 3 * u;
    for (long j = 0; j < u; ++j) dc_prev[b * u + j] = dh[b * u + j] * o[j];
  }
  activation_backward(act, c, tc, dc_prev, dc_prev, B * u, u);
  for (long b = 0; b < B; ++b) {
    const float* gi = gates + b * G;
    float* d = dpre + b * G;  // d(gates) first, turned into d(pre) below
    for (long j = 0; j < u; ++j) {
      const long bj = b * u + j;
      const float dct = dc_prev[bj] + (dc ? dc[bj] : 0.0f);
      d[j] = dct * gi[2 * u + j];              // di
      d[u + j] = dct * c_prev[bj];             // df
      d[2 * u + j] = dct * gi[j];              // dc~
      d[3 * u + j] = dh[bj] * tc[bj];          // do
      dc_prev[bj] = dct * gi[u + j];
    }
  }
  activation_columns_backward(rec, pre, gates, dpre, dpre, B, G, 0, 2 * u);
  activation_columns_backward(act, pre, gates, dpre, dpre, B, G, 2 * u, 3 * u);
  activation_columns_backward(rec, pre, gates, dpre, dpre, B, G, 3 * u, G);
}

}  // namespace seqnet::kernels
