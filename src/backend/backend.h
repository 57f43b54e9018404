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
// A backward op writes its outputs whole (it never accumulates into them). Internal header.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet {

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

  // The names of the ops above, in order: the op test needs a case for each.
  static const std::vector<std::string>& op_names();
};

Backend& backend();            // what seqnet runs on: the CPU backend
Backend& cpu_backend();
Backend& reference_backend();

}  // namespace seqnet
