// Vectors of 8 floats (one AVX register) and, in the AVX-512 variant, 16 floats as GCC vector types, unaligned
// loads and stores, and a fused multiply-add on each. seqnet compiles with
// -ffp-contract=off, so `a * b + c` is always two roundings and every fused multiply-add is written as one
// (SEQNET_FMA, fma): the arithmetic of a value is then the same in every kernel variant, in a vector body and
// in its scalar tail, whatever the compiler's tuning for a CPU. Internal header.
#pragma once
#include <cmath>
#if defined(__FMA__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/isa.h"

#if defined(__FMA__)
#define SEQNET_FMA(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define SEQNET_FMA(a, b, c) std::fma((a), (b), (c))  // correctly rounded in software: the same bits, slower
#endif

SEQNET_KERNELS_BEGIN

typedef float v8f __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
  v8f v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8f v) { __builtin_memcpy(p, &v, sizeof(v)); }

// a * b + c with one rounding, lane by lane.
inline v8f fma(v8f a, v8f b, v8f c) {
#if defined(__FMA__)
  return _mm256_fmadd_ps(a, b, c);
#else
  for (int i = 0; i < 8; ++i) c[i] = SEQNET_FMA(a[i], b[i], c[i]);
  return c;
#endif
}
// x * b + c for a scalar x.
inline v8f fma(float x, v8f b, v8f c) {
#if defined(__FMA__)
  return _mm256_fmadd_ps(_mm256_set1_ps(x), b, c);
#else
  for (int i = 0; i < 8; ++i) c[i] = SEQNET_FMA(x, b[i], c[i]);
  return c;
#endif
}

#if defined(__AVX512F__)
// The 16-float vectors are used only where AVX-512 is compiled in (the AVX2 variant uses v8f instead).
typedef float v16f __attribute__((vector_size(64)));
// Intrinsics, not memcpy: GCC keeps a memcpy'd 64-byte vector of an array in memory.
inline v16f load16(const float* p) { return _mm512_loadu_ps(p); }
inline void store16(float* p, v16f v) { _mm512_storeu_ps(p, v); }
inline v16f fma(v16f a, v16f b, v16f c) { return _mm512_fmadd_ps(a, b, c); }
inline v16f fma(float x, v16f b, v16f c) { return _mm512_fmadd_ps(_mm512_set1_ps(x), b, c); }
#endif

// A float buffer of the variant's own type: std::vector's out-of-line members would be one copy shared by
// name with the other variants (kernels/isa.h; tests/check_kernel_symbols.cmake checks for such symbols).
class FloatBuffer {
 public:
  FloatBuffer() = default;
  explicit FloatBuffer(long n) { reserve(n); }
  ~FloatBuffer() { delete[] data_; }
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;

  float* data() { return data_; }
  // Room for n floats; the old contents are lost when it grows.
  float* reserve(long n) {
    if (n > size_) {
      delete[] data_;
      data_ = new float[size_t(n)];
      size_ = n;
    }
    return data_;
  }
  // n floats, all zero.
  float* zeroed(long n) {
    reserve(n);
    for (long i = 0; i < n; ++i) data_[i] = 0.0f;
    return data_;
  }

 private:
  float* data_ = nullptr;
  long size_ = 0;
};


SEQNET_KERNELS_END
