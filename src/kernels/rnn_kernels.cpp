#include "kernels/rnn_kernels.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/activation_kernels.h"
#include "kernels/blas.h"
#include "kernels/fast_math.h"
#include "kernels/parallel.h"
#include "kernels/simd.h"

SEQNET_KERNELS_BEGIN

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

namespace {
// out(rows, cols) = a(rows, k) @ W(k, cols). With few inputs per row (a recurrent layer's features or units),
// the register-blocked small GEMM beats the BLAS, which packs both operands first (10 % of an LSTM(8) step).
// A bias row (may be null) starts the small GEMM's accumulators; the BLAS path adds it afterwards.
void project(float* out, long ldo, const float* a, long rows, long k, const float* W, long ldw, long cols,
             const float* bias) {
  if (k <= 64) {
    if (bias) small_gemm_bias(rows, cols, k, a, k, W, ldw, bias, out, ldo);
    else small_gemm(rows, cols, k, a, k, W, ldw, out, ldo, false);
    return;
  }
  gemm(false, false, rows, cols, k, 1.0f, a, k, W, ldw, 0.0f, out, ldo);
  if (bias)
    for (long r = 0; r < rows; ++r)
      for (long j = 0; j < cols; ++j) out[r * ldo + j] += bias[j];
}
}  // namespace

