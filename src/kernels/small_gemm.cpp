// A register-blocked GEMM for the small row-major products of the recurrent time loop (h @ R and
// dgates @ R^T per step: M = batch <= a few hundred, N = gates*units, K = units). It has no call
// overhead and no packing, which is what these shapes need: a BLAS spends more time dispatching a 64x32x8
// product than computing it. Written in plain loops the compiler vectorizes and in GCC vector types, compiled
// once per instruction-set variant (kernels/isa.h); the accumulators of a block stay in registers over K.
// Every value of C is one chain of fused multiply-adds over k in order, whatever the kernel, block, tail or
// variant: so a row comes out the same in any batch, on any thread count and on any CPU. A large call made
// outside a parallel region (the products of all time steps at once) splits over threads.
#include <algorithm>

#include "kernels/blas.h"
#include "kernels/fast_math.h"
#include "kernels/parallel.h"
#include "kernels/simd.h"

SEQNET_KERNELS_BEGIN

namespace {

// AVX-512 with VL (every x86-64-v4 CPU): 32 registers of 16 floats for the panels. Otherwise (AVX2: 16 registers
// of 8 floats) 8-float panels. Either way the last columns short of a vector are a masked 8-float vector.
#if defined(__AVX512F__) && defined(__AVX512VL__)
#define SEQNET_WIDE_PANELS 1
#else
#define SEQNET_WIDE_PANELS 0
#endif

// Panels 8 and 16 wide (and 32 with AVX-512) in GCC vector types: its SLP vectorizer does not vectorize these
// as float arrays (it picks 512-bit vectors and falls back to scalar code). The loops over the
// block are unrolled by pragma and each call starts its accumulators one way: otherwise GCC keeps them in
// memory at both ends of the K loop, which for the recurrent step's K = 8..64 costs a third of the FMAs.
inline v8f load_vector(const float* p, v8f) { return load8(p); }
inline void store_vector(float* p, v8f v) { store8(p, v); }
#if SEQNET_WIDE_PANELS
inline v16f load_vector(const float* p, v16f) { return load16(p); }
inline void store_vector(float* p, v16f v) { store16(p, v); }
#endif

// Where the accumulators of C(i, j) start: p[i * ld + j], or 0 when p is null. C itself (accumulate), a bias
// row (ld = 0) or another matrix: so C is not __restrict in the kernels (each value is read before its store).
struct Start {
  const float* p = nullptr;
  long ld = 0;
  Start at(long i, long j) const { return p ? Start{p + i * ld + j, ld} : Start{}; }
};

// A(i, k) is A[i * lda + k], or A[k * lda + i] when TA (A stored transposed).
// With kMaskedLast (8-float vectors) the last vector holds only the lanes of `last` (the last 1-8 columns):
// masked loads (the other lanes read as 0) and stores touch nothing beyond them, so a tail needs no padded copy.
template <class V, int MR, int NV, bool TA, bool kFromZero, bool kMaskedLast = false>
inline void micro_vector_from(long K, const float* __restrict A, long lda, const float* __restrict B, long ldb,
                              float* C, long ldc, const float* start, long start_stride,
                              unsigned last = 0) {
  constexpr int L = sizeof(V) / sizeof(float);
  static_assert(!kMaskedLast || sizeof(V) == 32, "the masked vector is one of 8 floats");
#if !SEQNET_WIDE_PANELS
  // AVX2 masks by a vector whose lanes have their sign bit set.
  const __m256i lanes = kMaskedLast ? _mm256_cmpgt_epi32(_mm256_set1_epi32(__builtin_popcount(last)),
                                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
                                    : __m256i{};
#endif
  auto load = [&](const float* p, int v) {
    if constexpr (kMaskedLast)
      if (v == NV - 1) {
#if SEQNET_WIDE_PANELS
        return V(_mm256_maskz_loadu_ps(__mmask8(last), p));
#else
        return V(_mm256_maskload_ps(p, lanes));
#endif
      }
    return load_vector(p, V{});
  };
  auto store = [&](float* p, int v, V x) {
    if constexpr (kMaskedLast)
      if (v == NV - 1) {
#if SEQNET_WIDE_PANELS
        return _mm256_mask_storeu_ps(p, __mmask8(last), __m256(x));
#else
        return _mm256_maskstore_ps(p, lanes, __m256(x));
#endif
      }
    store_vector(p, x);
  };
  V acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = kFromZero ? V{} : load(start + r * start_stride + L * v, v);
  for (long k = 0; k < K; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = load(B + k * ldb + L * v, v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const float a = TA ? A[k * lda + r] : A[r * lda + k];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = fma(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store(C + r * ldc + L * v, v, acc[r][v]);
}

template <class V, int MR, int NV, bool TA, bool kMaskedLast = false>
inline void micro_vector(long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc, Start s,
                         unsigned last = 0) {
  if (s.p) micro_vector_from<V, MR, NV, TA, false, kMaskedLast>(K, A, lda, B, ldb, C, ldc, s.p, s.ld, last);
  else micro_vector_from<V, MR, NV, TA, true, kMaskedLast>(K, A, lda, B, ldb, C, ldc, nullptr, 0, last);
}

template <int MR, int NV, bool TA = false>
inline void micro_v8(long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc, Start s) {
  micro_vector<v8f, MR, NV, TA>(K, A, lda, B, ldb, C, ldc, s);
}

#if SEQNET_WIDE_PANELS
template <int MR, int NV, bool TA = false>
inline void micro_v16(long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc, Start s) {
  micro_vector<v16f, MR, NV, TA>(K, A, lda, B, ldb, C, ldc, s);
}

#endif

// NV vectors of 8, the last one holding only the lanes of `last`.
template <int MR, int NV, bool TA = false>
inline void micro_v8_masked(long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc, Start s,
                            unsigned last) {
  micro_vector<v8f, MR, NV, TA, true>(K, A, lda, B, ldb, C, ldc, s, last);
}

template <int NV, bool TA = false>
inline void column_panel_v8(long M, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                            Start s) {
  const long step = TA ? 1 : lda;  // from one row of A to the next
  auto block = [&](auto mr, long i) {
    micro_v8<decltype(mr)::value, NV, TA>(K, A + i * step, lda, B, ldb, C + i * ldc, ldc, s.at(i, 0));
  };
  long i = 0;
  // Two vectors wide: 6 rows keep 12 accumulators in AVX2's 16 registers (4 rows leave FMA latency showing);
  // one vector wide, 8 rows keep 8.
  if constexpr (NV == 2)
    for (; i + 6 <= M; i += 6) block(std::integral_constant<int, 6>{}, i);
  if constexpr (NV == 1)
    for (; i + 8 <= M; i += 8) block(std::integral_constant<int, 8>{}, i);
  for (; i + 4 <= M; i += 4) block(std::integral_constant<int, 4>{}, i);
  // The last 1-3 rows in one block: one row alone has only NV FMA chains, each waiting on the latency.
  if (M - i == 3) block(std::integral_constant<int, 3>{}, i);
  if (M - i == 2) block(std::integral_constant<int, 2>{}, i);
  if (M - i == 1) block(std::integral_constant<int, 1>{}, i);
}

#if SEQNET_WIDE_PANELS
// 32 columns: 8 x 32 blocks keep 16 accumulators, which hide the FMA latency (4 x 32 has only 8 chains; with
// AVX2 the 16 would need all its registers). The last 1-3 rows in one block (a 7-row tail of a 1-row kernel
// ran at a third of the block's speed).
inline void column_panel_v16(long M, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                             Start s) {
  long i = 0;
  for (; i + 8 <= M; i += 8) micro_v16<8, 2>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, s.at(i, 0));
  for (; i + 4 <= M; i += 4) micro_v16<4, 2>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, s.at(i, 0));
  if (M - i == 3) micro_v16<3, 2>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, s.at(i, 0));
  if (M - i == 2) micro_v16<2, 2>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, s.at(i, 0));
  if (M - i == 1) micro_v16<1, 2>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, s.at(i, 0));
}
#endif

