// Losses with Keras 3 semantics: the per-sample loss is the mean over the last axis, and the batch loss
// is the mean over every remaining value ("sum_over_batch_size").
#pragma once
#include <memory>
#include <string>

#include "seqnet/activations.h"
#include "seqnet/layer.h"  // Json
#include "seqnet/tensor.h"

namespace seqnet {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;  // Keras's function name, e.g. "binary_crossentropy"
  // Returns the batch loss and, when grad is not null, writes dLoss/dy_pred into it (shape of y_pred).
  virtual double compute(const Tensor& y_pred, const Tensor& y_true, Tensor* grad) const = 0;
  // True when this loss has an exact path from the logits of an output activated by `act`
  // (sigmoid for binary crossentropy, softmax for the categorical ones), as Keras's TF backend takes.
  virtual bool fuses_with(Activation act) const { return false; }
  virtual double compute_from_logits(const Tensor& logits, const Tensor& y_true, Tensor* grad) const;
  // True for a crossentropy that reads y_pred as probabilities (from_logits = false).
  virtual bool expects_probabilities() const { return false; }
};

using LossPtr = std::shared_ptr<Loss>;

struct CrossentropyOptions {
  bool from_logits = false;
  float label_smoothing = 0.0f;
};

namespace losses {
LossPtr MeanAbsoluteError();
LossPtr MeanSquaredError();
LossPtr BinaryCrossentropy(CrossentropyOptions options = {});
LossPtr CategoricalCrossentropy(CrossentropyOptions options = {});
LossPtr SparseCategoricalCrossentropy(CrossentropyOptions options = {});
LossPtr Huber(float delta = 1.0f);
// "mae", "mean_absolute_error", "mse", "binary_crossentropy", "categorical_crossentropy",
// "sparse_categorical_crossentropy", "huber" (and Keras's class names).
LossPtr get(const std::string& name);
// A name, or Keras's serialized loss {"class_name": "BinaryCrossentropy", "config": {"from_logits": true}};
// an argument seqnet does not implement is an error naming it.
LossPtr from_config(const Json& config);
}  // namespace losses

}  // namespace seqnet
