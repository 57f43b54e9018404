// The three Keras cells. Each step_forward/step_backward pair is the math of one time step; shapes
// are in recurrent_cells.h (u = units, B = batch, G = gates).
#include "backend/recurrent_cells.h"

#include <algorithm>

#include "kernels/blas.h"
#include "kernels/rnn_kernels.h"

namespace seqnet::rnn {

namespace {

using kernels::gate_matmul_backward;
using kernels::gate_matmul_forward;

// SimpleRNN. cache: pre (B, u).
class SimpleRNNCell final : public Cell {
 public:
  using Cell::Cell;
  int gates() const override { return 1; }
  int64_t cache_floats(int64_t B) const override { return B * u_; }

  void step_forward(const CellWeights& w, const StepTensors& s, int64_t B, float* scratch) const override {
    float* pre = s.cache;
    if (fused() && !w.plain) {
      kernels::simple_rnn_fused_forward(s.xw, s.h_prev, w.recurrent_kernel, pre, s.h, B, u_, s.rmask, scratch);
      return;
    }
    gate_matmul_forward(pre, u_, s.h_prev, B, u_, w.recurrent_kernel, u_, u_, 0, 1, s.rmask, B, scratch);
    for (int64_t i = 0; i < B * u_; ++i) pre[i] += s.xw[i];
    activation_forward(act_, pre, s.h, B * u_, u_);
  }

  void step_backward(const CellWeights& w, const StepTensors& s, int64_t B, const float* dh, const float*,
                     float* dxw, float* dh_prev, float*, float* scratch) const override {
    if (w.recurrent_kernel_t) {
      kernels::simple_rnn_fused_backward(s.h, dh, w.recurrent_kernel_t, dxw, dh_prev, B, u_, s.rmask, scratch);
      return;
    }
    activation_backward(act_, s.cache, s.h, dh, dxw, B * u_, u_);
    std::fill(dh_prev, dh_prev + B * u_, 0.0f);
    gate_matmul_backward(dh_prev, w.d_recurrent_kernel, dxw, u_, s.h_prev, B, u_, w.recurrent_kernel, u_, u_, 0, 1,
                         s.rmask, B, scratch);
  }
};

// LSTM. cache: pre (B, 4u), gates (B, 4u), act(c) (B, u).
class LSTMCell final : public Cell {
 public:
  using Cell::Cell;
  int gates() const override { return 4; }
  int states() const override { return 2; }
  int64_t cache_floats(int64_t B) const override { return 9 * B * u_; }
  bool fused() const override { return Cell::fused() && rec_ == Activation::sigmoid; }

  void step_forward(const CellWeights& w, const StepTensors& s, int64_t B, float* scratch) const override {
    const int64_t G = 4 * u_;
    float* pre = s.cache;
    float* gates = pre + B * G;
    float* tc = gates + B * G;
    if (fused() && !w.plain) {
      kernels::lstm_fused_forward(s.xw, s.h_prev, s.c_prev, w.recurrent_kernel, pre, gates, s.c, tc, s.h, B, u_, s.rmask,
                                  scratch);
      return;
    }
    gate_matmul_forward(pre, G, s.h_prev, B, u_, w.recurrent_kernel, G, u_, 0, 4, s.rmask, B, scratch);
    for (int64_t i = 0; i < B * G; ++i) pre[i] += s.xw[i];
    kernels::lstm_step_forward(act_, rec_, pre, gates, s.c_prev, s.c, tc, s.h, B, u_);
  }

