// The Layer interface. Every layer owns a paired forward/backward: forward caches what backward
// needs; backward accumulates (+=) into its weights' gradients and returns the input gradient.
#pragma once
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "seqnet/initializers.h"
#include "seqnet/random.h"
#include "seqnet/tensor.h"

namespace seqnet {

using Json = nlohmann::json;

struct Param {
  std::string name;  // Keras weight name: "kernel", "bias", "embeddings", "recurrent_kernel", ...
  Tensor value;
  Tensor grad;
  bool trainable = true;
  DType saved_dtype = DType::float32;  // the variable's dtype in Keras files (Normalization's count is int32)
};

// What a call of forward() may need beyond its input.
struct RunContext {
  bool training = false;
  Rng* rng = nullptr;            // dropout masks; set when training
  const Tensor* mask = nullptr;  // (batch, time) 0/1 mask of the input sequence, if any
  // False when no backward follows (predict, evaluate): layers may then skip what only backward reads.
  bool keep_for_backward = true;
  // False when the caller discards the gradient of this input (the first layer of a training step: the
  // data has no gradient). backward() may then skip it and return an empty tensor.
  bool input_grad = true;
};

class Layer {
 public:
  explicit Layer(std::string name, std::string class_snake_name);
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  virtual std::string class_name() const = 0;
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Keras's input_shape argument (without the batch axis), for the first layer of a Sequential.
  const std::optional<Shape>& declared_input_shape() const { return declared_input_shape_; }
  void set_declared_input_shape(Shape shape) { declared_input_shape_ = std::move(shape); }
  // A fixed batch size declared with it (Keras 2's batch_input_shape, Keras 3's batch_shape): stateful layers
  // need one.
  const std::optional<int64_t>& declared_batch_size() const { return declared_batch_size_; }
  void set_declared_batch_size(int64_t n) { declared_batch_size_ = n; }

  // Creates the weights for `input_shape` (batch axis first; -1 = None) and returns the output shape.
  // Building twice with the same shape is a no-op; with another shape it is an error naming the layer.
  Shape build(const Shape& input_shape, Rng& rng);
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }

  // Checks the input against the built shape, then runs forward().
  Tensor call(const Tensor& x, RunContext& ctx);
  virtual Tensor forward(const Tensor& x, RunContext& ctx) = 0;
  virtual Tensor backward(const Tensor& dy) = 0;

  // The mask this layer passes on, given the mask it received (Keras's compute_mask).
  // Default: pass it through unchanged (what Keras's supports_masking layers do).
  virtual std::optional<Tensor> compute_mask(const Tensor& input, const Tensor* input_mask) const;

  // The layer's weights, in Keras's order. A wrapper (Bidirectional, TimeDistributed) returns its inner
  // layers' Param objects themselves (see collect_params): one set of weights, shared, never copied.
  std::vector<Param*> params();
  std::vector<const Param*> params() const;
  Param* find_param(const std::string& weight_name);  // the first weight of that name
  int64_t count_params() const;
  int64_t count_trainable_params() const;
  bool trainable() const { return trainable_; }
  void set_trainable(bool t);

  // The layer's Keras config (name, trainable, dtype and the layer's own arguments).
  virtual Json get_config() const;

  // "{name} ({Class})" as Keras's summary prints it.
  std::string summary_label() const { return name_ + " (" + class_name() + ")"; }
  std::string where() const { return "layer '" + name_ + "' (" + class_name() + ")"; }

 protected:
  // Checks the input shape, creates the weights and returns the output shape.
  virtual Shape build_impl(const Shape& input_shape, Rng& rng) = 0;
  Param& add_weight(std::string weight_name, Shape shape, const Initializer& init, Rng& rng, bool trainable = true);
  // Appends the weights that params(), count_params() and find_param() see. Default: the weights made
  // by add_weight. Wrappers override it to append their inner layers' params() (shared, not copied).
  // Must not modify the layer (the const params() calls it too).
  virtual void collect_params(std::vector<Param*>& out);
  [[noreturn]] void fail(const std::string& what) const;  // throws Error prefixed with where()
  // RunContext::input_grad of the last call(): whether backward() must return the input gradient.
  bool input_grad_wanted() const { return input_grad_wanted_; }

 private:
  std::string name_;
  bool trainable_ = true;
  bool built_ = false;
  bool input_grad_wanted_ = true;
  Shape input_shape_, output_shape_;
  std::optional<Shape> declared_input_shape_;
  std::optional<int64_t> declared_batch_size_;
  std::vector<std::unique_ptr<Param>> params_;
};

using LayerPtr = std::shared_ptr<Layer>;

// Keras-style unique names: "dense", "dense_1", "dense_2", ... (one counter per base name, per process).
std::string unique_layer_name(const std::string& base);
void clear_session();  // keras.backend.clear_session(): the name counters start over ("dense", "dense_1", ...)

// True when `got` fits `expected` (-1 in `expected` matches any size).
bool shape_compatible(const Shape& expected, const Shape& got);

}  // namespace seqnet
