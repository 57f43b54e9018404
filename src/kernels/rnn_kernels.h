// Kernels of the recurrent layers: a gate-blocked matmul with optional per-gate dropout masks, and the
// fused elementwise gate math of the LSTM, GRU and SimpleRNN steps. No layer knowledge: every buffer
// and size is passed explicitly, row-major. Backward functions accumulate (+=) into weight gradients.
#pragma once
#include "kernels/isa.h"
#include "seqnet/activations.h"

// Compiled once per instruction-set variant (kernels/isa.h).
SEQNET_KERNELS_BEGIN

// Gate-blocked matmul. W is (k, ldw); gate block g is its columns [g*n, (g+1)*n).
//   out[:, (g-g0)*n : (g-g0+1)*n] = (a ⊙ m_g) @ W[:, block g]       for g in [g0, g1)
// a is (rows, k); masks is null (no dropout: one GEMM over all the blocks) or (G, period, k), where
// row r of `a` uses row r % period of mask m_g (masks drawn per batch row, reused at every time step).
// out has row stride ldo. scratch holds rows*k floats (unused when masks is null). bias (may be null): the
// (g1 - g0) * n values added to every row of out.
void gate_matmul_forward(float* out, long ldo, const float* a, long rows, long k, const float* W, long ldw, long n,
                         int g0, int g1, const float* masks, long period, float* scratch,
                         const float* bias = nullptr);
// The backward of gate_matmul_forward for the gradient dout (rows, ldd):
//   dW[:, block g] += (a ⊙ m_g)^T @ dout_g ;  da += (dout_g @ W_g^T) ⊙ m_g   (da or dW may be null)
// scratch holds 2*rows*k floats (unused when masks is null).
void gate_matmul_backward(float* da, float* dW, const float* dout, long ldd, const float* a, long rows, long k,
                          const float* W, long ldw, long n, int g0, int g1, const float* masks, long period,
                          float* scratch);

// Applies activation `act` to columns [c0, c1) of each of `rows` rows of width `ld`: y = act(x).
void activation_columns(Activation act, const float* x, float* y, long rows, long ld, long c0, long c1);
// dx = dy * act'(x) on columns [c0, c1) of each row (x pre-activation, y post-activation).
void activation_columns_backward(Activation act, const float* x, const float* y, const float* dy, float* dx, long rows,
                                 long ld, long c0, long c1);

// LSTM step, gates i, f, c, o along the 4u axis. pre (B, 4u) pre-activations; writes gates (B, 4u)
// = [rec(i), rec(f), act(c~), rec(o)], c = f*c_prev + i*c~, tc = act(c), h = o*tc.
void lstm_step_forward(Activation act, Activation rec, const float* pre, float* gates, const float* c_prev, float* c,
                       float* tc, float* h, long B, long u);
// Given dh and dc (the gradient reaching c from the next step; null for none), writes dpre (B, 4u)
// and dc_prev (B, u).
void lstm_step_backward(Activation act, Activation rec, const float* pre, const float* gates, const float* c_prev,
                        const float* c, const float* tc, const float* dh, const float* dc, float* dpre, float* dc_prev,
                        long B, long u);

// ---- Fused steps (activation tanh, recurrent activation sigmoid, no recurrent dropout) ----
// One small register-blocked GEMM for the recurrent product and one vectorized pass over the gates per
// step; backward returns the gradients of the pre-activations and of the previous states, and leaves the
// recurrent weight gradients to one GEMM over all steps (RT is the recurrent kernel transposed, (G*u, u)).

// Recurrent dropout (Keras's implementation 1): gate k sees h_prev * m_k, so the recurrent product is
// G products of (B, u) by (u, u). `rmask` is null (no dropout) or (G, B, u); `scratch` holds B*u floats.
// out(B, G*u) (+)= sum over gates of (h ⊙ m_k) @ R[:, k*u:(k+1)*u].
void recurrent_matmul(const float* h, const float* rmask, const float* R, float* out, long B, long u, int G,
                      bool accumulate, float* scratch);
// dh(B, u) (+)= sum over gates of (d[:, k*u:(k+1)*u] @ RT[k*u:(k+1)*u, :]) ⊙ m_k, d of width G*u.
void recurrent_matmul_t(const float* d, const float* rmask, const float* RT, float* dh, long B, long u, int G,
                        bool accumulate, float* scratch);
// dR(u, G*u) += sum over the T*B rows of the states: (H ⊙ m_k)^T @ D[:, gate k], with the mask row
// repeating every B rows (one mask per sequence, the same at every step). H is (T*B, u), D (T*B, G*u);
// dbias (may be null): += the column sums of D.
void recurrent_weight_grad(const float* H, const float* rmask, const float* D, float* dR, long TB, long B, long u,
                           int G, float* dbias = nullptr);

// SimpleRNN: pre = xw + h_prev @ R, h = tanh(pre).
void simple_rnn_fused_forward(const float* xw, const float* h_prev, const float* R, float* pre, float* h, long B,
                              long u, const float* rmask, float* scratch);
// dpre = dh * (1 - h^2); dh_prev = dpre @ R^T.
void simple_rnn_fused_backward(const float* h, const float* dh, const float* RT, float* dpre, float* dh_prev, long B,
                               long u, const float* rmask, float* scratch);
// LSTM, gates i, f, c, o: writes pre (B, 4u), gates (B, 4u), c, tc = tanh(c), h = o * tc.
void lstm_fused_forward(const float* xw, const float* h_prev, const float* c_prev, const float* R, float* pre,
                        float* gates, float* c, float* tc, float* h, long B, long u, const float* rmask,
                        float* scratch);
// dh, dc (dc may be null) -> dpre (B, 4u), dh_prev = dpre @ R^T, dc_prev.
void lstm_fused_backward(const float* gates, const float* c_prev, const float* tc, const float* dh, const float* dc,
                         const float* RT, float* dpre, float* dh_prev, float* dc_prev, long B, long u,
                         const float* rmask, float* scratch);
// GRU with reset_after, gates z, r, h: rec = h_prev @ R + b_rec (b_rec may be null), z = sig(xw_z + rec_z),
// r = sig(xw_r + rec_r), hh = tanh(xw_h + r * rec_h), h = z * h_prev + (1 - z) * hh. The bias is added
// after the product, as in Keras. Writes gates [z, r, hh] (B, 3u each) and rec, of which the backward reads
// only rec_h (kept with its bias).
void gru_fused_forward(const float* xw, const float* h_prev, const float* R, const float* b_rec, float* rec,
                       float* gates, float* h, long B, long u, const float* rmask, float* scratch);
// Writes dxw = d[pre_z, pre_r, pre_h], drec = d(rec) = [dpre_z, dpre_r, dpre_h * r], and
// dh_prev = dh * z + drec @ R^T.
void gru_fused_backward(const float* gates, const float* rec, const float* h_prev, const float* dh, const float* RT,
                        float* dxw, float* drec, float* dh_prev, long B, long u, const float* rmask, float* scratch);

SEQNET_KERNELS_END
