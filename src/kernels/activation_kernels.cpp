// The elementwise math of the activations (seqnet/activations.h), compiled once per instruction-set variant.
#include "kernels/activation_kernels.h"

#include <algorithm>
#include <cmath>

#include "kernels/fast_math.h"
#include "kernels/parallel.h"

SEQNET_KERNELS_BEGIN

namespace {
constexpr float kSeluAlpha = 1.67326324f;
constexpr float kSeluScale = 1.05070098f;
}  // namespace

// sigmoid, tanh, softmax, silu and softplus' gradient use the vectorizable exp / tanh of fast_math.h (a few
// ulp; libm's scalar calls cost a model such as the notes' hybrid, whose swish layers see 20 K values a step,
// a sixth of its step).
namespace {
void forward_part(Activation a, const float* x, float* y, long n, long row) {
  switch (a) {
    case Activation::linear:
      if (x != y) std::copy_n(x, n, y);
      return;
    case Activation::relu:
      for (long i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (long i = 0; i < n; ++i) y[i] = fast_sigmoid(x[i]);
      return;
    case Activation::tanh:
      for (long i = 0; i < n; ++i) y[i] = fast_tanh(x[i]);
      return;
    case Activation::softmax:
      for (long r = 0; r < n / row; ++r) {
        const float* xi = x + r * row;
        float* yi = y + r * row;
        float m = *std::max_element(xi, xi + row);
        float s = 0.0f;
        for (long j = 0; j < row; ++j) s += (yi[j] = fast_exp(xi[j] - m));
        for (long j = 0; j < row; ++j) yi[j] /= s;
      }
      return;
    case Activation::silu:
      for (long i = 0; i < n; ++i) y[i] = x[i] * fast_sigmoid(x[i]);
      return;
    case Activation::gelu:  // Keras's default: the exact erf form (approximate=False)
      for (long i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678f));
      return;
    case Activation::elu:
      for (long i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : std::expm1(x[i]);
      return;
    case Activation::selu:
      for (long i = 0; i < n; ++i) y[i] = kSeluScale * (x[i] > 0.0f ? x[i] : kSeluAlpha * std::expm1(x[i]));
      return;
    case Activation::softplus:
      for (long i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] + std::log1p(std::exp(-x[i])) : std::log1p(std::exp(x[i]));
      return;
    case Activation::softsign:
      for (long i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::fabs(x[i]));
      return;
    case Activation::hard_sigmoid:
      for (long i = 0; i < n; ++i) y[i] = std::clamp(x[i] / 6.0f + 0.5f, 0.0f, 1.0f);
      return;
    case Activation::exponential:
      for (long i = 0; i < n; ++i) y[i] = std::exp(x[i]);
      return;
    case Activation::hard_sigmoid_keras2:  // Keras 1/2: 0.2x + 0.5 clipped to [0, 1]
      for (long i = 0; i < n; ++i) y[i] = std::clamp(0.2f * x[i] + 0.5f, 0.0f, 1.0f);
      return;
  }
}

void backward_part(Activation a, const float* x, const float* y, const float* dy, float* dx, long n, long row) {
  switch (a) {
    case Activation::linear:
      if (dx != dy) std::copy_n(dy, n, dx);
      return;
    case Activation::relu:
      for (long i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      return;
    case Activation::tanh:
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      return;
    case Activation::softmax:
      for (long r = 0; r < n / row; ++r) {
        const float* yi = y + r * row;
        const float* dyi = dy + r * row;
        float* dxi = dx + r * row;
        float dot = 0.0f;
        for (long j = 0; j < row; ++j) dot += dyi[j] * yi[j];
        for (long j = 0; j < row; ++j) dxi[j] = yi[j] * (dyi[j] - dot);
      }
      return;
    case Activation::silu:
      for (long i = 0; i < n; ++i) {
        float s = fast_sigmoid(x[i]);
        dx[i] = dy[i] * (s + x[i] * s * (1.0f - s));
      }
      return;
    case Activation::gelu:
      for (long i = 0; i < n; ++i) {
        float cdf = 0.5f * (1.0f + std::erf(x[i] * 0.70710678f));
        float pdf = 0.39894228f * std::exp(-0.5f * x[i] * x[i]);
        dx[i] = dy[i] * (cdf + x[i] * pdf);
      }
      return;
    case Activation::elu:
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : std::exp(x[i]));
      return;
    case Activation::selu:
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * kSeluScale * (x[i] > 0.0f ? 1.0f : kSeluAlpha * std::exp(x[i]));
      return;
    case Activation::softplus:
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * fast_sigmoid(x[i]);
      return;
    case Activation::softsign:
      for (long i = 0; i < n; ++i) {
        float d = 1.0f + std::fabs(x[i]);
        dx[i] = dy[i] / (d * d);
      }
      return;
    case Activation::hard_sigmoid:
      for (long i = 0; i < n; ++i) dx[i] = (x[i] > -3.0f && x[i] < 3.0f) ? dy[i] / 6.0f : 0.0f;
      return;
    case Activation::exponential:
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * y[i];
      return;
    case Activation::hard_sigmoid_keras2:
      for (long i = 0; i < n; ++i) dx[i] = (x[i] > -2.5f && x[i] < 2.5f) ? 0.2f * dy[i] : 0.0f;
      return;
  }
}

}  // namespace

// Megabytes of elementwise work (a Conv1D's relu over every step of a batch) split over the threads by whole
// rows (softmax normalizes along a row); every element is computed the same way on any thread count.
void activation_forward(Activation a, const float* x, float* y, long n, long row) {
  row = std::max(row, 1L);
  split_range(n / row, 1, 20.0 * double(n), [&](long r0, long r1) {
    forward_part(a, x + r0 * row, y + r0 * row, (r1 - r0) * row, row);
  });
}

void activation_backward(Activation a, const float* x, const float* y, const float* dy, float* dx, long n, long row) {
  row = std::max(row, 1L);
  split_range(n / row, 1, 20.0 * double(n), [&](long r0, long r1) {
    const long o = r0 * row;
    backward_part(a, x ? x + o : nullptr, y ? y + o : nullptr, dy + o, dx + o, (r1 - r0) * row, row);
  });
}

SEQNET_KERNELS_END
