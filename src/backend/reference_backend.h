// The reference backend: every op as a plain loop, the specification the tuned backends are tested against
// (backend/backend.h). Internal header.
#pragma once
#include <functional>

#include "backend/backend.h"

namespace seqnet {

class ReferenceBackend : public Backend {
 public:
  const char* name() const override { return "reference"; }

  void sgd_update(Tensor& value, const Tensor& grad, Tensor* velocity, const SgdStep& step) override;
  void rmsprop_update(Tensor& value, const Tensor& grad, Tensor& velocity, Tensor* average_gradient, Tensor* momentum,
                      const RmspropStep& step) override;
  void adam_update(Tensor& value, const Tensor& grad, Tensor& m, Tensor& v, Tensor* v_hat,
                   const AdamStep& step) override;
  void adagrad_update(Tensor& value, const Tensor& grad, Tensor& accumulator, const AdagradStep& step) override;
  void decay_weights(Tensor& value, float weight_decay, float learning_rate) override;

  double sum_of_squares(const Tensor& x, double start) override;
  void scale_to_norm(Tensor& x, double clip_norm, double norm) override;
  void clip_values(Tensor& x, float limit) override;

  double pointwise_loss_forward(PointwiseLoss kind, const Tensor& pred, const Tensor& target, float param) override;
  void pointwise_loss_backward(PointwiseLoss kind, Tensor& dpred, const Tensor& pred, const Tensor& target,
                               float param) override;
  double crossentropy_forward(const Tensor& pred, const Tensor& target, int64_t classes,
                              const CrossentropyRows& how) override;
  void crossentropy_backward(Tensor& dpred, const Tensor& pred, const Tensor& target, int64_t classes,
                             const CrossentropyRows& how) override;
  InvalidLabel first_invalid_label(const Tensor& labels, int64_t classes) override;

  double binary_hits(const Tensor& pred, const Tensor& target, float threshold) override;
  double argmax_hits(const Tensor& pred, const Tensor& target, int64_t classes, bool sparse_labels) override;

