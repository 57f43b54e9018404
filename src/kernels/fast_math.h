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

inline float fast_exp(float x) {
  x = x < -87.3365f ? -87.3365f : x;
  x = x > 88.3762626647950f ? 88.3762626647950f : x;
  // exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 in [-ln2/2, ln2/2]. Rounding by adding
  // 1.5 * 2^23 (valid for |n| < 2^22) keeps the loop free of libm calls and conversions, so it vectorizes.
  constexpr float kMagic = 12582912.0f;
  const float shifted = SEQNET_FMA(x, 1.44269504088896341f, kMagic);
  const float fn = shifted - kMagic;
  const int32_t n = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kMagic);
  float r = SEQNET_FMA(fn, -0.693359375f, x);
  r = SEQNET_FMA(fn, 2.12194440e-4f, r);
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = SEQNET_FMA(y, r, 1.3981999507e-3f);
  y = SEQNET_FMA(y, r, 8.3334519073e-3f);
  y = SEQNET_FMA(y, r, 4.1665795894e-2f);
  y = SEQNET_FMA(y, r, 1.6666665459e-1f);
  y = SEQNET_FMA(y, r, 5.0000001201e-1f);
  y = SEQNET_FMA(y, z, r);
  y += 1.0f;
  return y * std::bit_cast<float>((n + 127) << 23);
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

inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

inline float fast_tanh(float x) {
  x = x > 7.90531110763549805f ? 7.90531110763549805f : x;
  x = x < -7.90531110763549805f ? -7.90531110763549805f : x;
  const float x2 = x * x;
  float p = SEQNET_FMA(x2, -2.76076847742355e-16f, 2.00018790482477e-13f);
  p = SEQNET_FMA(x2, p, -8.60467152213735e-11f);
  p = SEQNET_FMA(x2, p, 5.12229709037114e-08f);
  p = SEQNET_FMA(x2, p, 1.48572235717979e-05f);
  p = SEQNET_FMA(x2, p, 6.37261928875436e-04f);
  p = SEQNET_FMA(x2, p, 4.89352455891786e-03f);
  p = x * p;
  float q = SEQNET_FMA(x2, 1.19825839466702e-06f, 1.18534705686654e-04f);
  q = SEQNET_FMA(x2, q, 2.26843463243900e-03f);
  q = SEQNET_FMA(x2, q, 4.89352518554385e-03f);
  return p / q;
}

SEQNET_KERNELS_END
