// Optimizers with Keras 3 formulas and defaults (keras/src/optimizers).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seqnet/layer.h"

namespace seqnet {

struct ClipOptions {
  std::optional<float> clipnorm;         // per variable
  std::optional<float> clipvalue;        // elementwise
  std::optional<float> global_clipnorm;  // over all variables together
};

class Optimizer {
 public:
  Optimizer(std::string name, float learning_rate, ClipOptions clip, float weight_decay = 0.0f);
  virtual ~Optimizer() = default;
  const std::string& name() const { return name_; }
  float learning_rate() const { return learning_rate_; }
  void set_learning_rate(float lr) { learning_rate_ = lr; }
  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t it) { iterations_ = it; }

  // One step: clip the gradients, apply weight decay, update every trainable parameter.
  void apply(const std::vector<Param*>& params);

  // Slot variables (moments, accumulators), per parameter, in a fixed order; for checkpoints.
  std::vector<Tensor>& slots(const Param* p) { return slots_[p]; }
  virtual Json get_config() const;

 protected:
  // Updates one parameter given its (clipped) gradient; `slots` starts empty for a new parameter.
  virtual void update(Tensor& value, const Tensor& grad, std::vector<Tensor>& slots) = 0;

 private:
  std::string name_;
  float learning_rate_;
  ClipOptions clip_;
  float weight_decay_;
  int64_t iterations_ = 0;
  std::map<const Param*, std::vector<Tensor>> slots_;
};

using OptimizerPtr = std::shared_ptr<Optimizer>;

struct SGDOptions {
  float learning_rate = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
  ClipOptions clip = {};
};
struct RMSpropOptions {
  float learning_rate = 0.001f;
  float rho = 0.9f;
  float momentum = 0.0f;
  float epsilon = 1e-7f;  // inside the square root, as in Keras
  bool centered = false;
  ClipOptions clip = {};
};
struct AdamOptions {
  float learning_rate = 0.001f;
  float beta_1 = 0.9f;
  float beta_2 = 0.999f;
  float epsilon = 1e-7f;
  bool amsgrad = false;
  ClipOptions clip = {};
};
struct AdamWOptions {
  float learning_rate = 0.001f;
  float weight_decay = 0.004f;
  float beta_1 = 0.9f;
  float beta_2 = 0.999f;
  float epsilon = 1e-7f;
  bool amsgrad = false;
  ClipOptions clip = {};
};
struct AdagradOptions {
  float learning_rate = 0.001f;
  float initial_accumulator_value = 0.1f;
  float epsilon = 1e-7f;
  ClipOptions clip = {};
};

namespace optimizers {
OptimizerPtr SGD(SGDOptions o = {});
OptimizerPtr RMSprop(RMSpropOptions o = {});
OptimizerPtr Adam(AdamOptions o = {});
OptimizerPtr AdamW(AdamWOptions o = {});
OptimizerPtr Adagrad(AdagradOptions o = {});
OptimizerPtr get(const std::string& name);  // "sgd", "rmsprop", "adam", "adamw", "adagrad" with Keras defaults
// A name, or Keras's serialized form {"class_name": "RMSprop", "config": {"learning_rate": 1e-4, ...}};
// unknown config keys are an error naming them.
OptimizerPtr from_config(const Json& config);
}  // namespace optimizers

}  // namespace seqnet
