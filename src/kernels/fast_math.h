// Branch-free float sigmoid / tanh that the compiler vectorizes (no libm calls in the loop), for the
// fused recurrent gate kernels. Accuracy: exp about 2 ulp (Cephes polynomial); tanh an odd 13/6 rational
// approximation (Eigen's) with absolute error below 1e-6 over the whole line; sigmoid = 1 / (1 + exp(-x))
// keeps its relative accuracy for very negative x. Internal header.
#pragma once
#include <bit>
#include <cstdint>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "kernels/simd.h"

SEQNET_KERNELS_BEGIN

// Each function is one template over a float and the vector types of simd.h: the same operations in the same
// order lane by lane, so a vector kernel computes the bits a scalar loop would (the kernels' promise of the same
// values on every variant rests on that).
template <class T>
struct LaneBits {
  using type = int32_t;
};
template <>
struct LaneBits<v8f> {
  typedef int32_t type __attribute__((vector_size(32)));
};
#if defined(__AVX512F__)
template <>
struct LaneBits<v16f> {
  typedef int32_t type __attribute__((vector_size(64)));
};
#endif

inline float fmadd(float a, float b, float c) { return SEQNET_FMA(a, b, c); }
inline v8f fmadd(v8f a, v8f b, v8f c) { return fma(a, b, c); }
#if defined(__AVX512F__)
inline v16f fmadd(v16f a, v16f b, v16f c) { return fma(a, b, c); }
#endif

// The constant c in every lane of T.
template <class T>
inline T splat(float c) {
  return T{} + c;
}

template <class T>
inline T fast_exp(T x) {
  using Bits = typename LaneBits<T>::type;
  x = x < splat<T>(-87.3365f) ? splat<T>(-87.3365f) : x;
  x = x > splat<T>(88.3762626647950f) ? splat<T>(88.3762626647950f) : x;
  // exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 in [-ln2/2, ln2/2]. Rounding by adding
  // 1.5 * 2^23 (valid for |n| < 2^22) keeps the loop free of libm calls and conversions, so it vectorizes.
  const T magic = splat<T>(12582912.0f);
  const T shifted = fmadd(x, splat<T>(1.44269504088896341f), magic);
  const T fn = shifted - magic;
  const Bits n = std::bit_cast<Bits>(shifted) - std::bit_cast<Bits>(magic);
  T r = fmadd(fn, splat<T>(-0.693359375f), x);
  r = fmadd(fn, splat<T>(2.12194440e-4f), r);
  const T z = r * r;
  T y = splat<T>(1.9875691500e-4f);
  y = fmadd(y, r, splat<T>(1.3981999507e-3f));
  y = fmadd(y, r, splat<T>(8.3334519073e-3f));
  y = fmadd(y, r, splat<T>(4.1665795894e-2f));
  y = fmadd(y, r, splat<T>(1.6666665459e-1f));
  y = fmadd(y, r, splat<T>(5.0000001201e-1f));
  y = fmadd(y, z, r);
  y += splat<T>(1.0f);
  return y * std::bit_cast<T>((n + 127) << 23);
}

// Flushes denormal results and operands to zero on this thread while alive (x86 MXCSR FTZ + DAZ). Gradients
// that fade through hundreds of time steps reach the denormal range, where every multiply costs about a
// hundred cycles on x86; values below 1.2e-38 carry nothing a float32 model can use.
class DenormalsAreZero {
 public:
#if defined(__SSE__)
  DenormalsAreZero() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~DenormalsAreZero() { _mm_setcsr(saved_); }
#else
  DenormalsAreZero() = default;
#endif
  DenormalsAreZero(const DenormalsAreZero&) = delete;
  DenormalsAreZero& operator=(const DenormalsAreZero&) = delete;

 private:
#if defined(__SSE__)
  unsigned saved_;
#endif
};

// The floating-point mode (MXCSR) of the thread that created it, carried into worker threads: a GEMM
// split over threads must flush denormals in every part exactly as the calling thread would.
class FloatMode {
 public:
#if defined(__SSE__)
  FloatMode() : csr_(_mm_getcsr()) {}
  // Applies the captured mode on the calling thread while `Scope` is alive.
  class Scope {
   public:
    explicit Scope(const FloatMode& mode) : saved_(_mm_getcsr()) { _mm_setcsr(mode.csr_); }
    ~Scope() { _mm_setcsr(saved_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    unsigned saved_;
  };

 private:
  unsigned csr_;
#else
  class Scope {
   public:
    explicit Scope(const FloatMode&) {}
  };
#endif
};

template <class T>
inline T fast_sigmoid(T x) {
  return splat<T>(1.0f) / (splat<T>(1.0f) + fast_exp(-x));
}

template <class T>
inline T fast_tanh(T x) {
  const T bound = splat<T>(7.90531110763549805f);
  x = x > bound ? bound : x;
  x = x < -bound ? -bound : x;
  const T x2 = x * x;
  T p = fmadd(x2, splat<T>(-2.76076847742355e-16f), splat<T>(2.00018790482477e-13f));
  p = fmadd(x2, p, splat<T>(-8.60467152213735e-11f));
  p = fmadd(x2, p, splat<T>(5.12229709037114e-08f));
  p = fmadd(x2, p, splat<T>(1.48572235717979e-05f));
  p = fmadd(x2, p, splat<T>(6.37261928875436e-04f));
  p = fmadd(x2, p, splat<T>(4.89352455891786e-03f));
  p = x * p;
  T q = fmadd(x2, splat<T>(1.19825839466702e-06f), splat<T>(1.18534705686654e-04f));
  q = fmadd(x2, q, splat<T>(2.26843463243900e-03f));
  q = fmadd(x2, q, splat<T>(4.89352518554385e-03f));
  return p / q;
}

SEQNET_KERNELS_END