  void step_backward(const CellWeights& w, const StepTensors& s, int64_t B, const float* dh, const float* dc,
                     float* dxw, float* dh_prev, float* dc_prev, float* scratch) const override {
    const int64_t G = 4 * u_;
    const float* pre = s.cache;
    const float* gates = pre + B * G;
    const float* tc = gates + B * G;
    if (w.recurrent_kernel_t) {
      kernels::lstm_fused_backward(gates, s.c_prev, tc, dh, dc, w.recurrent_kernel_t, dxw, dh_prev, dc_prev, B, u_,
                                   s.rmask, scratch);
      return;
    }
    kernels::lstm_step_backward(act_, rec_, pre, gates, s.c_prev, s.c, tc, dh, dc, dxw, dc_prev, B, u_);
    std::fill(dh_prev, dh_prev + B * u_, 0.0f);
    gate_matmul_backward(dh_prev, w.d_recurrent_kernel, dxw, G, s.h_prev, B, u_, w.recurrent_kernel, G, u_, 0, 4,
                         s.rmask, B, scratch);
  }
};

// GRU, gates z, r, h.
//   reset_after:  rec = h_prev @ R + b_rec;  hh = act(xw_h + r * rec_h)      cache: rec, pre, gates (3 x (B, 3u))
//   reset_before: q = r * h_prev;            hh = act(xw_h + q @ R_h)        cache: pre, gates (B, 3u), q (B, u)
// (h_prev is h_prev * m_g inside each gate's matmul when recurrent dropout is on.)
class GRUCell final : public Cell {
 public:
  GRUCell(int64_t units, Activation act, Activation rec, bool reset_after) : Cell(units, act, rec), after_(reset_after) {}
  int gates() const override { return 3; }
  int64_t cache_floats(int64_t B) const override { return (after_ ? 9 : 7) * B * u_; }
  bool fused() const override { return Cell::fused() && rec_ == Activation::sigmoid && after_; }
  bool separate_drec() const override { return true; }

