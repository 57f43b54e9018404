// The reference backend: each op as the plainest loop that computes it (backend/backend.h has the formulas).
// The arithmetic of every expression here is the specification: the tuned ops must give the same bits.
#include "backend/reference_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backend/recurrent.h"

namespace seqnet {

namespace {
constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon()

double sign(double e) { return double((e > 0) - (e < 0)); }

// The binary crossentropies' target with label smoothing s: y (1 - s) + s / 2.
double smoothed_binary_target(float t, float s) { return double(t) * (1.0 - double(s)) + 0.5 * double(s); }

// One row of a crossentropy's target distribution, in double.
void target_row(const Tensor& target, int64_t row, int64_t classes, const CrossentropyRows& how, double* out) {
  if (how.sparse_labels) {
    std::fill(out, out + classes, 0.0);
    out[int64_t(target[row])] = 1.0;
    return;
  }
  const float* t = target.data() + row * classes;
  for (int64_t j = 0; j < classes; ++j)
    out[j] = double(t[j]) * (1.0 - double(how.label_smoothing)) + double(how.label_smoothing) / double(classes);
}

// log(sum(exp(z))) of one row of logits, shifted by its maximum.
double log_sum_exp(const float* z, int64_t classes) {
  const double m = *std::max_element(z, z + classes);
  double s = 0;
  for (int64_t j = 0; j < classes; ++j) s += std::exp(z[j] - m);
  return m + std::log(s);
}

int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }
}  // namespace

// ---- Optimizer updates ----------------------------------------------------------------------------------------

void ReferenceBackend::sgd_update(Tensor& value, const Tensor& grad, Tensor* velocity, const SgdStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  const float lr = step.learning_rate;
  if (!velocity) {
    for (int64_t i = 0; i < value.size(); ++i) v[i] -= lr * g[i];
    return;
  }
  float* m = velocity->data();
  for (int64_t i = 0; i < value.size(); ++i) {
    m[i] = step.momentum * m[i] - lr * g[i];
    v[i] += step.nesterov ? step.momentum * m[i] - lr * g[i] : m[i];
  }
}

void ReferenceBackend::rmsprop_update(Tensor& value, const Tensor& grad, Tensor& velocity, Tensor* average_gradient,
                                      Tensor* momentum, const RmspropStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  float* vel = velocity.data();
  float* mg = average_gradient ? average_gradient->data() : nullptr;
  float* mom = momentum ? momentum->data() : nullptr;
  const float lr = step.learning_rate, rho = step.rho;
  for (int64_t i = 0; i < value.size(); ++i) {
    vel[i] = rho * vel[i] + (1.0f - rho) * g[i] * g[i];
    float denom;
    if (mg) {
      mg[i] = rho * mg[i] + (1.0f - rho) * g[i];
      denom = vel[i] - mg[i] * mg[i] + step.epsilon;
    } else {
      denom = vel[i] + step.epsilon;
    }
    const float increment = lr * g[i] / std::sqrt(denom);
    if (mom) {
      mom[i] = step.momentum * mom[i] + increment;
      v[i] -= mom[i];
    } else {
      v[i] -= increment;
    }
  }
}

void ReferenceBackend::adam_update(Tensor& value, const Tensor& grad, Tensor& m_slot, Tensor& v_slot, Tensor* v_hat,
                                   const AdamStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  float* m = m_slot.data();
  float* s = v_slot.data();
  float* vhat = v_hat ? v_hat->data() : nullptr;
  for (int64_t i = 0; i < value.size(); ++i) {
    m[i] += (g[i] - m[i]) * (1.0f - step.beta_1);
    s[i] += (g[i] * g[i] - s[i]) * (1.0f - step.beta_2);
    float second_moment = s[i];
    if (vhat) {
      vhat[i] = std::max(vhat[i], s[i]);
      second_moment = vhat[i];
    }
    v[i] -= m[i] * step.alpha / (std::sqrt(second_moment) + step.epsilon);
  }
}

void ReferenceBackend::adagrad_update(Tensor& value, const Tensor& grad, Tensor& accumulator, const AdagradStep& step) {
  float* v = value.data();
  const float* g = grad.data();
  float* acc = accumulator.data();
  for (int64_t i = 0; i < value.size(); ++i) {
    acc[i] += g[i] * g[i];
    v[i] -= step.learning_rate * g[i] / std::sqrt(acc[i] + step.epsilon);
  }
}

void ReferenceBackend::decay_weights(Tensor& value, float weight_decay, float learning_rate) {
  float* v = value.data();
  for (int64_t i = 0; i < value.size(); ++i) v[i] -= v[i] * weight_decay * learning_rate;
}

// ---- Gradient clipping ----------------------------------------------------------------------------------------

double ReferenceBackend::sum_of_squares(const Tensor& x, double start) {
  const float* p = x.data();
  double sq = start;
  for (int64_t i = 0; i < x.size(); ++i) sq += double(p[i]) * p[i];
  return sq;
}

void ReferenceBackend::scale_to_norm(Tensor& x, double clip_norm, double norm) {
  float* p = x.data();
  for (int64_t i = 0; i < x.size(); ++i) p[i] = float(p[i] * clip_norm / norm);
}

void ReferenceBackend::clip_values(Tensor& x, float limit) {
  float* p = x.data();
  for (int64_t i = 0; i < x.size(); ++i) p[i] = std::clamp(p[i], -limit, limit);
}

// ---- Losses ---------------------------------------------------------------------------------------------------

double ReferenceBackend::pointwise_loss_forward(PointwiseLoss kind, const Tensor& pred, const Tensor& target,
                                                float param) {
  const float* p = pred.data();
  const float* t = target.data();
  double sum = 0;
  for (int64_t i = 0; i < pred.size(); ++i) {
    switch (kind) {
      case PointwiseLoss::absolute_error:
        sum += std::fabs(double(p[i]) - double(t[i]));
        break;
      case PointwiseLoss::squared_error: {
        const double e = double(p[i]) - double(t[i]);
        sum += e * e;
        break;
      }
      case PointwiseLoss::huber: {
        const double e = double(p[i]) - double(t[i]), a = std::fabs(e), d = param;
        sum += a <= d ? 0.5 * e * e : d * (a - 0.5 * d);
        break;
      }
      case PointwiseLoss::binary_crossentropy: {
        // The clip happens in float32, as in Keras: 1 - (1 - 1e-7f) is 1.19e-7, not 1e-7.
        const float lo = float(kEpsilon), hi = 1.0f - float(kEpsilon);
        const double y = smoothed_binary_target(t[i], param);
        const double q = std::clamp(p[i], lo, hi), one_minus_q = 1.0f - std::clamp(p[i], lo, hi);
        sum += -(y * std::log(q) + (1.0 - y) * std::log(one_minus_q));
        break;
      }
      case PointwiseLoss::binary_crossentropy_logits: {
        const double x = p[i], y = smoothed_binary_target(t[i], param);
        sum += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
        break;
      }
    }
  }
  return sum;
}

