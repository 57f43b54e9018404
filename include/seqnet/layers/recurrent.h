// Recurrent layers with Keras 3 semantics: SimpleRNN, LSTM, GRU (one RNN loop driving a per-step
// cell), and the wrappers Bidirectional and TimeDistributed. Trained by backpropagation through time.
//
//   auto lstm = layers::LSTM(32, {.return_sequences = true});
//   auto bi   = layers::Bidirectional(layers::LSTM(24, {.return_sequences = true}),
//                                     {.backward_layer = layers::GRU(16, {.return_sequences = true,
//                                                                         .go_backwards = true})});
//
// Input (batch, time, features). Output (batch, time, units) with return_sequences, else (batch, units).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seqnet/activations.h"
#include "seqnet/layer.h"

namespace seqnet {

class RNN;
class Embedding;
namespace testing {
void set_dropout_masks(RNN& layer, Tensor input_masks, Tensor recurrent_masks);
}

struct RecurrentTape;
namespace rnn {
class Cell;
}

// The arguments of Keras's SimpleRNN, LSTM and GRU, with Keras 3's defaults. Fields a layer does not
// have are ignored by it (recurrent_activation by SimpleRNN, unit_forget_bias outside LSTM, reset_after
// outside GRU). Designated initializers must follow this order.
struct RecurrentOptions {
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";  // LSTM, GRU
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer recurrent_initializer = "orthogonal";  // one orthogonal (u, G*u) matrix, as Keras
  Initializer bias_initializer = "zeros";
  bool unit_forget_bias = true;  // LSTM: the forget slice of the bias starts at 1.0
  bool reset_after = true;       // GRU: bias (2, 3u) when true, (3u) when false
  float dropout = 0.0f;          // input dropout, one (batch, features) mask per call, training only
  float recurrent_dropout = 0.0f;
  std::optional<int64_t> seed;   // kept for the config; masks come from RunContext::rng
  bool return_sequences = false;
  bool return_state = false;     // in a graph, the outputs are [output, h] ([output, h, c] for the LSTM)
  bool go_backwards = false;     // process the sequence last step first; the output sequence stays reversed
  bool stateful = false;         // the last states of a batch are the initial states of the next
  bool zero_output_for_mask = false;  // masked steps output 0 instead of the previous output
  std::string name;
  std::optional<Shape> input_shape;
};

// The RNN loop: time, masks, direction, dropout masks, initial and stateful state. Subclasses pick the cell.
class RNN : public Layer {
 public:
  ~RNN() override;
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  // An Embedding (no mask_zero) read by this layer, called as one (Model fuses the pair; docs/layers.md):
  // ids (batch, steps). The input projection is made once per distinct id of the batch and gathered per step
  // (the same values as after call()); backward() then adds the table's gradient into the embedding's weights
  // (when ctx.input_grad) and returns no input gradient. Under input dropout in training, and when the distinct
  // ids are more than 3/4 of the positions, this is call() of the looked-up rows, and backward() returns their
  // gradient.
  Tensor call_on_embedding(Embedding& embedding, const Tensor& ids, RunContext& ctx);
  Tensor backward(const Tensor& dy) override;
  // Keras: the input mask passes on only with return_sequences.
  std::optional<Tensor> compute_mask(const Tensor& input, const Tensor* input_mask) const override;
  Json get_config() const override;
  // In a graph: inputs [x] or [x, initial states...] (Keras's initial_state), outputs [y] or, with return_state,
  // [y, final states...]; gradients flow into the initial states and from the final states.
  std::vector<Tensor> forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) override;
  std::vector<Tensor> backward_multi(const std::vector<Tensor>& output_grads) override;
  std::vector<std::optional<Tensor>> compute_masks(const std::vector<const Tensor*>& inputs,
                                                   const std::vector<const Tensor*>& input_masks) const override;

  int64_t units() const { return units_; }
  const RecurrentOptions& options() const { return options_; }
  int num_states() const;  // 1, or 2 for the LSTM ([h, c])
  bool go_backwards() const { return options_.go_backwards; }
  bool return_sequences() const { return options_.return_sequences; }
  void set_zero_output_for_mask(bool z) { options_.zero_output_for_mask = z; }
  // A new layer of the same class with these options (fresh, unbuilt weights).
  virtual std::shared_ptr<RNN> clone(RecurrentOptions options) const = 0;