  void step_forward(const CellWeights& w, const StepTensors& s, int64_t B, float* scratch) const override {
    const int64_t G = 3 * u_, u = u_;
    float* pre = s.cache;
    float* gates = pre + B * G;
    if (fused() && !w.plain) {
      kernels::gru_fused_forward(s.xw, s.h_prev, w.recurrent_kernel, w.recurrent_bias, gates + B * G, gates, s.h, B, u,
                                 s.rmask, scratch);
      return;
    }
    if (after_) {
      float* rec = gates + B * G;
      gate_matmul_forward(rec, G, s.h_prev, B, u, w.recurrent_kernel, G, u, 0, 3, s.rmask, B, scratch);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < G; ++j) {
          if (w.recurrent_bias) rec[b * G + j] += w.recurrent_bias[j];
          if (j < 2 * u) pre[b * G + j] = s.xw[b * G + j] + rec[b * G + j];
        }
      kernels::activation_columns(rec_, pre, gates, B, G, 0, 2 * u);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < u; ++j)
          pre[b * G + 2 * u + j] = s.xw[b * G + 2 * u + j] + gates[b * G + u + j] * rec[b * G + 2 * u + j];
    } else {
      float* q = gates + B * G;
      gate_matmul_forward(pre, G, s.h_prev, B, u, w.recurrent_kernel, G, u, 0, 2, s.rmask, B, scratch);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < 2 * u; ++j) pre[b * G + j] += s.xw[b * G + j];
      kernels::activation_columns(rec_, pre, gates, B, G, 0, 2 * u);
      const float* mh = s.rmask ? s.rmask + 2 * B * u : nullptr;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < u; ++j)
          q[b * u + j] = gates[b * G + u + j] * s.h_prev[b * u + j] * (mh ? mh[b * u + j] : 1.0f);
      kernels::gemm(false, false, B, u, u, 1.0f, q, u, w.recurrent_kernel + 2 * u, G, 0.0f, pre + 2 * u, G);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < u; ++j) pre[b * G + 2 * u + j] += s.xw[b * G + 2 * u + j];
    }
    kernels::activation_columns(act_, pre, gates, B, G, 2 * u, G);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < u; ++j) {
        const float z = gates[b * G + j], hh = gates[b * G + 2 * u + j];
        s.h[b * u + j] = z * s.h_prev[b * u + j] + (1.0f - z) * hh;
      }
  }

  void step_backward(const CellWeights& w, const StepTensors& s, int64_t B, const float* dh, const float*,
                     float* dxw, float* dh_prev, float*, float* scratch) const override {
    const int64_t G = 3 * u_, u = u_;
    const float* pre = s.cache;
    const float* gates = pre + B * G;
    if (w.recurrent_kernel_t) {
      kernels::gru_fused_backward(gates, gates + B * G, s.h_prev, dh, w.recurrent_kernel_t, dxw, s.drec, dh_prev, B, u,
                                  s.rmask, scratch);
      return;
    }
    // dxw = [dz, ., dhh] as gradients of the gate outputs first; dh_prev = dh * z (the direct path).
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < u; ++j) {
        const float z = gates[b * G + j], hh = gates[b * G + 2 * u + j], d = dh[b * u + j];
        dxw[b * G + j] = d * (s.h_prev[b * u + j] - hh);
        dxw[b * G + 2 * u + j] = d * (1.0f - z);
        dh_prev[b * u + j] = d * z;
      }
    kernels::activation_columns_backward(act_, pre, gates, dxw, dxw, B, G, 2 * u, G);  // d pre_h
    float* mm_scratch = scratch;
    if (after_) {
      const float* rec = gates + B * G;
      float* drec = scratch;  // (B, 3u)
      mm_scratch = scratch + B * G;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < u; ++j) {
          const float dph = dxw[b * G + 2 * u + j];
          dxw[b * G + u + j] = dph * rec[b * G + 2 * u + j];          // dr
          drec[b * G + 2 * u + j] = dph * gates[b * G + u + j];       // d rec_h
        }
      kernels::activation_columns_backward(rec_, pre, gates, dxw, dxw, B, G, 0, 2 * u);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < 2 * u; ++j) drec[b * G + j] = dxw[b * G + j];
      if (w.d_recurrent_bias)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < G; ++j) w.d_recurrent_bias[j] += drec[b * G + j];
      gate_matmul_backward(dh_prev, w.d_recurrent_kernel, drec, G, s.h_prev, B, u, w.recurrent_kernel, G, u, 0, 3,
                           s.rmask, B, mm_scratch);
    } else {
      const float* q = gates + B * G;
      float* dq = scratch;  // (B, u)
      mm_scratch = scratch + B * u;
      const float* mh = s.rmask ? s.rmask + 2 * B * u : nullptr;
      kernels::gemm(true, false, u, u, B, 1.0f, q, u, dxw + 2 * u, G, 1.0f, w.d_recurrent_kernel + 2 * u, G);
      kernels::gemm(false, true, B, u, u, 1.0f, dxw + 2 * u, G, w.recurrent_kernel + 2 * u, G, 0.0f, dq, u);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < u; ++j) {
          const float m = mh ? mh[b * u + j] : 1.0f;
          const float hm = s.h_prev[b * u + j] * m;
          dxw[b * G + u + j] = dq[b * u + j] * hm;                              // dr
          dh_prev[b * u + j] += dq[b * u + j] * gates[b * G + u + j] * m;
        }
      kernels::activation_columns_backward(rec_, pre, gates, dxw, dxw, B, G, 0, 2 * u);
      gate_matmul_backward(dh_prev, w.d_recurrent_kernel, dxw, G, s.h_prev, B, u, w.recurrent_kernel, G, u, 0, 2,
                           s.rmask, B, mm_scratch);
    }
  }

 private:
  bool after_;
};

}  // namespace

std::unique_ptr<Cell> make_simple_rnn_cell(int64_t units, Activation activation) {
  return std::make_unique<SimpleRNNCell>(units, activation, Activation::linear);
}
std::unique_ptr<Cell> make_lstm_cell(int64_t units, Activation activation, Activation recurrent_activation) {
  return std::make_unique<LSTMCell>(units, activation, recurrent_activation);
}
std::unique_ptr<Cell> make_gru_cell(int64_t units, Activation activation, Activation recurrent_activation,
                                    bool reset_after) {
  return std::make_unique<GRUCell>(units, activation, recurrent_activation, reset_after);
}

}  // namespace seqnet::rnn