void ReferenceBackend::pointwise_loss_backward(PointwiseLoss kind, Tensor& dpred, const Tensor& pred,
                                               const Tensor& target, float param) {
  const float* p = pred.data();
  const float* t = target.data();
  float* d = dpred.data();
  const int64_t n = pred.size();
  for (int64_t i = 0; i < n; ++i) {
    switch (kind) {
      case PointwiseLoss::absolute_error:
        d[i] = float(sign(double(p[i]) - double(t[i]))) / float(n);
        break;
      case PointwiseLoss::squared_error:
        d[i] = float(2.0 * (double(p[i]) - double(t[i])) / double(n));
        break;
      case PointwiseLoss::huber: {
        const double e = double(p[i]) - double(t[i]), a = std::fabs(e), delta = param;
        d[i] = float((a <= delta ? e : delta * sign(e)) / double(n));
        break;
      }
      case PointwiseLoss::binary_crossentropy: {
        // The clip passes no gradient outside [eps, 1 - eps], as in TensorFlow.
        const float lo = float(kEpsilon), hi = 1.0f - float(kEpsilon);
        const double y = smoothed_binary_target(t[i], param);
        const double q = std::clamp(p[i], lo, hi), one_minus_q = 1.0f - std::clamp(p[i], lo, hi);
        d[i] = (p[i] > lo && p[i] < hi) ? float((-(y / q) + (1.0 - y) / one_minus_q) / double(n)) : 0.0f;
        break;
      }
      case PointwiseLoss::binary_crossentropy_logits: {
        const double x = p[i], y = smoothed_binary_target(t[i], param);
        d[i] = float((1.0 / (1.0 + std::exp(-x)) - y) / double(n));
        break;
      }
    }
  }
}

double ReferenceBackend::crossentropy_forward(const Tensor& pred, const Tensor& target, int64_t classes,
                                              const CrossentropyRows& how) {
  const int64_t rows = pred.size() / classes;
  std::vector<double> y(static_cast<size_t>(classes));
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = pred.data() + r * classes;
    target_row(target, r, classes, how, y.data());
    if (how.from_logits) {
      // -sum(y log softmax(z)) = sum(y) logsumexp(z) - sum(y z)
      const double lse = log_sum_exp(p, classes);
      double ysum = 0, yz = 0;
      for (int64_t j = 0; j < classes; ++j) ysum += y[size_t(j)], yz += y[size_t(j)] * p[j];
      sum += ysum * lse - yz;
    } else {
      // Keras (TF backend): q = p / sum(p), clipped to [eps, 1 - eps].
      double s = 0;
      for (int64_t j = 0; j < classes; ++j) s += p[j];
      for (int64_t j = 0; j < classes; ++j) sum += -y[size_t(j)] * std::log(std::clamp(p[j] / s, kEpsilon, 1.0 - kEpsilon));
    }
  }
  return sum / double(rows);
}

void ReferenceBackend::crossentropy_backward(Tensor& dpred, const Tensor& pred, const Tensor& target, int64_t classes,
                                             const CrossentropyRows& how) {
  const int64_t rows = pred.size() / classes;
  std::vector<double> y(static_cast<size_t>(classes)), dq(static_cast<size_t>(classes));
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = pred.data() + r * classes;
    float* d = dpred.data() + r * classes;
    target_row(target, r, classes, how, y.data());
    if (how.from_logits) {
      const double lse = log_sum_exp(p, classes);
      double ysum = 0;
      for (int64_t j = 0; j < classes; ++j) ysum += y[size_t(j)];
      for (int64_t j = 0; j < classes; ++j) d[j] = float((ysum * std::exp(p[j] - lse) - y[size_t(j)]) / double(rows));
    } else {
      // Through q = p / s: dL/dp_j = dq_j / s - sum_k(dq_k p_k) / s^2; the clip passes no gradient.
      double s = 0;
      for (int64_t j = 0; j < classes; ++j) s += p[j];
      double dq_dot_p = 0;
      for (int64_t j = 0; j < classes; ++j) {
        const double q = p[j] / s, clipped = std::clamp(q, kEpsilon, 1.0 - kEpsilon);
        dq[size_t(j)] = (q > kEpsilon && q < 1.0 - kEpsilon) ? -y[size_t(j)] / clipped : 0.0;
        dq_dot_p += dq[size_t(j)] * p[j];
      }
      for (int64_t j = 0; j < classes; ++j) d[j] = float((dq[size_t(j)] / s - dq_dot_p / (s * s)) / double(rows));
    }
  }
}

InvalidLabel ReferenceBackend::first_invalid_label(const Tensor& labels, int64_t classes) {
  const float* t = labels.data();
  for (int64_t i = 0; i < labels.size(); ++i) {
    const double label = t[i];
    if (label != std::floor(label) || label < 0 || label >= double(classes)) return {i, label};
  }
  return {};
}

// ---- Metrics --------------------------------------------------------------------------------------------------

double ReferenceBackend::binary_hits(const Tensor& pred, const Tensor& target, float threshold) {
  const float* p = pred.data();
  const float* t = target.data();
  double hits = 0;
  for (int64_t i = 0; i < pred.size(); ++i) hits += ((p[i] > threshold) == (t[i] > 0.5f)) ? 1.0 : 0.0;
  return hits;
}

double ReferenceBackend::argmax_hits(const Tensor& pred, const Tensor& target, int64_t classes, bool sparse_labels) {
  const int64_t rows = pred.size() / classes;
  double hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t predicted = argmax(pred.data() + r * classes, classes);
    if (sparse_labels) hits += double(predicted) == double(target[r]);
    else hits += predicted == argmax(target.data() + r * classes, classes);
  }
  return hits;
}

}  // namespace seqnet

// ---- Dense algebra and activations ----------------------------------------------------------------------------