  void copy(Tensor& dst, const Tensor& src) override;
  void fill(Tensor& x, float value) override;
  void scale(Tensor& y, const Tensor& x, float factor) override;
  bool equal(const Tensor& a, const Tensor& b) override;
  void matmul_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias) override;
  void matmul_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                       const Tensor& weight) override;
  void conv1d_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const Windows& windows) override;
  void conv1d_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                       const Tensor& weight, const Windows& windows) override;
  void activation_forward(Activation act, Tensor& y, const Tensor& x) override;
  void activation_backward(Activation act, Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy) override;

  InvalidId embedding_ids(Tensor& ids, const Tensor& x, int64_t input_dim) override;
  void embedding_forward(Tensor& out, const Tensor& ids, const Tensor& table) override;
  void embedding_backward(Tensor& dtable, const Tensor& dout, const Tensor& ids) override;
  void nonzero_mask(Tensor& mask, const Tensor& x) override;

  int64_t distinct_ids(Tensor& unique, Tensor& slots, Tensor& seen, const Tensor& ids) override;
  void embedding_project(Tensor& projected, const Tensor& rows, const Tensor& weight) override;
  void embedding_project_backward(Tensor* drows, Tensor& dweight, const Tensor& dprojected, const Tensor& rows,
                                  const Tensor& weight) override;
  void gather_conv1d_forward(Tensor& out, const Tensor& projected, const Tensor& slots, const Tensor* bias,
                             const Windows& windows) override;
  void gather_conv1d_backward(Tensor& dprojected, Tensor* dbias, const Tensor& dout, const Tensor& slots,
                              const Windows& windows) override;

  void max_pool_forward(Tensor& y, Tensor* argmax, const Tensor& x, const Windows& windows) override;
  void max_pool_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax) override;
  void average_pool_forward(Tensor& y, const Tensor& x, const Windows& windows) override;
  void average_pool_backward(Tensor& dx, const Tensor& dy, const Windows& windows) override;
  void global_max_pool_forward(Tensor& y, Tensor& argmax, const Tensor& x) override;
  void global_max_pool_backward(Tensor& dx, const Tensor& dy, const Tensor& argmax) override;
  void step_average_weights(Tensor& weights, const Tensor* mask) override;
  void weighted_step_sum_forward(Tensor& y, const Tensor& x, const Tensor& weights) override;
  void weighted_step_sum_backward(Tensor& dx, const Tensor& dy, const Tensor& weights) override;

  void dropout_mask(Tensor& keep, Rng& rng, float rate, float scale) override;
  void multiply(Tensor& y, const Tensor& x, const Tensor& keep) override;
  void multiply_per_channel(Tensor& y, const Tensor& x, const Tensor& keep) override;
  void add_gaussian_noise(Tensor& y, const Tensor& x, Rng& rng, float stddev) override;
  void rows_differing_from(Tensor& keep, const Tensor& x, float value) override;
  void zero_rows(Tensor& x, const Tensor& keep) override;

  void merge_forward(MergeOp op, Tensor& y, Tensor* winner, const std::vector<const Tensor*>& xs) override;
  void merge_backward(MergeOp op, Tensor& dx, int64_t k, int64_t count, const Tensor& dy, const std::vector<const Tensor*>& xs,
                      const Tensor* winner) override;
  void mask_or(Tensor& out, const Tensor& a, const Tensor& b) override;
  void copy_rows(Tensor& dst, const Tensor& src, const RowBlock& block) override;
  void repeat_rows_forward(Tensor& y, const Tensor& x, int64_t repeats) override;
  void repeat_rows_backward(Tensor& dx, const Tensor& dy, int64_t repeats) override;
  void permute_axes(Tensor& y, const Tensor& x, const std::vector<int>& axes) override;
  void reverse_steps(Tensor& y, const Tensor& x) override;

  void batched_matmul(Tensor& out, const Tensor& a, const Tensor& c, const BatchedProduct& product) override;
  void normalize_vectors_forward(Tensor& x, Tensor& inv_norm, const VectorsInTensor& vectors) override;
  void normalize_vectors_backward(Tensor& g, const Tensor& normalized, const Tensor& inv_norm,
                                  const VectorsInTensor& vectors) override;
  int64_t feature_moments(Tensor& mean, Tensor& variance, const Tensor& data) override;
  void standardize_forward(Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& variance,
                           bool invert) override;
  void standardize_backward(Tensor& dx, const Tensor& dy, const Tensor& variance, bool invert) override;
  void layer_norm_forward(Tensor& y, Tensor* xhat, Tensor* inv, const Tensor& x, const Tensor* gamma,
                          const Tensor* beta, float epsilon) override;
  void layer_norm_backward(Tensor* dx, Tensor* dgamma, Tensor* dbeta, const Tensor& dy, const Tensor& xhat,
                           const Tensor& inv, const Tensor* gamma) override;

  void recurrent_forward(const rnn::Cell& cell, const RecurrentForward& call, RecurrentTape& tape, Tensor& y,
                         std::vector<Tensor>& final_states) override;
  void recurrent_backward(const rnn::Cell& cell, const RecurrentBackward& call, RecurrentTape& tape) override;
  void run_both(bool may_overlap, const std::function<void()>& a, const std::function<void()>& b) override {
    a();
    b();
  }

 protected:
  // Runs body(begin, end) over [0, count) of independent pieces (samples, positions, columns) whose work is
  // about `flops`: here all at once on the calling thread; a backend with threads splits them.
  // Pieces start on multiples of `align` (columns: whole cache lines).
  virtual void for_each_piece(int64_t count, int64_t align, double flops,
                              const std::function<void(int64_t begin, int64_t end)>& body) {
    body(0, count);
  }
};

}  // namespace seqnet
