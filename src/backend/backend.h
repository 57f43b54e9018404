// The compute boundary (issue 18, docs/architecture.md). An op is a function that reads or writes the elements
// of tensors; the code above the boundary (optimizers, losses, metrics today; the layers next) composes ops and
// owns shapes, configs and state, and never loops over a tensor's memory itself (tests/check_compute_boundary.cmake
// keeps it so).
//
// Two backends implement every op:
//   reference  plain loops, one element after another: the specification of the op, meant to be read;
//   cpu        the one seqnet runs on: the reference with the tuned ops overridden (threads, vectorized
//              loops), which must give the reference's bits, since the compiler never contracts a * b + c
//              (CMakeLists.txt) and the tuned ops split only along independent elements.
// tests/unit/test_ops.cpp runs every op of op_names() on both and compares the bits. A CUDA backend implements
// the same class.
//
// Shapes: every tensor is float32 unless said; "n" is an element count that all the op's tensors share.
// Gradients of weights ACCUMULATE (+=), as llm.c's backward functions do (a weight shared by several calls sums
// their gradients); every other output, input gradients included, is written whole. Ops that change no shape
// may run in place (the output the same tensor as an input) where their comment says so. Internal header.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "seqnet/activations.h"
#include "seqnet/random.h"
#include "seqnet/tensor.h"