namespace seqnet {

void ReferenceBackend::copy(Tensor& dst, const Tensor& src) { std::copy_n(src.data(), src.size(), dst.data()); }

void ReferenceBackend::fill(Tensor& x, float value) {
  float* p = x.data();
  for_each_piece(x.size(), 1024, 4.0 * double(x.size()), [&](int64_t begin, int64_t end) {
    std::fill(p + begin, p + end, value);
  });
}

bool ReferenceBackend::equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), size_t(a.size()) * sizeof(float)) == 0;
}

void ReferenceBackend::scale(Tensor& y, const Tensor& x, float factor) {
  const float* in = x.data();
  float* out = y.data();
  for (int64_t i = 0; i < x.size(); ++i) out[i] = in[i] * factor;
}

void ReferenceBackend::matmul_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias) {
  const int64_t in_dim = weight.dim(0), out_dim = weight.dim(1), rows = x.size() / in_dim;
  const float* w = weight.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * in_dim;
    for (int64_t o = 0; o < out_dim; ++o) {
      float sum = bias ? bias->data()[o] : 0.0f;
      for (int64_t k = 0; k < in_dim; ++k) sum += xr[k] * w[k * out_dim + o];
      out.data()[r * out_dim + o] = sum;
    }
  }
}

void ReferenceBackend::matmul_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                                       const Tensor& weight) {
  const int64_t in_dim = weight.dim(0), out_dim = weight.dim(1), rows = x.size() / in_dim;
  const float* w = weight.data();
  const float* g = dout.data();
  const float* xs = x.data();
  for (int64_t k = 0; k < in_dim; ++k)
    for (int64_t o = 0; o < out_dim; ++o) {
      float sum = 0.0f;
      for (int64_t r = 0; r < rows; ++r) sum += xs[r * in_dim + k] * g[r * out_dim + o];
      dweight.data()[k * out_dim + o] += sum;
    }
  if (dbias)
    for (int64_t o = 0; o < out_dim; ++o) {
      float sum = 0.0f;
      for (int64_t r = 0; r < rows; ++r) sum += g[r * out_dim + o];
      dbias->data()[o] += sum;
    }
  if (dx)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < in_dim; ++k) {
        float sum = 0.0f;
        for (int64_t o = 0; o < out_dim; ++o) sum += g[r * out_dim + o] * w[k * out_dim + o];
        dx->data()[r * in_dim + k] = sum;
      }
}

namespace {
// The input step that output step t reads through tap j, or -1 in the padding.
int64_t window_step(const Windows& w, int64_t t, int64_t j, int64_t steps) {
  const int64_t p = t * w.strides + j * w.dilation - w.pad_left;
  return p >= 0 && p < steps ? p : -1;
}
}  // namespace

void ReferenceBackend::conv1d_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias,
                                      const Windows& windows) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2), K = weight.dim(0), F = weight.dim(2), Lout = out.dim(1);
  const float* w = weight.data();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Lout; ++t)
      for (int64_t f = 0; f < F; ++f) {
        float sum = bias ? bias->data()[f] : 0.0f;
        for (int64_t j = 0; j < K; ++j) {
          const int64_t p = window_step(windows, t, j, L);
          if (p < 0) continue;
          for (int64_t c = 0; c < C; ++c) sum += x.data()[(b * L + p) * C + c] * w[(j * C + c) * F + f];
        }
        out.data()[(b * Lout + t) * F + f] = sum;
      }
}

void ReferenceBackend::conv1d_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                                       const Tensor& weight, const Windows& windows) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2), K = weight.dim(0), F = weight.dim(2), Lout = dout.dim(1);
  const float* w = weight.data();
  if (dx) dx->fill(0.0f);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Lout; ++t)
      for (int64_t f = 0; f < F; ++f) {
        const float g = dout.data()[(b * Lout + t) * F + f];
        if (dbias) dbias->data()[f] += g;
        for (int64_t j = 0; j < K; ++j) {
          const int64_t p = window_step(windows, t, j, L);
          if (p < 0) continue;
          for (int64_t c = 0; c < C; ++c) {
            dweight.data()[(j * C + c) * F + f] += x.data()[(b * L + p) * C + c] * g;
            if (dx) dx->data()[(b * L + p) * C + c] += w[(j * C + c) * F + f] * g;
          }
        }
      }
}

namespace {
constexpr float kSeluAlpha = 1.67326324f;
constexpr float kSeluScale = 1.05070098f;
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
}  // namespace

void ReferenceBackend::activation_forward(Activation act, Tensor& y_out, const Tensor& x_in) {
  const float* x = x_in.data();
  float* y = y_out.data();
  const int64_t n = x_in.size(), row = x_in.rank() ? std::max<int64_t>(x_in.dim(-1), 1) : 1;
  if (act == Activation::softmax) {
    for (int64_t r = 0; r < n / row; ++r) {
      const float* xr = x + r * row;
      float* yr = y + r * row;
      const float m = *std::max_element(xr, xr + row);
      float s = 0.0f;
      for (int64_t j = 0; j < row; ++j) s += (yr[j] = std::exp(xr[j] - m));
      for (int64_t j = 0; j < row; ++j) yr[j] /= s;
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    switch (act) {
      case Activation::linear: y[i] = v; break;
      case Activation::relu: y[i] = v > 0.0f ? v : 0.0f; break;
      case Activation::sigmoid: y[i] = sigmoid(v); break;
      case Activation::tanh: y[i] = std::tanh(v); break;
      case Activation::silu: y[i] = v * sigmoid(v); break;
      case Activation::gelu: y[i] = 0.5f * v * (1.0f + std::erf(v * 0.70710678f)); break;  // Keras: exact erf
      case Activation::elu: y[i] = v > 0.0f ? v : std::expm1(v); break;
      case Activation::selu: y[i] = kSeluScale * (v > 0.0f ? v : kSeluAlpha * std::expm1(v)); break;
      case Activation::softplus: y[i] = v > 0.0f ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); break;
      case Activation::softsign: y[i] = v / (1.0f + std::fabs(v)); break;
      case Activation::hard_sigmoid: y[i] = std::clamp(v / 6.0f + 0.5f, 0.0f, 1.0f); break;
      case Activation::exponential: y[i] = std::exp(v); break;
      case Activation::hard_sigmoid_keras2: y[i] = std::clamp(0.2f * v + 0.5f, 0.0f, 1.0f); break;
      case Activation::softmax: break;
    }
  }
}