// The last n = 1..31 columns (AVX2: 1..7) in one pass over A: ceil(n / 8) vectors of 8 (AVX-512 CPUs issue two
// 8-float FMAs where they issue one 16-float), the last masked to its columns instead of a padded copy. Each
// column gets the FMAs of any other panel, in the same order.
template <bool TA = false>
inline void column_rest_v8(long M, long n, long K, const float* A, long lda, const float* B, long ldb, float* C,
                           long ldc, Start s) {
  const unsigned last = n % 8 == 0 ? 0xFFu : (1u << (n % 8)) - 1u;
  const long step = TA ? 1 : lda;  // from one row of A to the next
  auto rows = [&](auto nv) {
    constexpr int NV = decltype(nv)::value;
    constexpr int MR = NV == 1 ? 8 : NV == 2 ? 6 : 4;  // 8 to 16 accumulators
    auto block = [&](auto mr, long i) {
      micro_v8_masked<decltype(mr)::value, NV, TA>(K, A + i * step, lda, B, ldb, C + i * ldc, ldc, s.at(i, 0), last);
    };
    long i = 0;
    for (; i + MR <= M; i += MR) block(std::integral_constant<int, MR>{}, i);
    if constexpr (MR > 4)
      for (; i + 4 <= M; i += 4) block(std::integral_constant<int, 4>{}, i);
    // The last 1-3 rows in one block, as the panels do.
    if (M - i == 3) block(std::integral_constant<int, 3>{}, i);
    if (M - i == 2) block(std::integral_constant<int, 2>{}, i);
    if (M - i == 1) block(std::integral_constant<int, 1>{}, i);
  };
  switch ((n + 7) / 8) {
    case 1: rows(std::integral_constant<int, 1>{}); break;
    case 2: rows(std::integral_constant<int, 2>{}); break;
    case 3: rows(std::integral_constant<int, 3>{}); break;
    default: rows(std::integral_constant<int, 4>{}); break;
  }
}

