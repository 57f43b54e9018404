// Models: the functional graph (Input -> layers -> Model) and Sequential, with compile / fit /
// evaluate / predict and Keras's summary().
#pragma once
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seqnet/callbacks.h"
#include "seqnet/layer.h"
#include "seqnet/losses.h"
#include "seqnet/metrics.h"
#include "seqnet/optimizers.h"

namespace seqnet {

// ---- functional API ----
struct GraphNode;
// The symbolic result of Input() or of applying a layer to a symbolic tensor.
class SymbolicTensor {
 public:
  SymbolicTensor() = default;
  explicit SymbolicTensor(std::shared_ptr<GraphNode> node) : node_(std::move(node)) {}
  const Shape& shape() const;
  const std::shared_ptr<GraphNode>& node() const { return node_; }

 private:
  std::shared_ptr<GraphNode> node_;
};

struct GraphNode {
  LayerPtr layer;                          // null for an Input node
  std::shared_ptr<GraphNode> input;        // null for an Input node
  Shape shape;                             // with the batch axis (-1 = None)
  DType dtype = DType::float32;
  std::string input_name;                  // the InputLayer's name, for Input nodes
};

struct InputOptions {
  DType dtype = DType::float32;
  std::optional<int64_t> batch_size;
  std::string name;
};
// keras.Input(shape): `shape` excludes the batch axis; -1 marks an unknown length.
SymbolicTensor Input(Shape shape, InputOptions options = {});
// layer(x) in Keras: builds the layer for x's shape and returns the symbolic output.
SymbolicTensor apply_layer(const LayerPtr& layer, const SymbolicTensor& x);
inline SymbolicTensor operator|(const SymbolicTensor& x, const LayerPtr& layer) { return apply_layer(layer, x); }

// Seeds the generator that initializes weights (keras.utils.set_random_seed).
void set_random_seed(uint64_t seed);
Rng& global_rng();

// ---- compile / fit options ----
class OptimizerRef {
 public:
  OptimizerRef(const char* name) : name_(name) {}
  OptimizerRef(std::string name) : name_(std::move(name)) {}
  OptimizerRef(OptimizerPtr opt) : ptr_(std::move(opt)) {}
  OptimizerPtr resolve() const;

 private:
  std::string name_;
  OptimizerPtr ptr_;
};

class LossRef {
 public:
  LossRef() = default;
  LossRef(const char* name) : name_(name) {}
  LossRef(std::string name) : name_(std::move(name)) {}
  LossRef(LossPtr loss) : ptr_(std::move(loss)) {}
  LossPtr resolve() const;

 private:
  std::string name_;
  LossPtr ptr_;
};

struct CompileOptions {
  OptimizerRef optimizer = "rmsprop";  // Keras's default
  LossRef loss;
  std::vector<std::string> metrics;
};

// A source of batches, as the book's Python generators are used with fit(steps_per_epoch=...).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::pair<Tensor, Tensor> next_batch() = 0;
};

struct FitOptions {
  int64_t batch_size = 32;
  int epochs = 1;
  int verbose = 1;  // 0 silent, 1 progress bar, 2 one line per epoch
  float validation_split = 0.0f;  // the last fraction of x and y, taken before shuffling (as Keras)
  std::optional<std::pair<Tensor, Tensor>> validation_data;
  bool shuffle = true;
  int initial_epoch = 0;
  std::vector<CallbackPtr> callbacks;
  // For fit(BatchSource&): batches per epoch and the validation source.
  int64_t steps_per_epoch = 0;
  BatchSource* validation_source = nullptr;
  int64_t validation_steps = 0;
  // Truncated BPTT (0 = full BPTT): each batch's sequences are cut into chunks of tbptt_steps steps
  // along axis 1; recurrent states carry from chunk to chunk, gradients stay within a chunk, and each
  // chunk that sees the loss takes one optimizer step. See docs/layers.md, "Truncated BPTT".
  int64_t tbptt_steps = 0;
};

struct EvaluateOptions {
  int64_t batch_size = 32;
  int verbose = 0;
};

// What Model::forward is called for.
struct ForwardOptions {
  bool training = false;          // dropout on, and what training-mode layers do
  bool keep_for_backward = true;  // false (predict, evaluate): layers may drop what only backward reads
  bool input_grad = true;         // false: the next backward() may skip dLoss/dInput (a training step discards it)
};

class Model {
 public:
  Model(const SymbolicTensor& inputs, const SymbolicTensor& outputs, std::string name = "");
  virtual ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const { return name_; }
  virtual std::string class_name() const { return "Functional"; }
  bool built() const { return !nodes_.empty(); }
  std::vector<LayerPtr> layers() const;
  LayerPtr get_layer(const std::string& name) const;
  const Shape& input_shape() const;
  const Shape& output_shape() const;
  DType input_dtype() const;