void gate_matmul_forward(float* out, long ldo, const float* a, long rows, long k, const float* W, long ldw, long n,
                         int g0, int g1, const float* masks, long period, float* scratch, const float* bias) {
  if (!masks) {
    project(out, ldo, a, rows, k, W + g0 * n, ldw, (g1 - g0) * n, bias);
    return;
  }
  for (int g = g0; g < g1; ++g) {
    apply_mask(scratch, a, masks + g * period * k, rows, k, period);
    project(out + (g - g0) * n, ldo, scratch, rows, k, W + g * n, ldw, n, bias ? bias + (g - g0) * n : nullptr);
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
  for (long r = 0; r < rows; ++r) kernels::activation_forward(act, x + r * ld + c0, y + r * ld + c0, c1 - c0, c1 - c0);
}

void activation_columns_backward(Activation act, const float* x, const float* y, const float* dy, float* dx, long rows,
                                 long ld, long c0, long c1) {
  for (long r = 0; r < rows; ++r) {
    const long o = r * ld + c0;
    kernels::activation_backward(act, x + o, y + o, dy + o, dx + o, c1 - c0, c1 - c0);
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
  kernels::activation_forward(act, c, tc, B * u, u);
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
  kernels::activation_backward(act, c, tc, dc_prev, dc_prev, B * u, u);
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

// ---- Fused steps ----
// Each row's gate math is a helper whose every array is a separate restrict parameter: that is what lets
// the compiler vectorize the loops over units (and fast_math.h keeps them free of libm calls).

namespace {

void tanh_row(const float* __restrict x, float* __restrict y, long n) {
  for (long j = 0; j < n; ++j) y[j] = fast_tanh(x[j]);
}
void tanh_grad_row(const float* __restrict y, const float* __restrict dy, float* __restrict dx, long n) {
  for (long j = 0; j < n; ++j) dx[j] = dy[j] * (1.0f - y[j] * y[j]);
}

// One unit's gate math, for a float or a vector of units (the same operations either way).
template <class T>
struct LstmUnit {
  T i, f, g, o, c, tc, h;
};
template <class T>
inline LstmUnit<T> lstm_unit_forward(T pi, T pf, T pg, T po, T c_prev) {
  LstmUnit<T> v;
  v.i = fast_sigmoid(pi);
  v.f = fast_sigmoid(pf);
  v.g = fast_tanh(pg);
  v.o = fast_sigmoid(po);
  v.c = fmadd(v.f, c_prev, v.i * v.g);
  v.tc = fast_tanh(v.c);
  v.h = v.o * v.tc;
  return v;
}

// kUnits > 0 fixes the width at compile time: for the 8-unit layers of the IMDB models a row is one vector,
// and a loop of unknown length around it (vector body, remainder, checks) cost more than its arithmetic.
template <long kUnits = 0>
inline void lstm_row_forward(const float* __restrict pi, const float* __restrict pf, const float* __restrict pg,
                             const float* __restrict po, float* __restrict gi, float* __restrict gf,
                             float* __restrict gg, float* __restrict go, const float* __restrict cp,
                             float* __restrict c, float* __restrict tc, float* __restrict h, long u) {
  if constexpr (kUnits > 0) u = kUnits;
  for (long j = 0; j < u; ++j) {
    const auto v = lstm_unit_forward(pi[j], pf[j], pg[j], po[j], cp[j]);
    gi[j] = v.i;
    gf[j] = v.f;
    gg[j] = v.g;
    go[j] = v.o;
    c[j] = v.c;
    tc[j] = v.tc;
    h[j] = v.h;
  }
}

template <bool kDc, long kUnits = 0>
inline void lstm_row_backward(const float* __restrict gi, const float* __restrict gf, const float* __restrict gg,
                              const float* __restrict go, const float* __restrict cp, const float* __restrict tc,
                              const float* __restrict dh, const float* __restrict dc, float* __restrict di,
                              float* __restrict df, float* __restrict dg, float* __restrict dout,
                              float* __restrict dcp, long u) {
  if constexpr (kUnits > 0) u = kUnits;
  for (long j = 0; j < u; ++j) {
    const float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tc[j];
    float dct = dh[j] * o * (1.0f - t * t);
    if constexpr (kDc) dct += dc[j];
    di[j] = dct * g * i * (1.0f - i);
    df[j] = dct * cp[j] * f * (1.0f - f);
    dg[j] = dct * i * (1.0f - g * g);
    dout[j] = dh[j] * t * o * (1.0f - o);
    dcp[j] = dct * f;
  }
}

// One unit's gate math, for a float or a vector of units. With kBias the recurrent bias (reset_after) is added
// to the recurrent products; rh is the candidate's recurrent part with its bias, which backward reads.
template <class T>
struct GruUnit {
  T z, r, rh, hh, h;
};
template <bool kBias, class T>
inline GruUnit<T> gru_unit_forward(T xz, T xr, T xh, T rz, T rr, T rh, T bz, T br, T bh, T h_prev) {
  GruUnit<T> v;
  v.z = fast_sigmoid(xz + (kBias ? rz + bz : rz));
  v.r = fast_sigmoid(xr + (kBias ? rr + br : rr));
  v.rh = kBias ? rh + bh : rh;
  v.hh = fast_tanh(fmadd(v.r, v.rh, xh));
  v.h = fmadd(v.z, h_prev - v.hh, v.hh);
  return v;
}

// rz, rr, rh: h_prev @ R per gate; the recurrent bias (when given) is added here, after the product as in
// Keras, and rh keeps its biased value for the backward pass.
template <bool kBias, long kUnits = 0>
inline void gru_row_forward(const float* __restrict xz, const float* __restrict xr, const float* __restrict xh,
                            const float* __restrict rz, const float* __restrict rr, float* __restrict rh,
                            const float* __restrict bias, const float* __restrict hp, float* __restrict gz,
                            float* __restrict gr, float* __restrict gh, float* __restrict h, long u) {
  if constexpr (kUnits > 0) u = kUnits;
  for (long j = 0; j < u; ++j) {
    const auto v = gru_unit_forward<kBias>(xz[j], xr[j], xh[j], rz[j], rr[j], rh[j], kBias ? bias[j] : 0.0f,
                                           kBias ? bias[u + j] : 0.0f, kBias ? bias[2 * u + j] : 0.0f, hp[j]);
    if (kBias) rh[j] = v.rh;
    gz[j] = v.z;
    gr[j] = v.r;
    gh[j] = v.hh;
    h[j] = v.h;
  }
}

#if defined(__AVX512F__)
// Two rows of 8 units in one 16-float vector: an 8-unit row fills only half of AVX-512's vectors, and its gate
// math is most of the step of the IMDB models' LSTM(8). The same operations per value as lstm_row_forward.
inline v16f load_two_rows(const float* first, const float* second) {
  return __builtin_shufflevector(load8(first), load8(second), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
inline void store_two_rows(float* first, float* second, v16f v) {
  store8(first, __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7));
  store8(second, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
}

// Rows b and b + 1 of an LSTM(8) step; c_prev, c, tc and h point at row b (two rows are 16 contiguous values).
inline void lstm_two_rows_forward8(const float* pre, float* gates, const float* c_prev, float* c, float* tc,
                                   float* h) {
  constexpr long u = 8, G = 4 * u;
  const float* p = pre;
  float* g = gates;
  const auto v = lstm_unit_forward(load_two_rows(p, p + G), load_two_rows(p + u, p + G + u),
                                   load_two_rows(p + 2 * u, p + G + 2 * u), load_two_rows(p + 3 * u, p + G + 3 * u),
                                   load16(c_prev));
  store_two_rows(g, g + G, v.i);
  store_two_rows(g + u, g + G + u, v.f);
  store_two_rows(g + 2 * u, g + G + 2 * u, v.g);
  store_two_rows(g + 3 * u, g + G + 3 * u, v.o);
  store16(c, v.c);
  store16(tc, v.tc);
  store16(h, v.h);
}

// Rows b and b + 1 of a GRU(8) step; h_prev and h point at row b.
template <bool kBias>
inline void gru_two_rows_forward8(const float* xw, float* rec, const float* bias, const float* h_prev, float* gates,
                                  float* h) {
  constexpr long u = 8, G = 3 * u;
  const v16f zero{};
  const auto two = [](const float* p) { return load_two_rows(p, p + G); };
  const auto v = gru_unit_forward<kBias>(two(xw), two(xw + u), two(xw + 2 * u), two(rec), two(rec + u),
                                         two(rec + 2 * u), kBias ? load_two_rows(bias, bias) : zero,
                                         kBias ? load_two_rows(bias + u, bias + u) : zero,
                                         kBias ? load_two_rows(bias + 2 * u, bias + 2 * u) : zero, load16(h_prev));
  if (kBias) store_two_rows(rec + 2 * u, rec + G + 2 * u, v.rh);
  store_two_rows(gates, gates + G, v.z);
  store_two_rows(gates + u, gates + G + u, v.r);
  store_two_rows(gates + 2 * u, gates + G + 2 * u, v.hh);
  store16(h, v.h);
}
#endif

template <long kUnits = 0>
inline void gru_row_backward(const float* __restrict gz, const float* __restrict gr, const float* __restrict gh,
                             const float* __restrict rh, const float* __restrict hp, const float* __restrict dh,
                             float* __restrict dxz, float* __restrict dxr, float* __restrict dxh,
                             float* __restrict drz, float* __restrict drr, float* __restrict drh,
                             float* __restrict dhp, long u) {
  if constexpr (kUnits > 0) u = kUnits;
  for (long j = 0; j < u; ++j) {
    const float z = gz[j], r = gr[j], hh = gh[j], d = dh[j];
    const float dph = d * (1.0f - z) * (1.0f - hh * hh);
    const float dpz = d * (hp[j] - hh) * z * (1.0f - z);
    const float dpr = dph * rh[j] * r * (1.0f - r);
    dxz[j] = dpz;
    dxr[j] = dpr;
    dxh[j] = dph;
    drz[j] = dpz;
    drr[j] = dpr;
    drh[j] = dph * r;
    dhp[j] = d * z;
  }
}

}  // namespace

namespace {
// Calls f(std::integral_constant<long, W>) with W = u for the unit counts of the book's and the notes' models
// (8, 16, 24, 32, 64), else W = 0 (the width only known at run time). With W fixed the compiler unrolls a
// row's gates into whole vectors with no remainder loop.
template <typename F>
void with_units(long u, F&& f) {
  switch (u) {
    case 8: f(std::integral_constant<long, 8>{}); return;
    case 16: f(std::integral_constant<long, 16>{}); return;
    case 24: f(std::integral_constant<long, 24>{}); return;
    case 32: f(std::integral_constant<long, 32>{}); return;
    case 64: f(std::integral_constant<long, 64>{}); return;
    default: f(std::integral_constant<long, 0>{});
  }
}
}  // namespace

namespace {
// The per-gate masked products of a step for u = 8 * NV units, rows in blocks of MR: each gate's masked rows
// of h are formed in registers and multiplied at once, where the general path makes a masked copy of h and a
// small GEMM (NV vectors wide, K = u) per gate: for 8 and 16 units those calls cost more than their
// arithmetic. Per row the same FMAs in the same order as that path, so the values are the same.
//   out[b, gate k] (+)= (h[b] ⊙ m_k[b]) @ R[:, gate k]
template <int NV, int MR>
void masked_matmul_rows(const float* __restrict h, const float* __restrict masks, const float* __restrict R,
                        float* __restrict out, long b0, long B, int G, bool accumulate) {
  constexpr long u = 8 * NV;
  const long Gu = G * u;
  for (int k = 0; k < G; ++k) {
    const float* m = masks + (k * B + b0) * u;
    float hm[MR][u];
    for (int r = 0; r < MR; ++r)
      for (long i = 0; i < u; ++i) hm[r][i] = h[(b0 + r) * u + i] * m[r * u + i];
    v8f acc[MR][NV];
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? load8(out + (b0 + r) * Gu + k * u + 8 * v) : v8f{};
    for (long i = 0; i < u; ++i) {
      v8f w[NV];
      for (int v = 0; v < NV; ++v) w[v] = load8(R + i * Gu + k * u + 8 * v);
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = fma(hm[r][i], w[v], acc[r][v]);
    }
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < NV; ++v) store8(out + (b0 + r) * Gu + k * u + 8 * v, acc[r][v]);
  }
}

//   dh[b] (+)= sum over gates k of (d[b, gate k] @ RT[gate k rows]) ⊙ m_k[b]
template <int NV, int MR>
void masked_matmul_t_rows(const float* __restrict d, const float* __restrict masks, const float* __restrict RT,
                          float* __restrict dh, long b0, long B, int G, bool accumulate) {
  constexpr long u = 8 * NV;
  const long Gu = G * u;
  v8f out[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) out[r][v] = accumulate ? load8(dh + (b0 + r) * u + 8 * v) : v8f{};
  for (int k = 0; k < G; ++k) {
    v8f acc[MR][NV] = {};
    for (long j = 0; j < u; ++j) {
      v8f w[NV];
      for (int v = 0; v < NV; ++v) w[v] = load8(RT + (k * u + j) * u + 8 * v);
      for (int r = 0; r < MR; ++r) {
        const float a = d[(b0 + r) * Gu + k * u + j];
        for (int v = 0; v < NV; ++v) acc[r][v] = fma(a, w[v], acc[r][v]);
      }
    }
    const float* m = masks + (k * B + b0) * u;
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < NV; ++v) out[r][v] = fma(acc[r][v], load8(m + r * u + 8 * v), out[r][v]);
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store8(dh + (b0 + r) * u + 8 * v, out[r][v]);
}

// Rows in blocks of 8 / 4, the rest one by one; false when u has no fused kernel.
template <bool kTransposed>
bool masked_matmul_fused(const float* a, const float* masks, const float* W, float* out, long B, long u, int G,
                         bool accumulate) {
  auto run = [&](auto nv) {
    constexpr int NV = decltype(nv)::value;
    constexpr int MR = NV == 1 ? 8 : 4;  // enough independent FMA chains, few enough registers for AVX2
    long b = 0;
    for (; b + MR <= B; b += MR)
      if constexpr (kTransposed) masked_matmul_t_rows<NV, MR>(a, masks, W, out, b, B, G, accumulate);
      else masked_matmul_rows<NV, MR>(a, masks, W, out, b, B, G, accumulate);
    for (; b < B; ++b)
      if constexpr (kTransposed) masked_matmul_t_rows<NV, 1>(a, masks, W, out, b, B, G, accumulate);
      else masked_matmul_rows<NV, 1>(a, masks, W, out, b, B, G, accumulate);
  };
  if (u == 8) run(std::integral_constant<int, 1>{});
  else if (u == 16) run(std::integral_constant<int, 2>{});
  else return false;
  return true;
}
}  // namespace

void recurrent_matmul(const float* h, const float* rmask, const float* R, float* out, long B, long u, int G,
                      bool accumulate, float* scratch) {
  const long Gu = G * u;
  if (!rmask) {
    small_gemm(B, Gu, u, h, u, R, Gu, out, Gu, accumulate);
    return;
  }
  if (masked_matmul_fused<false>(h, rmask, R, out, B, u, G, accumulate)) return;
  for (int k = 0; k < G; ++k) {
    apply_mask(scratch, h, rmask + k * B * u, B, u, B);
    small_gemm(B, u, u, scratch, u, R + k * u, Gu, out + k * u, Gu, accumulate);
  }
}

void recurrent_matmul_t(const float* d, const float* rmask, const float* RT, float* dh, long B, long u, int G,
                        bool accumulate, float* scratch) {
  const long Gu = G * u;
  if (!rmask) {
    small_gemm(B, u, Gu, d, Gu, RT, u, dh, u, accumulate);
    return;
  }
  if (masked_matmul_fused<true>(d, rmask, RT, dh, B, u, G, accumulate)) return;
  if (!accumulate) std::fill_n(dh, B * u, 0.0f);
  for (int k = 0; k < G; ++k) {
    small_gemm(B, u, u, d + k * u, Gu, RT + k * u * u, u, scratch, u, false);
    const float* m = rmask + k * B * u;
    for (long i = 0; i < B * u; ++i) dh[i] = SEQNET_FMA(scratch[i], m[i], dh[i]);
  }
}

void recurrent_weight_grad(const float* H, const float* rmask, const float* D, float* dR, long TB, long B, long u,
                           int G, float* dbias) {
  const long Gu = G * u;
  if (!rmask) {
    small_gemm_tn(u, Gu, TB, H, u, D, Gu, dR, Gu, true, dbias);
    return;
  }
  // The mask of sequence b is the same at every step, so
  //   dR[i, gate k] += sum_b m_k[b, i] * P_b[i, gate k],   P_b = H_b^T D_b,
  // H_b and D_b the T rows of sequence b: one unmasked product per sequence for all gates, the masks applied
  // to its result, instead of a masked copy of every state per gate. A sequence's rows lie B rows apart
  // (tens of KB: a new page at every row). Beyond 8 units the product passes over them several times (one
  // per block of 8 x 32 of P), so they are gathered into contiguous buffers first (E's GRU(32): 2.6 -> 1.8
  // ms; for 8 units one pass in place is faster). Threads take sequences; the P_b of a group of sequences
  // are kept and summed into dR in sequence order, so the result does not depend on the thread count. The
  // bias gradient (column sums of D) likewise, per sequence, then in order.
  const long T = TB / B;
  const bool gather = u > 8;
  const long group = std::clamp<long>((1L << 20) / (u * Gu), 1, B);  // P of a group: at most 4 MB
  FloatBuffer P(group * u * Gu), sums(dbias ? group * Gu : 0);
  for (long g0 = 0; g0 < B; g0 += group) {
    const long gn = std::min(group, B - g0);
    if (dbias) sums.zeroed(group * Gu);
    split_range(gn, 1, 2.0 * double(T * gn) * double(u) * double(Gu), [&](long s0, long s1) {
      FloatBuffer hb(gather ? T * u : 0), db(gather ? T * Gu : 0);
      for (long s = s0; s < s1; ++s) {
        const long b = g0 + s;
        const float* hs = H + b * u;
        const float* ds = D + b * Gu;
        long ldh = B * u, ldd = B * Gu;
        if (gather) {
          for (long t = 0; t < T; ++t) {  // loops, not memcpy calls: rows of 8 to a few hundred floats
            const float* __restrict hr = hs + t * ldh;
            const float* __restrict dr = ds + t * ldd;
            float* __restrict hd = hb.data() + t * u;
            float* __restrict dd = db.data() + t * Gu;
            for (long j = 0; j < u; ++j) hd[j] = hr[j];
            for (long j = 0; j < Gu; ++j) dd[j] = dr[j];
          }
          hs = hb.data(), ds = db.data(), ldh = u, ldd = Gu;
        }
        small_gemm_tn(u, Gu, T, hs, ldh, ds, ldd, P.data() + s * u * Gu, Gu, false,
                      dbias ? sums.data() + s * Gu : nullptr);
      }
    });
    for (long s = 0; s < gn; ++s) {
      const long b = g0 + s;
      for (int k = 0; k < G; ++k)
        for (long i = 0; i < u; ++i) {
          const float m = rmask[(k * B + b) * u + i];
          const float* p = P.data() + (s * u + i) * Gu + k * u;
          float* d = dR + i * Gu + k * u;
          for (long j = 0; j < u; ++j) d[j] = SEQNET_FMA(m, p[j], d[j]);
        }
      if (dbias)
        for (long c = 0; c < Gu; ++c) dbias[c] += sums.data()[s * Gu + c];
    }
  }
}

namespace {
// pre (B, G*u) = xw + the step's recurrent product. Unmasked, the product's accumulators start from xw; the masked
// products (per gate) add into a copy of it.
void recurrent_matmul_onto(const float* xw, const float* h_prev, const float* rmask, const float* R, float* pre,
                           long B, long u, int G, float* scratch) {
  const long Gu = G * u;
  if (rmask) {
    std::copy_n(xw, B * Gu, pre);
    recurrent_matmul(h_prev, rmask, R, pre, B, u, G, true, scratch);
  } else {
    small_gemm_add(B, Gu, u, h_prev, u, R, Gu, xw, Gu, pre, Gu);
  }
}
}  // namespace

void simple_rnn_fused_forward(const float* xw, const float* h_prev, const float* R, float* pre, float* h, long B,
                              long u, const float* rmask, float* scratch) {
  recurrent_matmul_onto(xw, h_prev, rmask, R, pre, B, u, 1, scratch);
  tanh_row(pre, h, B * u);
}

void simple_rnn_fused_backward(const float* h, const float* dh, const float* RT, float* dpre, float* dh_prev, long B,
                               long u, const float* rmask, float* scratch) {
  tanh_grad_row(h, dh, dpre, B * u);
  recurrent_matmul_t(dpre, rmask, RT, dh_prev, B, u, 1, false, scratch);
}

void lstm_fused_forward(const float* xw, const float* h_prev, const float* c_prev, const float* R, float* pre,
                        float* gates, float* c, float* tc, float* h, long B, long u, const float* rmask,
                        float* scratch) {
  const long G = 4 * u;
  recurrent_matmul_onto(xw, h_prev, rmask, R, pre, B, u, 4, scratch);
  long b = 0;
#if defined(__AVX512F__)
  if (u == 8)
    for (; b + 2 <= B; b += 2)
      lstm_two_rows_forward8(pre + b * G, gates + b * G, c_prev + b * u, c + b * u, tc + b * u, h + b * u);
#endif
  auto rows = [&](auto row) {
    for (; b < B; ++b) {
      const float* p = pre + b * G;
      float* g = gates + b * G;
      row(p, p + u, p + 2 * u, p + 3 * u, g, g + u, g + 2 * u, g + 3 * u, c_prev + b * u, c + b * u, tc + b * u,
          h + b * u, u);
    }
  };
  with_units(u, [&](auto w) { rows(lstm_row_forward<decltype(w)::value>); });
}

void lstm_fused_backward(const float* gates, const float* c_prev, const float* tc, const float* dh, const float* dc,
                         const float* RT, float* dpre, float* dh_prev, float* dc_prev, long B, long u,
                         const float* rmask, float* scratch) {
  const long G = 4 * u;
  auto rows = [&](auto row) {
    for (long b = 0; b < B; ++b) {
      const float* g = gates + b * G;
      float* d = dpre + b * G;
      row(g, g + u, g + 2 * u, g + 3 * u, c_prev + b * u, tc + b * u, dh + b * u, dc ? dc + b * u : nullptr, d, d + u,
          d + 2 * u, d + 3 * u, dc_prev + b * u, u);
    }
  };
  with_units(u, [&](auto w) {
    if (dc) rows(lstm_row_backward<true, decltype(w)::value>);
    else rows(lstm_row_backward<false, decltype(w)::value>);
  });
  recurrent_matmul_t(dpre, rmask, RT, dh_prev, B, u, 4, false, scratch);
}

void gru_fused_forward(const float* xw, const float* h_prev, const float* R, const float* b_rec, float* rec,
                       float* gates, float* h, long B, long u, const float* rmask, float* scratch) {
  const long G = 3 * u;
  recurrent_matmul(h_prev, rmask, R, rec, B, u, 3, false, scratch);
  long b = 0;
#if defined(__AVX512F__)
  if (u == 8)
    for (; b + 2 <= B; b += 2) {
      if (b_rec) gru_two_rows_forward8<true>(xw + b * G, rec + b * G, b_rec, h_prev + b * u, gates + b * G, h + b * u);
      else gru_two_rows_forward8<false>(xw + b * G, rec + b * G, b_rec, h_prev + b * u, gates + b * G, h + b * u);
    }
#endif
  auto rows = [&](auto row) {
    for (; b < B; ++b) {
      const float* x = xw + b * G;
      float* rc = rec + b * G;
      float* g = gates + b * G;
      row(x, x + u, x + 2 * u, rc, rc + u, rc + 2 * u, b_rec, h_prev + b * u, g, g + u, g + 2 * u, h + b * u, u);
    }
  };
  with_units(u, [&](auto w) {
    if (b_rec) rows(gru_row_forward<true, decltype(w)::value>);
    else rows(gru_row_forward<false, decltype(w)::value>);
  });
}

void gru_fused_backward(const float* gates, const float* rec, const float* h_prev, const float* dh, const float* RT,
                        float* dxw, float* drec, float* dh_prev, long B, long u, const float* rmask, float* scratch) {
  const long G = 3 * u;
  auto rows = [&](auto row) {
    for (long b = 0; b < B; ++b) {
      const float* g = gates + b * G;
      float* dx = dxw + b * G;
      float* dr = drec + b * G;
      row(g, g + u, g + 2 * u, rec + b * G + 2 * u, h_prev + b * u, dh + b * u, dx, dx + u, dx + 2 * u, dr, dr + u,
          dr + 2 * u, dh_prev + b * u, u);
    }
  };
  with_units(u, [&](auto w) { rows(gru_row_backward<decltype(w)::value>); });
  recurrent_matmul_t(drec, rmask, RT, dh_prev, B, u, 3, true, scratch);
}

SEQNET_KERNELS_END
