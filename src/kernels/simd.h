// Vectors of 8 and 16 floats as GCC vector types (one AVX / AVX-512 register; two AVX registers make a v16f
// in the AVX2 variant), unaligned loads and stores, and a fused multiply-add on each. seqnet compiles with
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
typedef float v16f __attribute__((vector_size(64)));

inline v8f load8(const float* p) {
  v8f v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8f v) { __builtin_memcpy(p, &v, sizeof(v)); }
inline v16f load16(const float* p) {
  v16f v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
inline void store16(float* p, v16f v) { __builtin_memcpy(p, &v, sizeof(v)); }

// a * b + c with one rounding, lane by lane.
inline v8f fma(v8f a, v8f b, v8f c) {
#if defined(__FMA__)
  return _mm256_fmadd_ps(a, b, c);
#else
  for (int i = 0; i < 8; ++i) c[i] = SEQNET_FMA(a[i], b[i], c[i]);
  return c;
#endif
}
inline v16f fma(v16f a, v16f b, v16f c) {
#if defined(__AVX512F__)
  return _mm512_fmadd_ps(a, b, c);
#else
  v8f lo, hi, al, ah, bl, bh, cl, ch;
  __builtin_memcpy(&al, &a, 32), __builtin_memcpy(&ah, reinterpret_cast<const char*>(&a) + 32, 32);
  __builtin_memcpy(&bl, &b, 32), __builtin_memcpy(&bh, reinterpret_cast<const char*>(&b) + 32, 32);
  __builtin_memcpy(&cl, &c, 32), __builtin_memcpy(&ch, reinterpret_cast<const char*>(&c) + 32, 32);
  lo = fma(al, bl, cl), hi = fma(ah, bh, ch);
  __builtin_memcpy(&c, &lo, 32), __builtin_memcpy(reinterpret_cast<char*>(&c) + 32, &hi, 32);
  return c;
#endif
}
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

// x * b + c for a scalar x.
inline v8f fma(float x, v8f b, v8f c) { return fma(v8f{} + x, b, c); }
inline v16f fma(float x, v16f b, v16f c) { return fma(v16f{} + x, b, c); }

SEQNET_KERNELS_END
