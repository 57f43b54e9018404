// 1-D convolution over channels-last sequences as im2col + one GEMM, forward and backward.
// Kernels know nothing of layers: every buffer and size is passed explicitly.
//
// Shapes (row-major):
//   inp    (B, L, C)          input sequence
//   weight (K, C, F)          Keras kernel layout; read as a (K*C, F) matrix
//   bias   (F)                may be null
//   out    (B, Lout, F)
//   col    (rows, K*C)        one row per output position r = b*Lout + t:
//                             col[r, j, c] = inp[b, t*stride + j*dilation - pad_left, c], 0 outside [0, L)
// The caller picks Lout and pad_left (valid: pad_left 0; causal: dilation*(K-1); same: TF's split).
#pragma once

namespace seqnet::kernels {

// Fills col for the output rows [r0, r1) of the flattened (B*Lout) output. col is (r1-r0, K*C).
void conv1d_im2col(float* col, const float* inp, long r0, long r1, long L, long C, long K, long Lout, long stride,
                   long dilation, long pad_left);
// The adjoint of conv1d_im2col: accumulates (+=) each col value into the input position it was read from.
void conv1d_col2im(float* dinp, const float* dcol, long r0, long r1, long L, long C, long K, long Lout, long stride,
                   long dilation, long pad_left);

// out = im2col(inp) @ weight + bias. Works through the output rows in chunks so the col buffer stays small.
void conv1d_forward(float* out, const float* inp, const float* weight, const float* bias, long B, long L, long C,
                    long F, long K, long Lout, long stride, long dilation, long pad_left);
// Accumulates: dweight += im2col(inp)^T @ dout, dbias += sum_rows(dout) (either may be null).
// Writes dinp = col2im(dout @ weight^T) (null when not wanted). dout is (B, Lout, F).
void conv1d_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, long B, long L, long C, long F, long K, long Lout, long stride,
                     long dilation, long pad_left);

}  // namespace seqnet::kernels