namespace seqnet {

namespace rnn {
class Cell;  // backend/recurrent_cells.h: the math of one step of SimpleRNN, LSTM or GRU
}
struct RecurrentTape;  // backend/recurrent.h: what a recurrent forward keeps for its backward

// The per-value terms of the elementwise losses (the mean over all values is the loss).
enum class PointwiseLoss {
  absolute_error,              // |p - t|
  squared_error,               // (p - t)^2
  huber,                       // 0.5 e^2 when |e| <= delta, else delta (|e| - delta / 2); param = delta
  binary_crossentropy,         // -(y log q + (1 - y) log(1 - q)), q = p clipped to [eps, 1 - eps] in float32
  binary_crossentropy_logits,  // max(x, 0) - x y + log1p(exp(-|x|)) for the logit x
};  // for the crossentropies y = t (1 - param) + param / 2: param is the label smoothing

struct SgdStep {
  float learning_rate;
  float momentum;  // 0: value -= lr * grad, no velocity slot
  bool nesterov;
};
struct RmspropStep {
  float learning_rate, rho, momentum, epsilon;
  bool centered;
};
struct AdamStep {
  float beta_1, beta_2, epsilon;
  float alpha;  // the step size of this iteration: learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)
};
struct AdagradStep {
  float learning_rate, epsilon;
};

// Crossentropy over rows of `classes` values (the last axis).
struct CrossentropyRows {
  bool from_logits = false;      // pred holds logits (softmax inside), else probabilities (normalized per row)
  bool sparse_labels = false;    // target holds one class index per row, else a (rows, classes) distribution
  float label_smoothing = 0.0f;  // dense targets only: t (1 - s) + s / classes
};

// Where a window of a 1-D pooling or convolution sits: output step t reads input steps
// t * strides - pad_left + j * dilation for j in [0, size), those outside [0, steps) being padding.
struct Windows {
  int64_t size;
  int64_t strides = 1;
  int64_t dilation = 1;
  int64_t pad_left = 0;
};

// The first id an Embedding cannot look up.
struct InvalidId {
  int64_t position = -1;     // flat position in the input; -1: every id is fine
  double id = 0.0;
  bool non_integer = false;  // a float id with a fraction (else: out of [0, input_dim))
};

// The elementwise merges of n values each (Keras's Add, Subtract, Multiply, Average, Maximum, Minimum).
enum class MergeOp { add, subtract, multiply, average, maximum, minimum };

// A block of `rows` rows of `length` values: row r of the source starts at src_offset + r * src_stride, of the
// destination at dst_offset + r * dst_stride (the pieces of a concatenation, a crop, a padding).
struct RowBlock {
  int64_t rows, length;
  int64_t dst_offset = 0, dst_stride = 0;
  int64_t src_offset = 0, src_stride = 0;
};

// A product per sample, out[b] (m, n) = A[b] (m, k) @ C[b] (k, n); A[b] stored as (m, k) or, transposed, as
// (k, m), C[b] as (k, n) or, transposed, as (n, k); every operand contiguous per sample.
struct BatchedProduct {
  int64_t batch, m, n, k;
  bool transpose_a = false, transpose_c = false;
};

// Vectors of `length` values inside x (batch, length, others) or, along_last, x (batch, others, length): vector
// (b, o) starts at b * length * others + (along_last ? o * length : o) with a stride of (along_last ? 1 : others).
struct VectorsInTensor {
  int64_t batch, length, others;
  bool along_last;
};

// A recurrent layer's call: x (B, T, in) through T steps of a cell of u units, G gates and S states.
struct RecurrentForward {
  const Tensor* x = nullptr;
  // Or, for an Embedding read by the layer (docs/layers.md), x = rows[row_of] without x: rows (n, in) are the
  // table's rows of the batch's distinct ids, row_of (B, T) int32 each position's index into them. The input
  // projection is then made once per row and each step gathers its rows (the same values as per position).
  // Not with input_dropout.
  const Tensor* rows = nullptr;
  const Tensor* row_of = nullptr;
  const Tensor* mask = nullptr;               // (B, T), any dtype: a step whose value is 0 carries the states over
  const Tensor* kernel = nullptr;             // (in, G u)
  const Tensor* recurrent_kernel = nullptr;   // (u, G u)
  const Tensor* bias = nullptr;               // (G u), (2, G u) for GRU reset_after [input, recurrent], or null
  const Tensor* input_dropout = nullptr;      // (1 or G, B, in) inverted-dropout masks (one per gate: G), or null
  const Tensor* recurrent_dropout = nullptr;  // (G, B, u), or null
  const std::vector<Tensor>* initial_states = nullptr;  // S tensors (B, u); null: zeros
  bool go_backwards = false;
  bool return_sequences = false;      // y (B, T, u), else (B, u): the last step
  bool zero_output_for_mask = false;  // a masked step outputs zeros, else the carried state
  bool keep_for_backward = false;
};
struct RecurrentBackward {
  const Tensor* kernel = nullptr;              // the forward's weights
  const Tensor* recurrent_kernel = nullptr;
  const Tensor* bias = nullptr;
  const Tensor* dy = nullptr;                  // y's gradient, or null when none reached it
  const std::vector<Tensor>* d_final = nullptr;  // up to S tensors (B, u), empty ones for none; or null
  Tensor* dkernel = nullptr;                   // accumulate, like the weights' shapes
  Tensor* drecurrent_kernel = nullptr;
  Tensor* dbias = nullptr;                     // null without a bias
  Tensor* dx = nullptr;                        // (B, T, in), written; null when not wanted
  Tensor* drows = nullptr;                     // after a forward from rows: (n, in), written; null when not wanted
  std::vector<Tensor>* d_initial = nullptr;    // S tensors (B, u): the initial states' gradients, written
};

struct InvalidLabel {
  int64_t row = -1;  // -1: every label is a class index
  double label = 0.0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- Optimizer updates (Keras 3's formulas), in place; grad and every slot have value's n elements.
  // SGD: velocity = momentum * velocity - lr * grad; value += nesterov ? momentum * velocity - lr * grad : velocity.
  // velocity is null when momentum is 0 (value -= lr * grad).
  virtual void sgd_update(Tensor& value, const Tensor& grad, Tensor* velocity, const SgdStep& step) = 0;
  // RMSprop: velocity = rho velocity + (1 - rho) grad^2; average_gradient likewise of grad when centered
  // (else null); momentum (null when 0) = momentum * momentum + increment.
  virtual void rmsprop_update(Tensor& value, const Tensor& grad, Tensor& velocity, Tensor* average_gradient,
                              Tensor* momentum, const RmspropStep& step) = 0;
  // Adam: m += (grad - m)(1 - beta_1); v += (grad^2 - v)(1 - beta_2); v_hat = max(v_hat, v) when amsgrad (else
  // null); value -= m alpha / (sqrt(v or v_hat) + epsilon).
  virtual void adam_update(Tensor& value, const Tensor& grad, Tensor& m, Tensor& v, Tensor* v_hat,
                           const AdamStep& step) = 0;
  // Adagrad: accumulator += grad^2; value -= lr grad / sqrt(accumulator + epsilon).
  virtual void adagrad_update(Tensor& value, const Tensor& grad, Tensor& accumulator, const AdagradStep& step) = 0;
  // value -= value * weight_decay * learning_rate (decoupled weight decay, before the update).
  virtual void decay_weights(Tensor& value, float weight_decay, float learning_rate) = 0;

  // ---- Gradient clipping.
  // start + the squares of x, added in double element after element (a global norm runs on over every tensor).
  virtual double sum_of_squares(const Tensor& x, double start) = 0;
  virtual void scale_to_norm(Tensor& x, double clip_norm, double norm) = 0;  // x = float(x * clip_norm / norm)
  virtual void clip_values(Tensor& x, float limit) = 0;                      // x = clamp(x, -limit, limit)

  // ---- Losses. pred and target hold n values each.
  // forward: the SUM of the per-value terms (double); backward: dpred(n) = d(sum / n) / d pred.
  virtual double pointwise_loss_forward(PointwiseLoss kind, const Tensor& pred, const Tensor& target,
                                        float param) = 0;
  virtual void pointwise_loss_backward(PointwiseLoss kind, Tensor& dpred, const Tensor& pred, const Tensor& target,
                                       float param) = 0;
  // pred (rows, classes); target (rows, classes), or (rows) class indices (checked by first_invalid_label first).
  // forward: the mean over rows of -sum_j y_j log q_j (q = softmax(pred), or pred / sum(pred) clipped to
  // [eps, 1 - eps]); backward: dpred (rows, classes) of that mean.
  virtual double crossentropy_forward(const Tensor& pred, const Tensor& target, int64_t classes,
                                      const CrossentropyRows& how) = 0;
  virtual void crossentropy_backward(Tensor& dpred, const Tensor& pred, const Tensor& target, int64_t classes,
                                     const CrossentropyRows& how) = 0;
  // The first label (any shape, float32) that is not an integer in [0, classes).
  virtual InvalidLabel first_invalid_label(const Tensor& labels, int64_t classes) = 0;

  // ---- Metrics: counts of hits.
  // (pred > threshold) == (target > 0.5), over n values.
  virtual double binary_hits(const Tensor& pred, const Tensor& target, float threshold) = 0;
  // Rows of pred (rows, classes) whose first argmax is target's first argmax (target (rows, classes)), or the
  // class index target[row] when sparse_labels (target (rows)).
  virtual double argmax_hits(const Tensor& pred, const Tensor& target, int64_t classes, bool sparse_labels) = 0;
  // (The mean error metrics are pointwise_loss_forward's sums.)

  // ---- Dense algebra and activations.
  // dst = src (n values), in parallel when it is megabytes.
  virtual void copy(Tensor& dst, const Tensor& src) = 0;
  // x = value everywhere (n values; a megabytes embedding gradient cleared every step), in parallel when large.
  virtual void fill(Tensor& x, float value) = 0;
  // y = x * factor (n values); y may be x.
  virtual void scale(Tensor& y, const Tensor& x, float factor) = 0;
  // Whether a and b (float32) have the same shape and the same bits.
  virtual bool equal(const Tensor& a, const Tensor& b) = 0;
  // out (rows, out_dim) = x (rows, in_dim) @ weight (in_dim, out_dim) + bias (out_dim; may be null).
  virtual void matmul_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias) = 0;
  // dweight += x^T dout; dbias += the column sums of dout (may be null); dx = dout weight^T (may be null).
  virtual void matmul_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                               const Tensor& weight) = 0;
  // out (B, Lout, F) = the 1-D convolution of x (B, L, C) by weight (K, C, F), plus bias (F; may be null);
  // K = windows.size, Lout = out's second axis.
  virtual void conv1d_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias,
                              const Windows& windows) = 0;
  // dweight (K, C, F) += its gradient; dbias += the sums of dout over (B, Lout); dx (B, L, C) = the input
  // gradient (may be null).
  virtual void conv1d_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                               const Tensor& weight, const Windows& windows) = 0;
  // y = act(x) over n values (softmax along rows of the last axis); y may be x.
  virtual void activation_forward(Activation act, Tensor& y, const Tensor& x) = 0;
  // dx = dy act'(x), reading x (the input) or y (the output) as the activation needs (activation_backward_needs_only_
  // output: x may be empty); dx may be dy.
  virtual void activation_backward(Activation act, Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy) = 0;

  // ---- Embeddings: ids (n) int32; table (input_dim, dim); out (n, dim).
  // ids = x (n ids as float32 or int32) as int32, checked: the first id that is not an integer in [0, input_dim)
  // (ids are converted up to it).
  virtual InvalidId embedding_ids(Tensor& ids, const Tensor& x, int64_t input_dim) = 0;
  virtual void embedding_forward(Tensor& out, const Tensor& ids, const Tensor& table) = 0;
  // dtable += each row of dout at its id (ids repeat: a row's sum runs over the positions in order).
  virtual void embedding_backward(Tensor& dtable, const Tensor& dout, const Tensor& ids) = 0;
  // mask (n) = 1 where x (n, float32 or int32) is not 0, else 0.
  virtual void nonzero_mask(Tensor& mask, const Tensor& x) = 0;

  // ---- An Embedding read by a Conv1D, fused (Model fuses the pair; docs/layers.md): the convolution of
  // looked-up rows is a sum of the rows' projections through the kernel, computed once per distinct id of the
  // batch instead of once per position. K = kernel size, F = filters; weight (K, C, F) is read as (C, K*F).
  // unique (n) int32: the distinct ids of ids (n), in order of first appearance, in its first `count` entries
  // (the return value); slots (n) int32: each position's index into them. seen (input_dim) int32 is scratch:
  // all -1 before and after. The distinct rows are gathered with embedding_forward, and their gradients added
  // into the table with embedding_backward.
  virtual int64_t distinct_ids(Tensor& unique, Tensor& slots, Tensor& seen, const Tensor& ids) = 0;
  // projected (n, K*F): [u, j*F + f] = sum_c rows[u, c] weight[j, c, f]; rows (n, C).
  virtual void embedding_project(Tensor& projected, const Tensor& rows, const Tensor& weight) = 0;
  // dweight += its gradient through projected; drows (n, C; may be null) = the gradient of rows.
  virtual void embedding_project_backward(Tensor* drows, Tensor& dweight, const Tensor& dprojected,
                                          const Tensor& rows, const Tensor& weight) = 0;
  // out (B, Lout, F) = bias + sum_j projected[slots[b, t*strides + j*dilation - pad_left], j*F + f] over the taps
  // inside [0, L); slots (B, L); bias may be null.
  virtual void gather_conv1d_forward(Tensor& out, const Tensor& projected, const Tensor& slots, const Tensor* bias,
                                     const Windows& windows) = 0;
  // dprojected (count, K*F) = the sums of dout (B, Lout, F) gathered the other way; dbias (may be null) += the
  // sums of dout over (B, Lout).
  virtual void gather_conv1d_backward(Tensor& dprojected, Tensor* dbias, const Tensor& dout, const Tensor& slots,
                                      const Windows& windows) = 0;

  // ---- Pooling over steps: x (B, L, C), y (B, Lout, C).
  // y = the maximum over each window (ties: the earliest step; an empty window -inf); argmax (B, Lout, C), int32,
  // when not null: the step of each maximum (-1 for an empty window).
  virtual void max_pool_forward(Tensor& y, Tensor* argmax, const Tensor& x, const Windows& windows) = 0;
  // dx (B, L, C) = dy (B, Lout, C) routed to the steps of argmax.
  virtual void max_pool_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax) = 0;
  // y = the mean over the steps of each window that lie in [0, L).
  virtual void average_pool_forward(Tensor& y, const Tensor& x, const Windows& windows) = 0;
  virtual void average_pool_backward(Tensor& dx, const Tensor& dy, const Windows& windows) = 0;
  // y (B, C) = the maximum over all steps (ties: the earliest); argmax (B, C) int32: its step.
  virtual void global_max_pool_forward(Tensor& y, Tensor& argmax, const Tensor& x) = 0;
  virtual void global_max_pool_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax) = 0;
  // weights (B, L) = 1 / L, or with a mask (B, L) m / sum_t m (a row of zeros gets zeros: it averages nothing).
  virtual void step_average_weights(Tensor& weights, const Tensor* mask) = 0;
  // y (B, C) = sum_t weights[b, t] x[b, t, :] (steps of weight 0 skipped); backward: dx[b, t, :] = weights[b, t] dy[b, :].
  virtual void weighted_step_sum_forward(Tensor& y, const Tensor& x, const Tensor& weights) = 0;
  virtual void weighted_step_sum_backward(Tensor& dx, const Tensor& dy, const Tensor& weights) = 0;

  // ---- Noise and masks.
  // keep (n) = scale with probability 1 - rate, else 0: one uniform draw of rng per value, in order.
  virtual void dropout_mask(Tensor& keep, Rng& rng, float rate, float scale) = 0;
  // y = x * keep, elementwise (n values); y may be x.
  virtual void multiply(Tensor& y, const Tensor& x, const Tensor& keep) = 0;
  // y (B, T, C) = x (B, T, C) * keep (B, C) at every step; y may be x.
  virtual void multiply_per_channel(Tensor& y, const Tensor& x, const Tensor& keep) = 0;
  // y = x + a draw of N(0, stddev^2) per value, in order.
  virtual void add_gaussian_noise(Tensor& y, const Tensor& x, Rng& rng, float stddev) = 0;
  // keep (rows) = 1 where the row of x (rows, f) holds a value other than `value`, else 0.
  virtual void rows_differing_from(Tensor& keep, const Tensor& x, float value) = 0;
  // The rows of x (rows, f) where keep (rows) is 0 set to 0, in place.
  virtual void zero_rows(Tensor& x, const Tensor& keep) = 0;

  // ---- Joining, repeating and moving values (merges, Concatenate, RepeatVector, UpSampling1D, Permute,
  // Cropping1D, ZeroPadding1D, a Bidirectional's halves).
  // y = xs[0] op xs[1] op ... in order of the inputs (n values each; average: the sum times 1 / count; subtract:
  // two inputs). winner (n, int32), for maximum and minimum only: the input whose value y holds, the earliest on
  // a tie. y may be xs[0].
  virtual void merge_forward(MergeOp op, Tensor& y, Tensor* winner, const std::vector<const Tensor*>& xs) = 0;
  // dx = the gradient for input k of `count`: dy | dy, -dy (k = 1) | dy times the other inputs in order | dy /
  // count | dy where winner is k, else 0. xs (the inputs) are read by multiply only, winner by maximum and minimum.
  virtual void merge_backward(MergeOp op, Tensor& dx, int64_t k, int64_t count, const Tensor& dy,
                              const std::vector<const Tensor*>& xs, const Tensor* winner) = 0;
  // out = 1 where a or b (n values) is not 0, else 0 (Keras's OR of masks); out may be a.
  virtual void mask_or(Tensor& out, const Tensor& a, const Tensor& b) = 0;
  // The rows of block copied from src to dst (float32 or int32, the same in both); the rest of dst is left as it is.
  virtual void copy_rows(Tensor& dst, const Tensor& src, const RowBlock& block) = 0;
  // y (rows, repeats, f) = each row of x (rows, f) `repeats` times; backward: dx (rows, f) = the sum over the
  // repeats of dy, in order.
  virtual void repeat_rows_forward(Tensor& y, const Tensor& x, int64_t repeats) = 0;
  virtual void repeat_rows_backward(Tensor& dx, const Tensor& dy, int64_t repeats) = 0;
  // y = x with its axes permuted: y's axis a is x's axis axes[a] (every axis, the batch axis included).
  virtual void permute_axes(Tensor& y, const Tensor& x, const std::vector<int>& axes) = 0;
  // y (B, T, f) = x (B, T, f) with the steps of every sample in reverse order.
  virtual void reverse_steps(Tensor& y, const Tensor& x) = 0;

  // ---- Products and normalizations (Dot, Normalization, LayerNormalization).
  // out (batch, m, n) = the products of `product`.
  virtual void batched_matmul(Tensor& out, const Tensor& a, const Tensor& c, const BatchedProduct& product) = 0;
  // In place, each vector v of x scaled by s = min(1 / sqrt(sum v^2), 1e7) (Keras's ops.normalize; the squares
  // summed in double); inv_norm (batch, others) = s.
  virtual void normalize_vectors_forward(Tensor& x, Tensor& inv_norm, const VectorsInTensor& vectors) = 0;
  // In place, the gradient g of the normalized vectors n made the gradient of the raw ones:
  // g = s (g - n sum(g n)), or s g where s is the cap 1e7 (a constant there).
  virtual void normalize_vectors_backward(Tensor& g, const Tensor& normalized, const Tensor& inv_norm,
                                          const VectorsInTensor& vectors) = 0;
  // mean (f) and population variance (f) of data (rows, f) per feature, in double (two passes). Returns the first
  // feature whose mean is not finite, or -1.
  virtual int64_t feature_moments(Tensor& mean, Tensor& variance, const Tensor& data) = 0;
  // With scale = max(sqrt(variance), 1e-7) per feature: y (rows, f) = (x - mean) / scale, or invert:
  // mean + x scale. backward: dx = dy / scale, or invert: dy scale.
  virtual void standardize_forward(Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                   bool invert) = 0;
  virtual void standardize_backward(Tensor& dx, const Tensor& dy, const Tensor& variance, bool invert) = 0;
  // Keras's layer normalization of each row of x (rows, f): mean and variance in double, inv = 1 / sqrt(var + eps)
  // in float, ig = inv gamma, y = x ig + (beta - mean ig) (gamma, beta: (f) or null). xhat (rows, f) = (x - mean)
  // inv and inv (rows) are kept for backward when not null.
  virtual void layer_norm_forward(Tensor& y, Tensor* xhat, Tensor* inv, const Tensor& x, const Tensor* gamma,
                                  const Tensor* beta, float epsilon) = 0;
  // dgamma += sum over rows of dy xhat, dbeta += sum of dy (each may be null; the sums in double, in row order);
  // dx (may be null) = inv (gy - mean(gy) - xhat mean(gy xhat)) with gy = dy gamma.
  virtual void layer_norm_backward(Tensor* dx, Tensor* dgamma, Tensor* dbeta, const Tensor& dy, const Tensor& xhat,
                                   const Tensor& inv, const Tensor* gamma) = 0;

  // ---- The recurrent loop (SimpleRNN, LSTM, GRU: Keras's RNN over a cell), a fused op: what it does per step
  // is the cell's step_forward / step_backward (backend/recurrent_cells.cpp); the reference backend runs every
  // cell's plain step on one thread, the CPU backend its fused step, rows split over threads.
  // y and final_states (S tensors (B, u)) are written; tape keeps what backward needs (keep_for_backward).
  // call.initial_states may point at final_states (a chunk of truncated BPTT goes on from the last one's):
  // the initial states are read before the final ones are written.
  virtual void recurrent_forward(const rnn::Cell& cell, const RecurrentForward& call, RecurrentTape& tape, Tensor& y,
                                 std::vector<Tensor>& final_states) = 0;
  // The backward of the tape's forward (same weights); weight gradients accumulate.
  virtual void recurrent_backward(const rnn::Cell& cell, const RecurrentBackward& call, RecurrentTape& tape) = 0;

  // Runs a() and b(), at once where the backend can (a Bidirectional's two directions); the outcome is that of
  // a() then b(): callers pass two computations that share nothing and draw no random numbers.
  virtual void run_both(bool may_overlap, const std::function<void()>& a, const std::function<void()>& b) = 0;

  // The names of the ops above, in order: the op test needs a case for each.
  static const std::vector<std::string>& op_names();
};

Backend& backend();            // what seqnet runs on: the CPU backend, unless a test chose another
Backend& cpu_backend();
Backend& reference_backend();
// Runs every op on `b` from now on and returns the backend used so far (tests: the harness compares layers on
// the reference backend with the CPU one). Not for use while anything runs.
Backend& use_backend(Backend& b);

}  // namespace seqnet