// One row of C (batch-1 prediction): up to 8 full vectors of columns (128 with AVX-512, 64 with AVX2) in one
// pass over K, so that the FMA chains of all of them overlap (a 32-wide panel alone has two chains and waits
// on the FMA latency at every k). The last columns short of a vector run as scalar chains in the same pass.
// Each value gets the same FMAs in the same order as in the panels, so a row comes out bitwise as it would in
// a batch.
#if SEQNET_WIDE_PANELS
using RowVector = v16f;
#else
using RowVector = v8f;
#endif
constexpr long kRowLanes = sizeof(RowVector) / sizeof(float);

template <int NV>
inline void row_pass(long K, const float* __restrict a, const float* __restrict B, long ldb, float* c, long n_tail,
                     const float* start) {  // start may be c (accumulate)
  RowVector acc[NV];
  float tail_acc[kRowLanes - 1];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = start ? load_vector(start + kRowLanes * v, RowVector{}) : RowVector{};
  for (long t = 0; t < n_tail; ++t) tail_acc[t] = start ? start[kRowLanes * NV + t] : 0.0f;
  for (long k = 0; k < K; ++k) {
    const float* b = B + k * ldb;
    const float x = a[k];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = fma(x, load_vector(b + kRowLanes * v, RowVector{}), acc[v]);
    for (long t = 0; t < n_tail; ++t) tail_acc[t] = SEQNET_FMA(x, b[kRowLanes * NV + t], tail_acc[t]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) store_vector(c + kRowLanes * v, acc[v]);
  for (long t = 0; t < n_tail; ++t) c[kRowLanes * NV + t] = tail_acc[t];
}

void one_row(long N, long K, const float* a, const float* B, long ldb, float* c, const float* start) {
  constexpr long kGroup = 8 * kRowLanes;
  for (long j = 0; j < N; j += kGroup) {
    const long n = std::min(kGroup, N - j), nv = n / kRowLanes, n_tail = n % kRowLanes;
    const float* in = start ? start + j : nullptr;
    switch (nv) {
      case 0: row_pass<0>(K, a, B + j, ldb, c + j, n_tail, in); break;
      case 1: row_pass<1>(K, a, B + j, ldb, c + j, n_tail, in); break;
      case 2: row_pass<2>(K, a, B + j, ldb, c + j, n_tail, in); break;
      case 3: row_pass<3>(K, a, B + j, ldb, c + j, n_tail, in); break;
      case 4: row_pass<4>(K, a, B + j, ldb, c + j, n_tail, in); break;
      case 5: row_pass<5>(K, a, B + j, ldb, c + j, n_tail, in); break;
      case 6: row_pass<6>(K, a, B + j, ldb, c + j, n_tail, in); break;
      case 7: row_pass<7>(K, a, B + j, ldb, c + j, n_tail, in); break;
      default: row_pass<8>(K, a, B + j, ldb, c + j, n_tail, in); break;
    }
  }
}

}  // namespace

