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

class LogitsLayer;
class Batches;  // fit's batches (src/model/fit.cpp)
struct Arrays;
namespace detail {
// Inputs and targets without copies: what the training loop reads (src/model/fit.cpp).
struct ArraysRef {
  std::vector<const Tensor*> x, y;
  ArraysRef(const Arrays& a);  // NOLINT: a view of any Arrays
  ArraysRef(const Tensor& x_, const Tensor& y_) : x{&x_}, y{&y_} {}
};
}  // namespace detail

// ---- functional API: a graph of layer calls ----
struct GraphNode;
// The symbolic result of Input() or of calling a layer on symbolic tensors: output `index` of a node.
class SymbolicTensor {
 public:
  SymbolicTensor() = default;
  explicit SymbolicTensor(std::shared_ptr<GraphNode> node, int index = 0) : node_(std::move(node)), index_(index) {}
  const Shape& shape() const;
  DType dtype() const;
  const std::shared_ptr<GraphNode>& node() const { return node_; }
  int index() const { return index_; }

 private:
  std::shared_ptr<GraphNode> node_;
  int index_ = 0;
};

// One call of a layer (Keras's Node), or an Input.
struct GraphNode {
  LayerPtr layer;                      // null for an Input node
  std::vector<SymbolicTensor> inputs;  // the call's first argument (one tensor, or a merge's list), then initial_state
  size_t first_argument = 0;           // how many of `inputs` are the first argument
  bool argument_is_list = false;       // the first argument was a list (merge layers)
  std::vector<Shape> shapes;           // one per output, with the batch axis (-1 = None)
  DType dtype = DType::float32;        // an Input's
  std::string input_name;              // the InputLayer's name, for Input nodes
  // A later call of a layer already called in the graph runs on a twin sharing its weights (WeightSharing);
  // made when the call's shapes differ from the first call's, else by the model that runs it twice.
  LayerPtr twin;
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
// layer([a, b, ...]): a merge layer's call.
SymbolicTensor apply_layer(const LayerPtr& layer, const std::vector<SymbolicTensor>& xs);
inline SymbolicTensor operator|(const SymbolicTensor& x, const LayerPtr& layer) { return apply_layer(layer, x); }
// Keras's call arguments beyond the input.
struct CallOptions {
  std::vector<SymbolicTensor> initial_state;  // recurrent layers: [h] or [h, c]
};
// The general call: every output (a recurrent layer's [output, h, c] with return_state).
std::vector<SymbolicTensor> call_layer(const LayerPtr& layer, const SymbolicTensor& x, CallOptions options = {});
std::vector<SymbolicTensor> call_layer(const LayerPtr& layer, const std::vector<SymbolicTensor>& xs,
                                       CallOptions options = {});

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
  LossRef loss;                        // one loss for every output
  std::vector<std::string> metrics;    // a model of one output; with several, metrics_per_output
  // Models of several outputs (in the order of the model's outputs): a loss each instead of `loss`, the weights
  // of their sum (default 1 each), and the metrics of each. Logged as "<output>_loss", "<output>_<metric>".
  std::vector<LossRef> losses;
  std::vector<double> loss_weights;
  std::vector<std::vector<std::string>> metrics_per_output;
};

