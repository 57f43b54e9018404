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
  // A call of several inputs: each input's mask (null where none); `mask` is the first input's.
  const std::vector<const Tensor*>* input_masks = nullptr;
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
  const Shape& input_shape() const { return input_shapes_.at(0); }
  const Shape& output_shape() const { return output_shapes_.at(0); }

  // Checks the input against the built shape, then runs forward().
  Tensor call(const Tensor& x, RunContext& ctx);
  // The same for an input the caller no longer needs: a layer that passes its input on unchanged (Dropout
  // outside training) returns it without a copy.
  Tensor call(Tensor&& x, RunContext& ctx);
  // call()'s checks alone, for an input of this shape (a Model running two layers as one).
  void prepare_call(const Shape& input_shape, const RunContext& ctx);
  virtual Tensor forward(const Tensor& x, RunContext& ctx) = 0;
  virtual Tensor backward(const Tensor& dy) = 0;

  // The mask this layer passes on, given the mask it received (Keras's compute_mask).
  // Default: pass it through unchanged (what Keras's supports_masking layers do).
  virtual std::optional<Tensor> compute_mask(const Tensor& input, const Tensor* input_mask) const;

  // ---- Several inputs or outputs: a call in a layer graph ----
  // Merge layers take several tensors; a recurrent layer takes its initial states after its input and, with
  // return_state, gives its final states after its output. A layer of one input and one output implements
  // build_impl / forward / backward / compute_mask above and inherits these, which call them.
  std::vector<Shape> build_multi(const std::vector<Shape>& input_shapes, Rng& rng);
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  const std::vector<Shape>& output_shapes() const { return output_shapes_; }
  // Checks the inputs against the built shapes, then runs forward_multi().
  std::vector<Tensor> call_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx);
  virtual std::vector<Tensor> forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx);
  // One gradient per output (an empty tensor: nothing reached that output, read as zeros); returns one per
  // input (an empty tensor: none, as backward()). Accumulates into the weights' gradients like backward().
  virtual std::vector<Tensor> backward_multi(const std::vector<Tensor>& output_grads);
  // One mask per output, from one (possibly null) mask per input.
  virtual std::vector<std::optional<Tensor>> compute_masks(const std::vector<const Tensor*>& inputs,
                                                           const std::vector<const Tensor*>& input_masks) const;
  // Keras calls merge layers on a list (layer([a, b])): their config's inbound node has one list argument.
  virtual bool takes_input_list() const { return false; }

  // The layer's weights, in Keras's order. A wrapper (Bidirectional, TimeDistributed) returns its inner
  // layers' Param objects themselves (see collect_params): one set of weights, shared, never copied.
  std::vector<Param*> params();
  std::vector<const Param*> params() const;
  Param* find_param(const std::string& weight_name);  // the first weight of that name
  int64_t count_params() const;
  int64_t count_trainable_params() const;
  // The weights an optimizer updates: those with Param::trainable while the layer is trainable (a nested model
  // asks each of its layers).
  std::vector<Param*> trainable_params();
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
  // forward() for an input given up by the caller (call(Tensor&&)). Default: forward(x, ctx).
  virtual Tensor forward_consuming(Tensor&& x, RunContext& ctx) { return forward(x, ctx); }
  // The same for several inputs or outputs. Default: one input, build_impl.
  virtual std::vector<Shape> build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng);
  // Creates a weight. Inside a WeightSharing scope (a second call of a shared layer, made by the layer graph)
  // it returns the next of the first call's weights instead, checked for name and shape: one set of weights,
  // one gradient sum.
  Param& add_weight(std::string weight_name, Shape shape, const Initializer& init, Rng& rng, bool trainable = true);
  Param& add_weight(std::string weight_name, Tensor initial_value, bool trainable = true);
  // Appends the weights that params(), count_params() and find_param() see. Default: the weights made
  // by add_weight. Wrappers override it to append their inner layers' params() (shared, not copied).
  // Must not modify the layer (the const params() calls it too).
  virtual void collect_params(std::vector<Param*>& out);
  virtual void collect_trainable_params(std::vector<Param*>& out);
  [[noreturn]] void fail(const std::string& what) const;  // throws Error prefixed with where()
  // RunContext::input_grad of the last call(): whether backward() must return the input gradient.
  bool input_grad_wanted() const { return input_grad_wanted_; }

 private:
  std::string name_;
  bool trainable_ = true;
  bool built_ = false;
  bool input_grad_wanted_ = true;
  std::vector<Shape> input_shapes_, output_shapes_;
  std::optional<Shape> declared_input_shape_;
  std::optional<int64_t> declared_batch_size_;
  std::vector<std::shared_ptr<Param>> params_;  // shared with the first call's layer in a WeightSharing scope
  std::shared_ptr<Param> adopt_weight(const std::string& weight_name, const Shape& shape);
};

using LayerPtr = std::shared_ptr<Layer>;

// A layer called more than once in a graph (a shared layer) runs each later call on a twin: a layer made
// from its config whose weights are the original's Param objects. Each call thus keeps its own activations
// for backward, and the gradients of all calls add up in the one set of weights. Layers built while a
// WeightSharing is alive take their weights, in creation order, from `owner` (see Layer::add_weight).
class WeightSharing {
 public:
  explicit WeightSharing(const LayerPtr& owner);
  ~WeightSharing();
  WeightSharing(const WeightSharing&) = delete;
  WeightSharing& operator=(const WeightSharing&) = delete;
  // Throws unless every weight of the owner was taken.
  void check_complete(const Layer& twin) const;

 private:
  friend class Layer;
  LayerPtr owner_;
  std::vector<Param*> weights_;
  size_t next_ = 0;
  WeightSharing* outer_;
};

// Keras-style unique names: "dense", "dense_1", "dense_2", ... (one counter per base name, per process).
std::string unique_layer_name(const std::string& base);
void clear_session();  // keras.backend.clear_session(): the name counters start over ("dense", "dense_1", ...)

// True when `got` fits `expected` (-1 in `expected` matches any size).
bool shape_compatible(const Shape& expected, const Shape& got);

}  // namespace seqnet