namespace {
void small_gemm_serial(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                       Start s) {
  if (K <= 0) {
    if (s.p != C)
      for (long i = 0; i < M; ++i) {
        if (s.p) std::copy_n(s.p + i * s.ld, N, C + i * ldc);
        else std::fill_n(C + i * ldc, N, 0.0f);
      }
    return;
  }
  if (M == 1) {
    one_row(N, K, A, B, ldb, C, s.p);
    return;
  }
  auto at = [&](long j) { return s.at(0, j); };
  long j = 0;
#if SEQNET_WIDE_PANELS
  for (; j + 32 <= N; j += 32) column_panel_v16(M, K, A, lda, B + j, ldb, C + j, ldc, at(j));
  if (j < N) column_rest_v8(M, N - j, K, A, lda, B + j, ldb, C + j, ldc, at(j));
#else
  // 32 columns as two 16-wide panels (a 4 x 32 block needs all 16 registers for accumulators).
  for (; j + 32 <= N; j += 16) column_panel_v8<2>(M, K, A, lda, B + j, ldb, C + j, ldc, at(j));
  // 24 columns (a GRU(8)'s three gates) in one pass over A rather than a 16- and an 8-wide one.
  if (j + 24 <= N) {
    column_panel_v8<3>(M, K, A, lda, B + j, ldb, C + j, ldc, at(j));
    j += 24;
  }
  if (j + 16 <= N) {
    column_panel_v8<2>(M, K, A, lda, B + j, ldb, C + j, ldc, at(j));
    j += 16;
  }
  if (j + 8 <= N) {
    column_panel_v8<1>(M, K, A, lda, B + j, ldb, C + j, ldc, at(j));
    j += 8;
  }
  if (j < N) column_rest_v8(M, N - j, K, A, lda, B + j, ldb, C + j, ldc, at(j));
#endif
}

void small_gemm_split(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                      Start s) {
  if (M <= 0 || N <= 0) return;
  // Row blocks of 8: every row gets the same FMAs in the same order in any block, so the split is invisible.
  split_range(M, 8, 2.0 * double(M) * double(N) * double(K), [&](long begin, long end) {
    small_gemm_serial(end - begin, N, K, A + begin * lda, lda, B, ldb, C + begin * ldc, ldc, s.at(begin, 0));
  });
}
}  // namespace

void small_gemm(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                bool accumulate) {
  small_gemm_split(M, N, K, A, lda, B, ldb, C, ldc, accumulate ? Start{C, ldc} : Start{});
}

void small_gemm_add(long M, long N, long K, const float* A, long lda, const float* B, long ldb, const float* S,
                    long lds, float* C, long ldc) {
  small_gemm_split(M, N, K, A, lda, B, ldb, C, ldc, Start{S, lds});
}

void small_gemm_bias(long M, long N, long K, const float* A, long lda, const float* B, long ldb, const float* bias,
                     float* C, long ldc) {
  small_gemm_split(M, N, K, A, lda, B, ldb, C, ldc, Start{bias, 0});
}