// Inputs and targets of a model: one tensor per model input, one per output.
struct Arrays {
  std::vector<Tensor> x, y;
  Arrays(Tensor x_, Tensor y_) : x{std::move(x_)}, y{std::move(y_)} {}
  Arrays(std::vector<Tensor> x_, std::vector<Tensor> y_) : x(std::move(x_)), y(std::move(y_)) {}
  Arrays(const std::pair<Tensor, Tensor>& xy) : x{xy.first}, y{xy.second} {}  // NOLINT: Keras's (x, y) tuple
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
  double validation_split = 0.0;  // the last fraction of x and y, taken before shuffling (as Keras, in double)
  std::optional<Arrays> validation_data;
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
  Model(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs, std::string name = "");
  virtual ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const { return name_; }
  virtual std::string class_name() const { return "Functional"; }
  bool built() const { return !steps_.empty(); }
  // Every layer once, in Keras's order (by depth from the inputs; see order_like_keras).
  std::vector<LayerPtr> layers() const;
  // Keras 3's functional model.layers: the same with the InputLayers in their places (a null layer and the
  // input's name).
  std::vector<std::pair<std::string, LayerPtr>> layers_with_inputs() const;
  // The same graph over twins of its layers, which share this model's weights: a model used as a layer called
  // more than once (each call keeps its own activations; every gradient adds into the one set of weights).
  std::shared_ptr<Model> twin_sharing_weights() const;
  LayerPtr get_layer(const std::string& name) const;
  size_t num_inputs() const { return input_steps_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  const Shape& input_shape(size_t i = 0) const;
  const Shape& output_shape(size_t i = 0) const;
  DType input_dtype(size_t i = 0) const;
  // Keras's model.input_names / output_names: the Input layers' names; the names of the layers giving the outputs.
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;

  void compile(CompileOptions options);
  bool compiled() const { return !losses_.empty(); }
  const LossPtr& loss() const { return losses_.at(0); }
  const std::vector<LossPtr>& losses() const { return losses_; }  // one per output
  const std::vector<double>& loss_weights() const { return loss_weights_; }
  size_t metric_output(size_t k) const { return metric_output_.at(k); }  // the output metrics()[k] reads
  const OptimizerPtr& optimizer() const { return optimizer_; }
  const std::vector<MetricPtr>& metrics() const { return metrics_; }

  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  History fit(const Arrays& data, FitOptions options = {});  // several inputs or outputs
  History fit(BatchSource& train, FitOptions options);
  Logs evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options = {});
  Logs evaluate(const Arrays& data, EvaluateOptions options = {});
  // `steps` batches from a source (the book's validation and test generators).
  Logs evaluate(BatchSource& source, int64_t steps);
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  std::vector<Tensor> predict(const std::vector<Tensor>& x, int64_t batch_size = 32);  // one per output

  // Lower level: one training step on a batch (forward, loss, backward, optimizer); returns the loss.
  double train_on_batch(const Tensor& x, const Tensor& y);
  double train_on_batch(const Arrays& batch);
  Tensor forward(const Tensor& x, ForwardOptions options = {});  // a model of one input and one output
  std::vector<Tensor> forward(const std::vector<Tensor>& x, ForwardOptions options = {});
  // Backward from dLoss/dOutput (a model of one output); accumulates into every parameter's grad. Returns
  // dLoss/dInput of the first input (empty when the forward was told input_grad = false, or for integer ids).
  Tensor backward(const Tensor& dy);
  // One gradient per output (empty: none reaches it); returns one per input. Where a tensor feeds several
  // layers, their gradients add up.
  std::vector<Tensor> backward(const std::vector<Tensor>& dy);
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
  friend class NestedModel;
  std::vector<Tensor> forward_inputs(const std::vector<const Tensor*>& x, ForwardOptions options, Rng* rng = nullptr);
  void set_graph(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs);
  virtual bool is_sequential() const { return false; }
  friend std::string summary_table(const Model&, int);

  // One call of a layer in execution order (or a model input).
  struct TensorRef {
    int step = -1;
    int index = 0;
    bool operator==(const TensorRef&) const = default;
  };
  struct Step {
    LayerPtr layer;                 // null for an input
    Layer* runner = nullptr;        // the layer, or for a later call of a shared layer its twin
    std::vector<TensorRef> inputs;  // the call's tensors (first argument, then initial_state)
    std::shared_ptr<GraphNode> node;
    int call_index = 0;             // this call's number among the layer's calls in this model
    int input_slot = -1;            // an input: which of the model's inputs
  };
  const Shape& shape_of(TensorRef t) const { return steps_[size_t(t.step)].node->shapes[size_t(t.index)]; }
  std::string name_;
  std::vector<Step> steps_;           // topological order
  std::vector<int> input_steps_;      // the model's inputs, in order
  std::vector<TensorRef> outputs_;    // the model's outputs, in order
  std::vector<LayerPtr> layer_order_; // every layer once, in Keras's model.layers order
  std::vector<int> keras_steps_;      // inputs and layers' first calls in Keras's model.layers order
  void order_like_keras();
  // The flat layout of values: step s's outputs are slots slot_of_[s] ..; slot_of_.back() is their count.
  std::vector<size_t> slot_of_;
  std::vector<int> reader_count_;           // per slot: the calls reading it, plus the model outputs it is
  std::vector<char> has_trainable_weights_;  // per step: the layer has a weight with Param::trainable
  // Per step: for a Conv1D or a recurrent layer that reads an Embedding's output and nothing else does, the
  // Embedding's step (the pair runs as its call_on_embedding, and the Embedding's own step passes its ids on);
  // else -1.
  std::vector<int> embedding_of_;
  std::vector<char> passes_ids_;  // per step: an Embedding whose reader looks its rows up (embedding_of_)
  void find_fusable_pairs();
  struct Scratch {  // forward's and backward's working arrays, kept so each call reuses their memory
    std::vector<Tensor> owned, grads, logits_grad;
    std::vector<const Tensor*> value, ins, in_masks;
    std::vector<std::optional<Tensor>> masks;
    std::vector<int> readers;
    std::vector<char> grad_flows;
  } scratch_;