void ReferenceBackend::activation_backward(Activation act, Tensor& dx_out, const Tensor& x_in, const Tensor& y_in,
                                           const Tensor& dy_in) {
  const float* x = x_in.empty() ? nullptr : x_in.data();
  const float* y = y_in.empty() ? nullptr : y_in.data();
  const float* dy = dy_in.data();
  float* dx = dx_out.data();
  const int64_t n = dy_in.size(), row = dy_in.rank() ? std::max<int64_t>(dy_in.dim(-1), 1) : 1;
  if (act == Activation::softmax) {
    for (int64_t r = 0; r < n / row; ++r) {
      float dot = 0.0f;
      for (int64_t j = 0; j < row; ++j) dot += dy[r * row + j] * y[r * row + j];
      for (int64_t j = 0; j < row; ++j) dx[r * row + j] = y[r * row + j] * (dy[r * row + j] - dot);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    switch (act) {
      case Activation::linear: dx[i] = dy[i]; break;
      case Activation::relu: dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; break;
      case Activation::sigmoid: dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
      case Activation::tanh: dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
      case Activation::silu: {
        const float s = sigmoid(x[i]);
        dx[i] = dy[i] * (s + x[i] * s * (1.0f - s));
        break;
      }
      case Activation::gelu: {
        const float cdf = 0.5f * (1.0f + std::erf(x[i] * 0.70710678f));
        const float pdf = 0.39894228f * std::exp(-0.5f * x[i] * x[i]);
        dx[i] = dy[i] * (cdf + x[i] * pdf);
        break;
      }
      case Activation::elu: dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : std::exp(x[i])); break;
      case Activation::selu: dx[i] = dy[i] * kSeluScale * (x[i] > 0.0f ? 1.0f : kSeluAlpha * std::exp(x[i])); break;
      case Activation::softplus: dx[i] = dy[i] * sigmoid(x[i]); break;
      case Activation::softsign: {
        const float d = 1.0f + std::fabs(x[i]);
        dx[i] = dy[i] / (d * d);
        break;
      }
      case Activation::hard_sigmoid: dx[i] = (x[i] > -3.0f && x[i] < 3.0f) ? dy[i] / 6.0f : 0.0f; break;
      case Activation::exponential: dx[i] = dy[i] * y[i]; break;
      case Activation::hard_sigmoid_keras2: dx[i] = (x[i] > -2.5f && x[i] < 2.5f) ? 0.2f * dy[i] : 0.0f; break;
      case Activation::softmax: break;
    }
  }
}

// ---- Embeddings -----------------------------------------------------------------------------------------------

InvalidId ReferenceBackend::embedding_ids(Tensor& ids, const Tensor& x, int64_t input_dim) {
  int32_t* out = ids.idata();
  if (x.is_float()) {
    // Keras casts float ids to int; a fraction is almost surely a data bug. The range is checked before the
    // conversion, which could overflow.
    const float* p = x.data();
    for (int64_t i = 0; i < x.size(); ++i) {
      if (p[i] != std::floor(p[i])) return {i, double(p[i]), true};
      if (!(p[i] >= 0.0f && p[i] < float(input_dim))) return {i, double(p[i]), false};
      out[i] = static_cast<int32_t>(p[i]);
    }
    return {};
  }
  const int32_t* p = x.idata();
  for (int64_t i = 0; i < x.size(); ++i) {
    if (p[i] < 0 || p[i] >= input_dim) return {i, double(p[i]), false};
    out[i] = p[i];
  }
  return {};
}

void ReferenceBackend::embedding_forward(Tensor& out, const Tensor& ids, const Tensor& table) {
  const int64_t dim = table.dim(1);
  const int32_t* id = ids.idata();
  const float* rows = table.data();
  float* o = out.data();
  for_each_piece(ids.size(), 1, 4.0 * double(ids.size()) * double(dim), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) std::copy_n(rows + int64_t(id[i]) * dim, dim, o + i * dim);
  });
}

void ReferenceBackend::embedding_backward(Tensor& dtable, const Tensor& dout, const Tensor& ids) {
  const int64_t dim = dtable.dim(1), n = ids.size();
  const int32_t* id = ids.idata();
  const float* g = dout.data();
  float* grad = dtable.data();
  // Pieces of columns, not of positions: ids repeat, and each row's sums run over the positions in order.
  for_each_piece(dim, 16, 4.0 * double(n) * double(dim), [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < n; ++i) {
      float* row = grad + int64_t(id[i]) * dim;
      const float* src = g + i * dim;
      for (int64_t c = c0; c < c1; ++c) row[c] += src[c];
    }
  });
}

void ReferenceBackend::nonzero_mask(Tensor& mask, const Tensor& x) {
  float* m = mask.data();
  if (x.is_float()) {
    for (int64_t i = 0; i < x.size(); ++i) m[i] = x.data()[i] != 0.0f ? 1.0f : 0.0f;
  } else {
    for (int64_t i = 0; i < x.size(); ++i) m[i] = x.idata()[i] != 0 ? 1.0f : 0.0f;
  }
}

// ---- Embedding + Conv1D, fused ------------------------------------------------------------------------------

int64_t ReferenceBackend::distinct_ids(Tensor& unique, Tensor& slots, Tensor& seen, const Tensor& ids) {
  const int32_t* id = ids.idata();
  int32_t* first = unique.idata();
  int32_t* slot = slots.idata();
  int32_t* index_of = seen.idata();
  int64_t count = 0;
  for (int64_t i = 0; i < ids.size(); ++i) {
    if (index_of[id[i]] < 0) {
      index_of[id[i]] = int32_t(count);
      first[count++] = id[i];
    }
    slot[i] = index_of[id[i]];
  }
  for (int64_t u = 0; u < count; ++u) index_of[first[u]] = -1;
  return count;
}

void ReferenceBackend::embedding_project(Tensor& projected, const Tensor& rows, const Tensor& weight) {
  const int64_t K = weight.dim(0), C = weight.dim(1), F = weight.dim(2), n = rows.dim(0);
  for (int64_t u = 0; u < n; ++u) {
    const float* row = rows.data() + u * C;
    for (int64_t j = 0; j < K; ++j)
      for (int64_t f = 0; f < F; ++f) {
        float sum = 0.0f;
        for (int64_t c = 0; c < C; ++c) sum += row[c] * weight.data()[(j * C + c) * F + f];
        projected.data()[u * K * F + j * F + f] = sum;
      }
  }
}