  void compile(CompileOptions options);
  bool compiled() const { return loss_ != nullptr; }
  const LossPtr& loss() const { return loss_; }
  const OptimizerPtr& optimizer() const { return optimizer_; }
  const std::vector<MetricPtr>& metrics() const { return metrics_; }

  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  History fit(BatchSource& train, FitOptions options);
  Logs evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options = {});
  // `steps` batches from a source (the book's validation and test generators).
  Logs evaluate(BatchSource& source, int64_t steps);
  Tensor predict(const Tensor& x, int64_t batch_size = 32);

  // Lower level: one training step on a batch (forward, loss, backward, optimizer); returns the loss.
  double train_on_batch(const Tensor& x, const Tensor& y);
  Tensor forward(const Tensor& x, ForwardOptions options = {});
  // Backward from dLoss/dOutput; accumulates into every parameter's grad. Returns dLoss/dInput (empty when
  // the forward was told input_grad = false, or when the input is integer ids).
  Tensor backward(const Tensor& dy);
  void zero_grads();

  std::vector<Param*> params();
  std::vector<Param*> trainable_params();
  int64_t count_params() const;
  int64_t count_trainable_params() const;

  // Keras 3's summary table. line_length <= 0 picks Keras's default width.
  std::string summary_string(int line_length = 0) const;
  void summary(int line_length = 0) const;
  // Keras's model.to_json() (Keras 3 format).
  std::string to_json(int indent = -1) const;

  // Copies of every weight (trainable or not), layer by layer in model order; set_weights checks
  // count and shapes. What EarlyStopping(restore_best_weights) snapshots.
  std::vector<Tensor> get_weights() const;
  void set_weights(const std::vector<Tensor>& weights);
  // Keras files (seqnet/saving.h): .keras (or legacy .h5) with the optimizer state; .weights.h5.
  void save(const std::string& path);
  void save_weights(const std::string& path);
  void load_weights(const std::string& path);
  // Epochs trained so far (set by fit after each epoch, kept in saved models): resume with
  // fit(x, y, {.epochs = N, .initial_epoch = model.epochs_completed}).
  int epochs_completed = 0;

  bool stop_training = false;
  Rng& rng() { return rng_; }                  // dropout masks
  Rng& shuffle_rng() { return shuffle_rng_; }  // fit()'s shuffling
  // Seeds this model's streams: the shuffling of fit() and the dropout masks (kept apart so that the
  // ranks of a data-parallel run shuffle alike while each draws its own masks).
  void set_seed(uint64_t seed) {
    rng_ = Rng(seed);
    shuffle_rng_ = Rng(seed ^ 0x5eed5eed5eed5eedULL);
  }

 protected:
  explicit Model(std::string name);
  void set_graph(const SymbolicTensor& inputs, const SymbolicTensor& outputs);
  virtual bool is_sequential() const { return false; }
  friend std::string summary_table(const Model&, int);

  struct Step {
    LayerPtr layer;  // null for the input
    int input = -1;  // index into steps_
    Shape shape;
  };
  std::string name_;
  std::vector<Step> nodes_;  // topological order; nodes_[0] is the input
  std::string input_name_;
  DType input_dtype_ = DType::float32;

 private:
  struct Validation;
  History fit_loop(BatchSource& train, int64_t steps_per_epoch, FitOptions& options, const Validation& validation);
  // One optimizer step on a global batch; under MPI this rank computes its shard and the gradients are
  // averaged over ranks. Returns the batch loss (over the whole global batch).
  double train_step(const Tensor& x, const Tensor& y);
  // train_step over chunks of k steps (src/model/tbptt.cpp); returns the batch loss.
  double tbptt_step(const Tensor& x, const Tensor& y, int64_t k);
  // Adds up the metrics' running sums over ranks (identity on one rank).
  void reduce_metrics();
  void check_xy(const Tensor& x, const Tensor& y, const char* what) const;
  double loss_and_backward(const Tensor& x, const Tensor& y, bool update_metrics);
  // Backward through the layers before node `node` (nodes_.size(): all of them), from the gradient of its input.
  Tensor backward_below(size_t node, Tensor grad);

  LossPtr loss_;
  OptimizerPtr optimizer_;
  std::vector<MetricPtr> metrics_;
  Rng rng_, shuffle_rng_;
};

class Sequential : public Model {
 public:
  explicit Sequential(std::string name = "");
  explicit Sequential(std::vector<LayerPtr> layers, std::string name = "");
  std::string class_name() const override { return "Sequential"; }
  // Adds a layer; builds the model as soon as the input shape is known (from Input, input_shape or input_length).
  void add(LayerPtr layer);
  void add(const SymbolicTensor& input);  // keras.Input as the first element
  // Builds for an input shape without the batch axis (Keras's model.build((None, ...)) minus the None).
  void build(Shape input_shape, DType dtype = DType::float32);
  const std::vector<LayerPtr>& sequential_layers() const { return layers_; }

 protected:
  bool is_sequential() const override { return true; }

 private:
  std::vector<LayerPtr> layers_;
  std::optional<SymbolicTensor> input_;
  friend class Model;
};

// Builds a Sequential lazily from the first batch when no input shape was ever given.
void ensure_built(Model& model, const Tensor& x);
// The same with the time axis (axis 1) left unknown, for fit(..., tbptt_steps=k), which calls the
// model on k-step chunks.
void ensure_built_variable_length(Model& model, const Tensor& x);

}  // namespace seqnet
