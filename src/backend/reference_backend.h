// The reference backend: every op as a plain loop, the specification the tuned backends are tested against
// (backend/backend.h). Internal header.
#pragma once
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
};

}  // namespace seqnet