void ReferenceBackend::embedding_project_backward(Tensor* drows, Tensor& dweight, const Tensor& dprojected,
                                                  const Tensor& rows, const Tensor& weight) {
  const int64_t K = weight.dim(0), C = weight.dim(1), F = weight.dim(2), n = rows.dim(0);
  const float* dp = dprojected.data();
  for (int64_t u = 0; u < n; ++u) {
    const float* row = rows.data() + u * C;
    for (int64_t c = 0; c < C; ++c) {
      float sum = 0.0f;
      for (int64_t j = 0; j < K; ++j)
        for (int64_t f = 0; f < F; ++f) {
          dweight.data()[(j * C + c) * F + f] += row[c] * dp[u * K * F + j * F + f];
          sum += dp[u * K * F + j * F + f] * weight.data()[(j * C + c) * F + f];
        }
      if (drows) drows->data()[u * C + c] = sum;
    }
  }
}

void ReferenceBackend::gather_conv1d_forward(Tensor& out, const Tensor& projected, const Tensor& slots,
                                             const Tensor* bias, const Windows& windows) {
  const int64_t B = out.dim(0), Lout = out.dim(1), F = out.dim(2), L = slots.dim(1), KF = projected.dim(1);
  const int32_t* slot = slots.idata();
  for_each_piece(B, 1, 2.0 * double(B * Lout * KF), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t t = 0; t < Lout; ++t) {
        float* o = out.data() + (b * Lout + t) * F;
        for (int64_t f = 0; f < F; ++f) o[f] = bias ? bias->data()[f] : 0.0f;
        for (int64_t j = 0; j < windows.size; ++j) {
          const int64_t p = window_step(windows, t, j, L);
          if (p < 0) continue;
          const float* src = projected.data() + int64_t(slot[b * L + p]) * KF + j * F;
          for (int64_t f = 0; f < F; ++f) o[f] += src[f];
        }
      }
  });
}

void ReferenceBackend::gather_conv1d_backward(Tensor& dprojected, Tensor* dbias, const Tensor& dout,
                                              const Tensor& slots, const Windows& windows) {
  const int64_t B = dout.dim(0), Lout = dout.dim(1), F = dout.dim(2), L = slots.dim(1), KF = dprojected.dim(1);
  const int32_t* slot = slots.idata();
  dprojected.fill(0.0f);
  // Pieces of filters: each value of dprojected sums its terms in (b, t) order whatever the split.
  for_each_piece(F, 16, 2.0 * double(B * Lout * KF), [&](int64_t f0, int64_t f1) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < Lout; ++t) {
        const float* g = dout.data() + (b * Lout + t) * F;
        if (dbias)
          for (int64_t f = f0; f < f1; ++f) dbias->data()[f] += g[f];
        for (int64_t j = 0; j < windows.size; ++j) {
          const int64_t p = window_step(windows, t, j, L);
          if (p < 0) continue;
          float* dst = dprojected.data() + int64_t(slot[b * L + p]) * KF + j * F;
          for (int64_t f = f0; f < f1; ++f) dst[f] += g[f];
        }
      }
  });
}

// ---- Pooling --------------------------------------------------------------------------------------------------

namespace {
// The input steps [first, end) under output step t's window.
struct StepRange {
  int64_t first, end;
};
StepRange window_range(const Windows& w, int64_t t, int64_t steps) {
  return {std::max<int64_t>(t * w.strides - w.pad_left, 0), std::min<int64_t>(t * w.strides - w.pad_left + w.size, steps)};
}
}  // namespace

void ReferenceBackend::max_pool_forward(Tensor& y, Tensor* argmax, const Tensor& x, const Windows& windows) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2), Lout = y.dim(1);
  const float* in = x.data();
  float* out = y.data();
  int32_t* args = argmax ? argmax->idata() : nullptr;
  for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t t = 0; t < Lout; ++t) {
        const StepRange s = window_range(windows, t, L);
        float* __restrict o = out + (b * Lout + t) * C;
        int32_t* __restrict arg = args ? args + (b * Lout + t) * C : nullptr;
        if (s.first >= s.end) {  // an empty window (no input under it)
          std::fill_n(o, C, -std::numeric_limits<float>::infinity());
          if (arg) std::fill_n(arg, C, -1);
          continue;
        }
        // The first step of the window, then strictly greater values: ties keep the earliest step.
        std::copy_n(in + (b * L + s.first) * C, C, o);
        if (arg) std::fill_n(arg, C, int32_t(s.first));
        for (int64_t p = s.first + 1; p < s.end; ++p) {
          const float* __restrict row = in + (b * L + p) * C;
          if (arg) {
            for (int64_t c = 0; c < C; ++c)
              if (row[c] > o[c]) o[c] = row[c], arg[c] = int32_t(p);
          } else {
            for (int64_t c = 0; c < C; ++c) o[c] = row[c] > o[c] ? row[c] : o[c];
          }
        }
      }
  });
}

void ReferenceBackend::max_pool_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax) {
  const int64_t B = dx.dim(0), L = dx.dim(1), C = dx.dim(2), Lout = dy.dim(1);
  const float* g = dy.data();
  float* d = dx.data();
  const int32_t* args = argmax.idata();
  for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      std::fill_n(d + b * L * C, L * C, 0.0f);
      for (int64_t t = 0; t < Lout; ++t) {
        const float* gr = g + (b * Lout + t) * C;
        const int32_t* arg = args + (b * Lout + t) * C;
        for (int64_t c = 0; c < C; ++c)
          if (arg[c] >= 0) d[(b * L + arg[c]) * C + c] += gr[c];
      }
    }
  });
}

void ReferenceBackend::average_pool_forward(Tensor& y, const Tensor& x, const Windows& windows) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2), Lout = y.dim(1);
  const float* in = x.data();
  float* out = y.data();
  for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t t = 0; t < Lout; ++t) {
        const StepRange s = window_range(windows, t, L);
        const float inv = 1.0f / float(s.end - s.first);
        float* o = out + (b * Lout + t) * C;
        std::fill_n(o, C, 0.0f);
        for (int64_t p = s.first; p < s.end; ++p) {
          const float* row = in + (b * L + p) * C;
          for (int64_t c = 0; c < C; ++c) o[c] += row[c];
        }
        for (int64_t c = 0; c < C; ++c) o[c] *= inv;
      }
  });
}

void ReferenceBackend::average_pool_backward(Tensor& dx, const Tensor& dy, const Windows& windows) {
  const int64_t B = dx.dim(0), L = dx.dim(1), C = dx.dim(2), Lout = dy.dim(1);
  const float* g = dy.data();
  float* d = dx.data();
  for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      std::fill_n(d + b * L * C, L * C, 0.0f);
      for (int64_t t = 0; t < Lout; ++t) {
        const StepRange s = window_range(windows, t, L);
        const float inv = 1.0f / float(s.end - s.first);
        const float* gr = g + (b * Lout + t) * C;
        for (int64_t p = s.first; p < s.end; ++p) {
          float* row = d + (b * L + p) * C;
          for (int64_t c = 0; c < C; ++c) row[c] += gr[c] * inv;
        }
      }
    }
  });
}