  // States after the last forward ([h] or [h, c], each (batch, units)): Keras's return_state outputs.
  const std::vector<Tensor>& final_states() const { return final_states_; }
  // Initial states for the following forward calls (Keras's initial_state); empty = zeros.
  void set_initial_state(std::vector<Tensor> states);
  const std::vector<Tensor>& initial_state() const { return initial_states_; }
  // d(loss)/d(initial states) of the last backward.
  const std::vector<Tensor>& initial_state_grads() const { return d_initial_; }
  // stateful=True: forget the carried states (Keras's reset_states()).
  void reset_states();
  // While on, each forward starts from the final states of the previous forward (when its batch size
  // matches) instead of initial_state / carried state / zeros: the next chunk of the same sequences.
  // Gradients do not flow into the previous call. fit(..., tbptt_steps=k) turns it on between chunks.
  void set_continue_state(bool on) { continue_state_ = on; }
  bool continue_state() const { return continue_state_; }
 protected:
  // Dropout masks for the next training forward instead of drawing them (empty = draw): a test hook, reached
  // through seqnet::testing::set_dropout_masks (seqnet/testing.h).
  void set_dropout_masks(Tensor input_masks, Tensor recurrent_masks);
  friend void testing::set_dropout_masks(RNN& layer, Tensor input_masks, Tensor recurrent_masks);

  RNN(int64_t units, RecurrentOptions options, const std::string& snake_name);
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  std::vector<Shape> build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng) override;
  void init_cell();  // called by subclass constructors: checks the options, makes the cell
  virtual std::unique_ptr<rnn::Cell> make_cell() const = 0;
  virtual Shape bias_shape() const;
  virtual Tensor initial_bias(Rng& rng) const;
  Json base_config() const;  // the keys every Keras RNN layer writes

  int64_t units_;
  RecurrentOptions options_;
  Activation activation_, recurrent_activation_;

 private:
  std::unique_ptr<rnn::Cell> cell_;
  std::unique_ptr<RecurrentTape> tape_;  // what the last forward keeps for backward (backend/recurrent.h)
  Tensor fixed_in_masks_, fixed_rec_masks_;
  std::vector<Tensor> final_states_, initial_states_, carried_states_, d_initial_;
  bool continue_state_ = false;
  size_t state_inputs_ = 0;  // initial states given as inputs in the last forward_multi
  // The last call_on_embedding, when it fused: the embedding's table, the batch's distinct ids and each
  // position's index into them (slots_, (batch, steps)); unique_ and seen_ are distinct_ids' scratch.
  Param* fused_table_ = nullptr;
  Tensor distinct_ids_, unique_, slots_, seen_;
  // forward() from x (batch, steps, in), or from the rows of call_on_embedding (slots_ their positions).
  Tensor forward_impl(const Tensor* x, const Tensor* rows, int64_t batch, int64_t steps, RunContext& ctx);
  // Backward from dL/dy (null: none reached the output) and dL/d(final states) (empty: none).
  Tensor backward_impl(const Tensor* dy, const std::vector<Tensor>& d_final);
};

class SimpleRNN : public RNN {
 public:
  SimpleRNN(int64_t units, RecurrentOptions options = {});
  std::string class_name() const override { return "SimpleRNN"; }
  std::shared_ptr<RNN> clone(RecurrentOptions options) const override;
  Json get_config() const override;

 protected:
  std::unique_ptr<rnn::Cell> make_cell() const override;
};

// kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u); gates i, f, c, o.
class LSTM : public RNN {
 public:
  LSTM(int64_t units, RecurrentOptions options = {});
  std::string class_name() const override { return "LSTM"; }
  std::shared_ptr<RNN> clone(RecurrentOptions options) const override;
  Json get_config() const override;

 protected:
  std::unique_ptr<rnn::Cell> make_cell() const override;
  Tensor initial_bias(Rng& rng) const override;
};

// kernel (in, 3u), recurrent_kernel (u, 3u); bias (2, 3u) [input row, recurrent row] with reset_after,
// else (3u); gates z, r, h.
class GRU : public RNN {
 public:
  GRU(int64_t units, RecurrentOptions options = {});
  std::string class_name() const override { return "GRU"; }
  std::shared_ptr<RNN> clone(RecurrentOptions options) const override;
  Json get_config() const override;

 protected:
  std::unique_ptr<rnn::Cell> make_cell() const override;
  Shape bias_shape() const override;
};

enum class MergeMode { concat, sum, ave, mul };
MergeMode merge_mode_from_name(const std::string& name);  // "concat" | "sum" | "ave" | "mul"
const char* merge_mode_name(MergeMode m);

struct BidirectionalOptions {
  std::string merge_mode = "concat";
  std::shared_ptr<RNN> backward_layer;  // null: a copy of the layer with go_backwards flipped
  std::string name;
  std::optional<Shape> input_shape;
};

