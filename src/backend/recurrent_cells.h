// Recurrent cells: the math of one time step, forward and backward, for a whole batch. The loop
// (recurrent_loop.cpp) owns time, masks, direction, state and the input projection x @ kernel; a cell adds
// h_prev @ recurrent_kernel and the gates. Internal header (not installed).
#pragma once
#include <cstdint>
#include <memory>

#include "seqnet/activations.h"

namespace seqnet::rnn {

// The recurrent weights a step reads, and the gradients its backward accumulates into.
struct CellWeights {
  const float* recurrent_kernel = nullptr;  // (u, G*u)
  const float* recurrent_bias = nullptr;    // (G*u): GRU with reset_after only, else null
  float* d_recurrent_kernel = nullptr;
  float* d_recurrent_bias = nullptr;
  // The plain step even where the cell has a fused one (the reference backend).
  bool plain = false;
  // Fused path (see Cell::fused): recurrent_kernel transposed, (G*u, u). When set, step_backward leaves
  // d_recurrent_kernel and d_recurrent_bias alone; the loop forms them for all steps in one GEMM from
  // the states and the gradients of the recurrent product (dxw, or StepTensors::drec for the GRU).
  const float* recurrent_kernel_t = nullptr;
};

// One step of a batch of B sequences. Shapes are (B, u) unless noted.
struct StepTensors {
  const float* xw = nullptr;      // (B, G*u): x_t @ kernel + input bias (dropout already applied)
  const float* h_prev = nullptr;
  const float* c_prev = nullptr;  // LSTM only
  float* h = nullptr;
  float* c = nullptr;             // LSTM only
  float* cache = nullptr;         // cache_floats(B) values the forward keeps for the backward
  const float* rmask = nullptr;   // null, or (G, B, u) recurrent dropout masks, one per gate
  float* drec = nullptr;          // fused backward with separate_drec(): d(h_prev @ R + b_rec) (B, G*u)
};

class Cell {
 public:
  Cell(int64_t units, Activation activation, Activation recurrent_activation)
      : u_(units), act_(activation), rec_(recurrent_activation) {}
  virtual ~Cell() = default;
  virtual int gates() const = 0;        // G: kernel (in, G*u), recurrent_kernel (u, G*u)
  virtual int states() const { return 1; }  // [h], or [h, c] for the LSTM
  virtual int64_t cache_floats(int64_t B) const = 0;
  int64_t scratch_floats(int64_t B) const { return (2 * gates() + 4) * B * u_; }
  int64_t units() const { return u_; }
  // True when the steps take the fused path: one small register-blocked GEMM plus one pass of
  // vectorized gate math per step (per gate with recurrent dropout), and deferred recurrent weight
  // gradients. Needs the default activations (tanh, sigmoid).
  virtual bool fused() const { return act_ == Activation::tanh; }
  // Fused backward: the gradient of the recurrent product differs from dxw and goes to StepTensors::drec.
  virtual bool separate_drec() const { return false; }

  // Writes s.h (and s.c) and s.cache.
  virtual void step_forward(const CellWeights& w, const StepTensors& s, int64_t B, float* scratch) const = 0;
  // dh, dc: gradients reaching this step's h and c (dc null for cells without c). Writes dxw (B, G*u),
  // dh_prev and dc_prev (overwritten, not accumulated); accumulates the recurrent weight gradients.
  virtual void step_backward(const CellWeights& w, const StepTensors& s, int64_t B, const float* dh, const float* dc,
                             float* dxw, float* dh_prev, float* dc_prev, float* scratch) const = 0;

 protected:
  int64_t u_;
  Activation act_, rec_;
};

// h = act(xw + h_prev @ R)
std::unique_ptr<Cell> make_simple_rnn_cell(int64_t units, Activation activation);
// Gates i, f, c, o: c = f*c_prev + i*act(z_c), h = o*act(c)
std::unique_ptr<Cell> make_lstm_cell(int64_t units, Activation activation, Activation recurrent_activation);
// Gates z, r, h: h = z*h_prev + (1-z)*hh, with the reset gate applied after (Keras 3 default, cuDNN-compatible)
// or before the recurrent matmul.
std::unique_ptr<Cell> make_gru_cell(int64_t units, Activation activation, Activation recurrent_activation,
                                    bool reset_after);

}  // namespace seqnet::rnn