void ReferenceBackend::global_max_pool_forward(Tensor& y, Tensor& argmax, const Tensor& x) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
  const float* in = x.data();
  float* out = y.data();
  int32_t* args = argmax.idata();
  for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* o = out + b * C;
      int32_t* arg = args + b * C;
      std::copy_n(in + b * L * C, C, o);
      std::fill_n(arg, C, 0);
      for (int64_t t = 1; t < L; ++t) {
        const float* row = in + (b * L + t) * C;
        for (int64_t c = 0; c < C; ++c)
          if (row[c] > o[c]) o[c] = row[c], arg[c] = int32_t(t);
      }
    }
  });
}

void ReferenceBackend::global_max_pool_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax) {
  const int64_t B = dx.dim(0), L = dx.dim(1), C = dx.dim(2);
  const int32_t* args = argmax.idata();
  dx.fill(0.0f);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) dx.data()[(b * L + args[b * C + c]) * C + c] += dy.data()[b * C + c];
}

void ReferenceBackend::step_average_weights(Tensor& weights, const Tensor* mask) {
  const int64_t B = weights.dim(0), L = weights.dim(1);
  float* w = weights.data();
  if (!mask) {
    std::fill_n(w, B * L, 1.0f / float(L));
    return;
  }
  const float* m = mask->data();
  for (int64_t b = 0; b < B; ++b) {
    double total = 0;
    for (int64_t t = 0; t < L; ++t) total += m[b * L + t];
    // A fully masked row averages nothing: 0 rather than Keras's 0/0.
    const float inv = total > 0 ? float(1.0 / total) : 0.0f;
    for (int64_t t = 0; t < L; ++t) w[b * L + t] = m[b * L + t] * inv;
  }
}

void ReferenceBackend::weighted_step_sum_forward(Tensor& y, const Tensor& x, const Tensor& weights) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
  const float* in = x.data();
  const float* w = weights.data();
  float* out = y.data();
  for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* o = out + b * C;
      std::fill_n(o, C, 0.0f);
      for (int64_t t = 0; t < L; ++t) {
        if (w[b * L + t] == 0.0f) continue;  // a masked step adds nothing, not even 0 * inf
        const float* row = in + (b * L + t) * C;
        for (int64_t c = 0; c < C; ++c) o[c] += w[b * L + t] * row[c];
      }
    }
  });
}

void ReferenceBackend::weighted_step_sum_backward(Tensor& dx, const Tensor& dy, const Tensor& weights) {
  const int64_t B = dx.dim(0), L = dx.dim(1), C = dx.dim(2);
  const float* g = dy.data();
  const float* w = weights.data();
  float* d = dx.data();
  for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t t = 0; t < L; ++t) {
        float* row = d + (b * L + t) * C;
        for (int64_t c = 0; c < C; ++c) row[c] = w[b * L + t] * g[b * C + c];
      }
  });
}

// ---- Noise and masks ------------------------------------------------------------------------------------------

void ReferenceBackend::dropout_mask(Tensor& keep, Rng& rng, float rate, float scale) {
  float* k = keep.data();
  for (int64_t i = 0; i < keep.size(); ++i) k[i] = rng.uniform() >= rate ? scale : 0.0f;
}

void ReferenceBackend::multiply(Tensor& y, const Tensor& x, const Tensor& keep) {
  const float* in = x.data();
  const float* k = keep.data();
  float* out = y.data();
  for (int64_t i = 0; i < x.size(); ++i) out[i] = in[i] * k[i];
}

void ReferenceBackend::multiply_per_channel(Tensor& y, const Tensor& x, const Tensor& keep) {
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2);
  const float* in = x.data();
  const float* k = keep.data();
  float* out = y.data();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row = (b * T + t) * C;
      for (int64_t c = 0; c < C; ++c) out[row + c] = in[row + c] * k[b * C + c];
    }
}

void ReferenceBackend::add_gaussian_noise(Tensor& y, const Tensor& x, Rng& rng, float stddev) {
  const float* in = x.data();
  float* out = y.data();
  for (int64_t i = 0; i < x.size(); ++i) out[i] = in[i] + rng.normal(0.0f, stddev);
}

void ReferenceBackend::rows_differing_from(Tensor& keep, const Tensor& x, float value) {
  const int64_t f = x.dim(-1), rows = f ? x.size() / f : 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * f;
    bool any = false;
    for (int64_t j = 0; j < f && !any; ++j) any = xr[j] != value;
    keep.data()[r] = any ? 1.0f : 0.0f;
  }
}

void ReferenceBackend::zero_rows(Tensor& x, const Tensor& keep) {
  const int64_t f = x.dim(-1);
  for (int64_t r = 0; r < keep.size(); ++r)
    if (keep.data()[r] == 0.0f) std::fill_n(x.data() + r * f, f, 0.0f);
}

// ---- Joining, repeating and moving values --------------------------------------------------------------------

void ReferenceBackend::merge_forward(MergeOp op, Tensor& y, Tensor* winner, const std::vector<const Tensor*>& xs) {
  const int64_t n = xs[0]->size();
  if (n == 0) return;
  float* out = y.data();
  if (&y != xs[0]) std::copy_n(xs[0]->data(), n, out);
  int32_t* won = winner ? winner->idata() : nullptr;
  if (won) std::fill_n(won, n, 0);
  for (size_t k = 1; k < xs.size(); ++k) {
    const float* p = xs[k]->data();
    for (int64_t i = 0; i < n; ++i) switch (op) {
        case MergeOp::add:
        case MergeOp::average: out[i] += p[i]; break;
        case MergeOp::subtract: out[i] -= p[i]; break;
        case MergeOp::multiply: out[i] *= p[i]; break;
        case MergeOp::maximum:  // a tie keeps the earlier input: its value, and its gradient
          if (p[i] > out[i]) out[i] = p[i], won[i] = int32_t(k);
          break;
        case MergeOp::minimum:
          if (p[i] < out[i]) out[i] = p[i], won[i] = int32_t(k);
          break;
      }
  }
  if (op == MergeOp::average) {
    const float inv = 1.0f / float(xs.size());
    for (int64_t i = 0; i < n; ++i) out[i] *= inv;
  }
}