// Runs a forward and a backward RNN over the same input and merges their outputs. The backward layer
// may be of another class and size (forward LSTM(24), backward GRU(16)): concat is then 24 + 16 = 40
// wide. (Keras 3 reports forward_units*2 in compute_output_shape here, keras#23688; seqnet is right.)
// params() are the forward layer's Param objects, then the backward layer's (shared, not copied).
class Bidirectional : public Layer {
 public:
  Bidirectional(std::shared_ptr<RNN> layer, BidirectionalOptions options = {});
  std::string class_name() const override { return "Bidirectional"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  std::optional<Tensor> compute_mask(const Tensor& input, const Tensor* input_mask) const override;
  // In a graph: inputs [x] or [x, forward layer's initial states..., backward layer's...] (Keras splits
  // initial_state in halves); with return_state the outputs are [y, forward final states..., backward's...].
  std::vector<Tensor> forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) override;
  std::vector<Tensor> backward_multi(const std::vector<Tensor>& output_grads) override;
  std::vector<std::optional<Tensor>> compute_masks(const std::vector<const Tensor*>& inputs,
                                                   const std::vector<const Tensor*>& input_masks) const override;
  Json get_config() const override;
  RNN& forward_layer() { return *forward_; }
  RNN& backward_layer() { return *backward_; }
  MergeMode merge_mode() const { return merge_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  std::vector<Shape> build_multi_impl(const std::vector<Shape>& input_shapes, Rng& rng) override;
  void collect_params(std::vector<Param*>& out) override;

 private:
  // dy may be empty (only the states' gradients reach the layer); d_final: the final states' gradients.
  Tensor backward_impl(const Tensor& dy, const std::vector<Tensor>& d_final);
  std::shared_ptr<RNN> forward_, backward_;
  size_t state_inputs_ = 0;  // initial states given to the last forward_multi
  bool ran_forward_ = true, ran_backward_ = true;  // which directions the last backward reached
  bool backward_given_;
  MergeMode merge_;
  Tensor yf_, yb_;  // sublayer outputs of the last forward (backward one in time order)
  bool parallel_ = false;  // the last forward ran the two directions on two threads; backward does too
};

// Applies `layer` to every time step: (batch, time, ...) -> (batch, time, ...'). The inner layer sees
// (batch*time, ...); the input mask passes through. params() are the inner layer's Param objects.
class TimeDistributed : public Layer {
 public:
  explicit TimeDistributed(LayerPtr layer, std::string name = "");
  std::string class_name() const override { return "TimeDistributed"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;
  Json get_config() const override;
  Layer& layer() { return *inner_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;
  void collect_params(std::vector<Param*>& out) override;

 private:
  LayerPtr inner_;
  Shape last_input_shape_;
};

// Keras's Masking(mask_value=0.0): a step (the last axis of one position) whose values all equal
// mask_value is masked. The output is the input with masked steps set to 0; the mask it passes on is
// any(x != mask_value, axis=-1), shape input[:-1] ((batch, time) for sequences), whatever mask came in.
class Masking : public Layer {
 public:
  explicit Masking(float mask_value = 0.0f, std::string name = "");
  std::string class_name() const override { return "Masking"; }
  Tensor forward(const Tensor& x, RunContext& ctx) override;
  Tensor backward(const Tensor& dy) override;  // dy where the step is kept, 0 at masked steps
  std::optional<Tensor> compute_mask(const Tensor& input, const Tensor* input_mask) const override;
  Json get_config() const override;
  float mask_value() const { return mask_value_; }

 protected:
  Shape build_impl(const Shape& input_shape, Rng& rng) override;

 private:
  float mask_value_;
  Tensor keep_;  // (rows) 0/1 per step of the last forward
};

namespace layers {
inline LayerPtr Masking(float mask_value = 0.0f, std::string name = "") {
  return std::make_shared<seqnet::Masking>(mask_value, std::move(name));
}
inline std::shared_ptr<seqnet::SimpleRNN> SimpleRNN(int64_t units, RecurrentOptions o = {}) {
  return std::make_shared<seqnet::SimpleRNN>(units, std::move(o));
}
inline std::shared_ptr<seqnet::LSTM> LSTM(int64_t units, RecurrentOptions o = {}) {
  return std::make_shared<seqnet::LSTM>(units, std::move(o));
}
inline std::shared_ptr<seqnet::GRU> GRU(int64_t units, RecurrentOptions o = {}) {
  return std::make_shared<seqnet::GRU>(units, std::move(o));
}
inline LayerPtr Bidirectional(std::shared_ptr<RNN> layer, BidirectionalOptions o = {}) {
  return std::make_shared<seqnet::Bidirectional>(std::move(layer), std::move(o));
}
inline LayerPtr TimeDistributed(LayerPtr layer, std::string name = "") {
  return std::make_shared<seqnet::TimeDistributed>(std::move(layer), std::move(name));
}
}  // namespace layers

}  // namespace seqnet