 private:
  using ArraysRef = detail::ArraysRef;
  struct Validation;
  History fit_loop(Batches& train, int64_t steps_per_epoch, FitOptions& options, const Validation& validation);
  // One optimizer step on a global batch; under MPI this rank computes its shard and the gradients are
  // averaged over ranks. Returns the batch loss (over the whole global batch).
  double train_step(const ArraysRef& batch);
  // train_step over chunks of k steps (src/model/tbptt.cpp); returns the batch loss.
  double tbptt_step(const Tensor& x, const Tensor& y, int64_t k);
  // Adds up the metrics' running sums over ranks (identity on one rank).
  void reduce_metrics();
  void check_xy(const ArraysRef& data, const char* what) const;
  double loss_and_backward(const ArraysRef& batch, bool update_metrics);
  Logs evaluate_ref(const ArraysRef& data, EvaluateOptions options);
  std::vector<Tensor> predict_ref(const std::vector<const Tensor*>& x, int64_t batch_size);
  History fit_ref(const ArraysRef& data, FitOptions options);
  // The weighted loss of a batch's predictions, each output's loss into `per_output`; with `grads`, dLoss/dOutput.
  double compute_loss(const std::vector<Tensor>& pred, const std::vector<const Tensor*>& y, std::vector<double>& per_output);
  void update_metrics(const std::vector<Tensor>& pred, const std::vector<const Tensor*>& y);
  void set_metric_logs(Logs& logs, double loss, const std::vector<double>& output_losses) const;
  // Backward from output gradients; logits[i]: gradient i is dLoss/dLogits of the output's LogitsLayer.
  std::vector<Tensor> backward_graph(std::vector<Tensor> output_grads, const std::vector<bool>& logits);
  // Whether output i's loss can take the fused logits path (its LogitsLayer's output feeds nothing else).
  LogitsLayer* fusable_output(size_t i) const;

  std::vector<LossPtr> losses_;     // one per output
  std::vector<double> loss_weights_;
  OptimizerPtr optimizer_;
  std::vector<MetricPtr> metrics_;  // all outputs' metrics
  std::vector<size_t> metric_output_;  // which output each metric reads
  std::vector<double> batch_output_losses_;  // each output's loss in the last training step
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

// A model called as a layer of another model (Keras: a Functional or Sequential model used like a layer). Its
// weights are the inner model's; its Keras config is the inner model's config, read back as a nested model.
class NestedModel : public Layer {
 public:
  explicit NestedModel(std::shared_ptr<Model> model);
  std::string class_name() const override { return model_->class_name(); }
  const std::shared_ptr<Model>& model() const { return model_; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Tensor> forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) override;
  std::vector<Tensor> backward_multi(const std::vector<Tensor>& output_grads) override;
  std::vector<std::optional<Tensor>> compute_masks(const std::vector<const Tensor*>& inputs,
                                                   const std::vector<const Tensor*>& input_masks) const override;
  Json get_config() const override;  // the inner model's config ({"name", "layers", "input_layers", ...})

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  std::vector<Shape> build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng) override;
  void collect_params(std::vector<Param*>& out) override;
  void collect_trainable_params(std::vector<Param*>& out) override;

 private:
  std::shared_ptr<Model> model_;
};
// keras: outer = Model(x, inner(x)) is apply_layer(as_layer(inner), x).
inline LayerPtr as_layer(std::shared_ptr<Model> model) { return std::make_shared<NestedModel>(std::move(model)); }

// Builds a Sequential lazily from the first batch when no input shape was ever given.
void ensure_built(Model& model, const Tensor& x);
// The same with the time axis (axis 1) left unknown, for fit(..., tbptt_steps=k), which calls the
// model on k-step chunks.
void ensure_built_variable_length(Model& model, const Tensor& x);

}  // namespace seqnet