void ReferenceBackend::merge_backward(MergeOp op, Tensor& dx, int64_t k, int64_t count, const Tensor& dy,
                                      const std::vector<const Tensor*>& xs, const Tensor* winner) {
  const int64_t n = dy.size();
  if (n == 0) return;
  const float* g = dy.data();
  float* d = dx.data();
  switch (op) {
    case MergeOp::add: std::copy_n(g, n, d); break;
    case MergeOp::subtract:
      for (int64_t i = 0; i < n; ++i) d[i] = k == 0 ? g[i] : -g[i];
      break;
    case MergeOp::average: {
      const float inv = 1.0f / float(count);
      for (int64_t i = 0; i < n; ++i) d[i] = g[i] * inv;
      break;
    }
    case MergeOp::multiply:
      std::copy_n(g, n, d);
      for (size_t j = 0; j < xs.size(); ++j) {
        if (int64_t(j) == k) continue;
        const float* p = xs[j]->data();
        for (int64_t i = 0; i < n; ++i) d[i] *= p[i];
      }
      break;
    case MergeOp::maximum:
    case MergeOp::minimum: {
      const int32_t* won = winner->idata();
      for (int64_t i = 0; i < n; ++i) d[i] = won[i] == k ? g[i] : 0.0f;
      break;
    }
  }
}

void ReferenceBackend::mask_or(Tensor& out, const Tensor& a, const Tensor& b) {
  const float* pa = a.data();
  const float* pb = b.data();
  float* o = out.data();
  for (int64_t i = 0; i < a.size(); ++i) o[i] = (pa[i] != 0.0f || pb[i] != 0.0f) ? 1.0f : 0.0f;
}

void ReferenceBackend::copy_rows(Tensor& dst, const Tensor& src, const RowBlock& block) {
  for (int64_t r = 0; r < block.rows; ++r) {
    const int64_t from = block.src_offset + r * block.src_stride, to = block.dst_offset + r * block.dst_stride;
    if (src.is_float()) std::copy_n(src.data() + from, block.length, dst.data() + to);
    else std::copy_n(src.idata() + from, block.length, dst.idata() + to);
  }
}

void ReferenceBackend::repeat_rows_forward(Tensor& y, const Tensor& x, int64_t repeats) {
  if (x.size() == 0) return;
  const int64_t f = x.dim(-1), rows = x.size() / f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < repeats; ++k) std::copy_n(x.data() + r * f, f, y.data() + (r * repeats + k) * f);
}

void ReferenceBackend::repeat_rows_backward(Tensor& dx, const Tensor& dy, int64_t repeats) {
  if (dx.size() == 0) return;
  const int64_t f = dx.dim(-1), rows = dx.size() / f;
  const float* g = dy.data();
  float* d = dx.data();
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(g + r * repeats * f, f, d + r * f);
    for (int64_t k = 1; k < repeats; ++k)
      for (int64_t c = 0; c < f; ++c) d[r * f + c] += g[(r * repeats + k) * f + c];
  }
}

void ReferenceBackend::permute_axes(Tensor& y, const Tensor& x, const std::vector<int>& axes) {
  const size_t rank = axes.size();
  if (y.size() == 0) return;
  std::vector<int64_t> x_stride(rank, 1), step(rank);  // step: how far x moves when y's axis a advances
  for (size_t a = rank - 1; a-- > 0;) x_stride[a] = x_stride[a + 1] * x.shape()[a + 1];
  for (size_t a = 0; a < rank; ++a) step[a] = x_stride[size_t(axes[a])];
  // An odometer over y, its last axis the fastest.
  std::vector<int64_t> index(rank, 0);
  int64_t at = 0;
  const float* src = x.data();
  float* dst = y.data();
  for (int64_t o = 0; o < y.size(); ++o) {
    dst[o] = src[at];
    for (size_t a = rank; a-- > 0;) {
      at += step[a];
      if (++index[a] < y.shape()[a]) break;
      at -= step[a] * y.shape()[a];
      index[a] = 0;
    }
  }
}

void ReferenceBackend::reverse_steps(Tensor& y, const Tensor& x) {
  if (x.size() == 0) return;
  const int64_t B = x.dim(0), T = x.dim(1), f = x.size() / (B * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) std::copy_n(x.data() + (b * T + t) * f, f, y.data() + (b * T + T - 1 - t) * f);
}

// ---- Products and normalizations -----------------------------------------------------------------------------

void ReferenceBackend::batched_matmul(Tensor& out, const Tensor& a, const Tensor& c, const BatchedProduct& p) {
  const int64_t M = p.m, N = p.n, K = p.k;
  for (int64_t b = 0; b < p.batch; ++b) {
    const float* A = a.data() + b * M * K;
    const float* C = c.data() + b * K * N;
    float* Y = out.data() + b * M * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float sum = 0.0f;
        for (int64_t k = 0; k < K; ++k)
          sum += (p.transpose_a ? A[k * M + i] : A[i * K + k]) * (p.transpose_c ? C[j * K + k] : C[k * N + j]);
        Y[i * N + j] = sum;
      }
  }
}

namespace {
constexpr float kMaxInverseNorm = 1.0f / 1e-7f;  // ops.normalize's cap: 1 / keras.backend.epsilon()

int64_t vector_start(const VectorsInTensor& v, int64_t b, int64_t o) {
  return b * v.length * v.others + (v.along_last ? o * v.length : o);
}
}  // namespace

void ReferenceBackend::normalize_vectors_forward(Tensor& x, Tensor& inv_norm, const VectorsInTensor& v) {
  const int64_t step = v.along_last ? 1 : v.others;
  float* data = x.data();
  for (int64_t b = 0; b < v.batch; ++b)
    for (int64_t o = 0; o < v.others; ++o) {
      float* p = data + vector_start(v, b, o);
      double squares = 0.0;
      for (int64_t k = 0; k < v.length; ++k) squares += double(p[k * step]) * double(p[k * step]);
      const float s = std::min(1.0f / std::sqrt(float(squares)), kMaxInverseNorm);
      inv_norm.data()[b * v.others + o] = s;
      for (int64_t k = 0; k < v.length; ++k) p[k * step] *= s;
    }
}