namespace {
template <int NR>
void panel_tn(long M, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc) {
  const Start onto_c{C, ldc};  // C += A^T B
#if SEQNET_WIDE_PANELS
  static_assert(NR == 32, "AVX-512 leaves the last columns to column_rest_v8");
  long i = 0;
  for (; i + 8 <= M; i += 8) micro_v16<8, 2, true>(K, A + i, lda, B, ldb, C + i * ldc, ldc, onto_c.at(i, 0));
  for (; i + 4 <= M; i += 4) micro_v16<4, 2, true>(K, A + i, lda, B, ldb, C + i * ldc, ldc, onto_c.at(i, 0));
  for (; i < M; ++i) micro_v16<1, 2, true>(K, A + i, lda, B, ldb, C + i * ldc, ldc, onto_c.at(i, 0));
#else
  if constexpr (NR == 32) {  // as two 16-wide panels: 6 x 16 blocks keep 12 accumulators in AVX2's 16 registers
    column_panel_v8<2, true>(M, K, A, lda, B, ldb, C, ldc, onto_c);
    column_panel_v8<2, true>(M, K, A, lda, B + 16, ldb, C + 16, ldc, onto_c.at(0, 16));
  } else {
    column_panel_v8<NR / 8, true>(M, K, A, lda, B, ldb, C, ldc, onto_c);
  }
#endif
}
}  // namespace

namespace {
void small_gemm_tn_serial(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C,
                          long ldc, bool accumulate, float* column_sums) {
  if (!accumulate)
    for (long i = 0; i < M; ++i) std::fill_n(C + i * ldc, N, 0.0f);
  // K in chunks whose slice of B stays in L2 while every block of C passes over it.
  const long kc = std::max<long>(64, (192 * 1024 / 4) / std::max<long>(N + M, 1));
  for (long k0 = 0; k0 < K; k0 += kc) {
    const long kn = std::min(kc, K - k0);
    const float* a = A + k0 * lda;
    const float* b = B + k0 * ldb;
    long j = 0;
    for (; j + 32 <= N; j += 32) panel_tn<32>(M, kn, a, lda, b + j, ldb, C + j, ldc);
#if SEQNET_WIDE_PANELS
    if (j < N) column_rest_v8<true>(M, N - j, kn, a, lda, b + j, ldb, C + j, ldc, Start{C + j, ldc});
#else
    if (j + 24 <= N) {  // a GRU(8)'s three gates in one pass over the rows, not a 16- and an 8-wide one
      panel_tn<24>(M, kn, a, lda, b + j, ldb, C + j, ldc);
      j += 24;
    }
    if (j + 16 <= N) {
      panel_tn<16>(M, kn, a, lda, b + j, ldb, C + j, ldc);
      j += 16;
    }
    if (j + 8 <= N) {
      panel_tn<8>(M, kn, a, lda, b + j, ldb, C + j, ldc);
      j += 8;
    }
    if (j < N) column_rest_v8<true>(M, N - j, kn, a, lda, b + j, ldb, C + j, ldc, Start{C + j, ldc});
#endif
    // The chunk of B is still in cache: its column sums (a bias gradient) cost no pass of their own. Row by
    // row in order, as add_column_sums adds them.
    if (column_sums)
      for (long k = 0; k < kn; ++k)
        for (long c = 0; c < N; ++c) column_sums[c] += b[k * ldb + c];
  }
}
}  // namespace

// Split by rows of C (columns of A) in blocks of 8, or when those are few by columns in panels of 32; never
// over K, whose sums would then depend on the thread count. The column sums go with the part that holds
// the first rows (row split) or with each part's own columns (column split).
void small_gemm_tn(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                   bool accumulate, float* column_sums) {
  if (M <= 0 || N <= 0) return;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  if (M >= 16)
    split_range(M, 8, flops, [&](long begin, long end) {
      small_gemm_tn_serial(end - begin, N, K, A + begin, lda, B, ldb, C + begin * ldc, ldc, accumulate,
                           begin == 0 ? column_sums : nullptr);
    });
  else
    split_range(N, 32, flops, [&](long begin, long end) {
      small_gemm_tn_serial(M, end - begin, K, A, lda, B + begin, ldb, C + begin, ldc, accumulate,
                           column_sums ? column_sums + begin : nullptr);
    });
}

void transpose(const float* src, long rows, long cols, float* dst) {
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

SEQNET_KERNELS_END