void ReferenceBackend::normalize_vectors_backward(Tensor& g, const Tensor& normalized, const Tensor& inv_norm,
                                                  const VectorsInTensor& v) {
  const int64_t step = v.along_last ? 1 : v.others;
  const float* n = normalized.data();
  float* d = g.data();
  for (int64_t b = 0; b < v.batch; ++b)
    for (int64_t o = 0; o < v.others; ++o) {
      const int64_t base = vector_start(v, b, o);
      const float s = inv_norm.data()[b * v.others + o];
      double dot = 0.0;
      if (s < kMaxInverseNorm)
        for (int64_t k = 0; k < v.length; ++k) dot += double(d[base + k * step]) * double(n[base + k * step]);
      for (int64_t k = 0; k < v.length; ++k) {
        const int64_t at = base + k * step;
        d[at] = float(double(s) * (double(d[at]) - double(n[at]) * dot));
      }
    }
}

int64_t ReferenceBackend::feature_moments(Tensor& mean, Tensor& variance, const Tensor& data) {
  const int64_t f = data.dim(-1), rows = data.size() / f;
  const float* x = data.data();
  std::vector<double> sum(size_t(f), 0.0), squares(size_t(f), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) sum[size_t(j)] += x[r * f + j];
  for (auto& s : sum) s /= double(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) {
      const double d = x[r * f + j] - sum[size_t(j)];
      squares[size_t(j)] += d * d;
    }
  int64_t first_bad = -1;
  for (int64_t j = 0; j < f; ++j) {
    if (first_bad < 0 && !std::isfinite(sum[size_t(j)])) first_bad = j;
    mean.data()[j] = float(sum[size_t(j)]);
    variance.data()[j] = float(squares[size_t(j)] / double(rows));
  }
  return first_bad;
}

namespace {
// Normalization's divisor: a zero variance divides by keras.backend.epsilon().
float standard_scale(float variance) { return std::max(std::sqrt(variance), float(kEpsilon)); }
}  // namespace

void ReferenceBackend::standardize_forward(Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                           bool invert) {
  const int64_t f = mean.size(), rows = x.size() / f;
  const float* xs = x.data();
  float* ys = y.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) {
      const float m = mean.data()[j], scale = standard_scale(variance.data()[j]), v = xs[r * f + j];
      ys[r * f + j] = invert ? m + v * scale : (v - m) / scale;
    }
}

void ReferenceBackend::standardize_backward(Tensor& dx, const Tensor& dy, const Tensor& variance, bool invert) {
  const int64_t f = variance.size(), rows = dy.size() / f;
  const float* g = dy.data();
  float* d = dx.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) {
      const float scale = standard_scale(variance.data()[j]);
      d[r * f + j] = invert ? g[r * f + j] * scale : g[r * f + j] / scale;
    }
}

void ReferenceBackend::layer_norm_forward(Tensor& y, Tensor* xhat, Tensor* inv, const Tensor& x, const Tensor* gamma,
                                          const Tensor* beta, float epsilon) {
  const int64_t F = x.dim(-1), rows = x.size() / F;
  const float* xs = x.data();
  float* ys = y.data();
  float* xh = xhat ? xhat->data() : nullptr;
  float* inverses = inv ? inv->data() : nullptr;
  const float* g = gamma ? gamma->data() : nullptr;
  const float* b = beta ? beta->data() : nullptr;
  for_each_piece(rows, 8, 8.0 * double(x.size()), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = xs + r * F;
      float* yr = ys + r * F;
      double sum = 0.0;
      for (int64_t j = 0; j < F; ++j) sum += xr[j];
      const float mean = float(sum / double(F));
      double sq = 0.0;
      for (int64_t j = 0; j < F; ++j) {
        const double d = double(xr[j]) - double(mean);
        sq += d * d;
      }
      const float var = float(sq / double(F));
      const float inverse = 1.0f / std::sqrt(var + epsilon);
      for (int64_t j = 0; j < F; ++j) {
        const float ig = g ? inverse * g[j] : inverse;
        const float res = b ? b[j] - mean * ig : -mean * ig;
        yr[j] = xr[j] * ig + res;
      }
      if (inverses) inverses[r] = inverse;
      if (xh)
        for (int64_t j = 0; j < F; ++j) xh[r * F + j] = (xr[j] - mean) * inverse;
    }
  });
}

void ReferenceBackend::layer_norm_backward(Tensor* dx, Tensor* dgamma, Tensor* dbeta, const Tensor& dy,
                                           const Tensor& xhat, const Tensor& inv, const Tensor* gamma) {
  const int64_t F = dy.dim(-1), rows = dy.size() / F;
  const float* g = dy.data();
  const float* xh = xhat.data();
  if (dgamma || dbeta) {
    float* dg = dgamma ? dgamma->data() : nullptr;
    float* db = dbeta ? dbeta->data() : nullptr;
    // Split over features, so that any thread count sums each feature's rows in the same order.
    for_each_piece(F, 16, 4.0 * double(dy.size()), [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        double sg = 0.0, sb = 0.0;
        for (int64_t r = 0; r < rows; ++r) {
          sg += double(g[r * F + j]) * double(xh[r * F + j]);
          sb += double(g[r * F + j]);
        }
        if (dg) dg[j] += float(sg);
        if (db) db[j] += float(sb);
      }
    });
  }
  if (!dx) return;
  float* d = dx->data();
  const float* gm = gamma ? gamma->data() : nullptr;
  const float* inverses = inv.data();
  for_each_piece(rows, 8, 8.0 * double(dy.size()), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* gr = g + r * F;
      const float* xr = xh + r * F;
      double s1 = 0.0, s2 = 0.0;
      for (int64_t j = 0; j < F; ++j) {
        const double gy = gm ? double(gr[j]) * double(gm[j]) : double(gr[j]);
        s1 += gy;
        s2 += gy * double(xr[j]);
      }
      const double m1 = s1 / double(F), m2 = s2 / double(F), inverse = inverses[r];
      for (int64_t j = 0; j < F; ++j) {
        const double gy = gm ? double(gr[j]) * double(gm[j]) : double(gr[j]);
        d[r * F + j] = float(inverse * (gy - m1 - double(xr[j]) * m2));
      }
    }
  });
}

// ---- The recurrent loop: every cell's plain step, one thread -------------------------------------------------

void ReferenceBackend::recurrent_forward(const rnn::Cell& cell, const RecurrentForward& call, RecurrentTape& tape,
                                         Tensor& y, std::vector<Tensor>& final_states) {
  recurrent_loop_forward(/*plain=*/true, cell, call, tape, y, final_states);
}

void ReferenceBackend::recurrent_backward(const rnn::Cell& cell, const RecurrentBackward& call, RecurrentTape& tape) {
  recurrent_loop_backward(/*plain=*/true, cell, call, tape);
}

}  // namespace seqnet
