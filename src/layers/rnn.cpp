// SimpleRNN, LSTM and GRU: Keras's RNN layer over a cell. The layer owns the options, the weights, the dropout
// masks it draws, and which states a call starts from (initial_state, stateful, a TBPTT chunk); the loop over
// time is the backend's recurrent op (src/backend/recurrent_loop.cpp), each step the cell's
// (src/backend/recurrent_cells.cpp).
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

#include "backend/recurrent.h"
#include "io/layer_registry.h"
#include "layers/embedding_reader.h"
#include "seqnet/layers/recurrent.h"

namespace seqnet {

RNN::RNN(int64_t units, RecurrentOptions options, const std::string& snake_name)
    : Layer(options.name, snake_name), units_(units), options_(std::move(options)),
      activation_(activation_from_name(options_.activation)),
      recurrent_activation_(activation_from_name(options_.recurrent_activation)) {
  if (options_.input_shape) set_declared_input_shape(*options_.input_shape);
}

RNN::~RNN() = default;

// The checks live here, not in RNN's constructor: their messages name the class, a virtual call that is
// only valid once the subclass is being constructed.
void RNN::init_cell() {
  if (units_ <= 0) fail(fmt::format("units must be positive, got {}", units_));
  if (options_.dropout < 0 || options_.dropout >= 1) fail(fmt::format("dropout must be in [0, 1), got {}", options_.dropout));
  if (options_.recurrent_dropout < 0 || options_.recurrent_dropout >= 1)
    fail(fmt::format("recurrent_dropout must be in [0, 1), got {}", options_.recurrent_dropout));
  validate_initializer(options_.kernel_initializer);
  validate_initializer(options_.recurrent_initializer);
  validate_initializer(options_.bias_initializer);
  cell_ = make_cell();
  // The weights' shapes multiply units by the gate count; a product past int64 is no shape (Tensor refuses
  // the ones that fit in int64 but not in memory).
  if (units_ > std::numeric_limits<int64_t>::max() / cell_->gates())
    fail(fmt::format("units = {} is too large: {} gates of it overflow a tensor's size", units_, cell_->gates()));
  tape_ = std::make_unique<RecurrentTape>();
}
int RNN::num_states() const { return cell_->states(); }

Shape RNN::bias_shape() const { return {cell_->gates() * units_}; }
Tensor RNN::initial_bias(Rng& rng) const { return initialize(options_.bias_initializer, bias_shape(), rng); }

Shape RNN::build_impl(const Shape& in, Rng& rng) {
  if (in.size() != 3) fail("expects input of rank 3 (batch, time, features), got " + shape_to_string(in));
  if (in[2] < 0) fail("the feature axis of the input must be known, got " + shape_to_string(in));
  if (options_.stateful && in[0] < 0)
    fail("stateful=True needs a fixed batch size: give the Input a batch_size (Keras: batch_shape)");
  const int64_t G = cell_->gates();
  add_weight("kernel", {in[2], G * units_}, options_.kernel_initializer, rng);
  add_weight("recurrent_kernel", {units_, G * units_}, options_.recurrent_initializer, rng);
  if (options_.use_bias) add_weight("bias", initial_bias(rng));
  if (options_.return_sequences) return {in[0], in[1], units_};
  return {in[0], units_};
}

std::vector<Shape> RNN::build_multi_impl(const std::vector<Shape>& in, Rng& rng) {
  const size_t S = size_t(num_states());
  if (in.size() != 1 && in.size() != 1 + S)
    fail(fmt::format("takes its input and, as initial_state, {} state tensors; got {} tensors", S, in.size()));
  for (size_t input = 1; input < in.size(); ++input) {
    const Shape& shape = in[input];
    if (shape.size() != 2 || (shape[1] >= 0 && shape[1] != units_))
      fail(fmt::format("initial state {} must have shape (batch, {}), got {}", input - 1, units_, shape_to_string(shape)));
  }
  std::vector<Shape> out{build_impl(in[0], rng)};
  if (options_.return_state)
    for (size_t k = 0; k < S; ++k) out.push_back({in[0][0], units_});
  return out;
}

std::vector<Tensor> RNN::forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) {
  state_inputs_ = inputs.size() - 1;
  Tensor y;
  if (state_inputs_ > 0) {
    // The states given to this call, not to the calls after it (set_initial_state's).
    std::vector<Tensor> kept = std::move(initial_states_);
    initial_states_.clear();
    for (size_t input = 1; input < inputs.size(); ++input) initial_states_.push_back(*inputs[input]);
    try {
      y = forward(*inputs[0], ctx);
    } catch (...) {
      initial_states_ = std::move(kept);
      throw;
    }
    initial_states_ = std::move(kept);
  } else {
    y = forward(*inputs[0], ctx);
  }
  std::vector<Tensor> out{std::move(y)};
  if (options_.return_state)
    for (const Tensor& s : final_states_) out.push_back(s);
  return out;
}

std::vector<Tensor> RNN::backward_multi(const std::vector<Tensor>& grads) {
  const size_t n_out = options_.return_state ? 1 + size_t(num_states()) : 1;
  if (grads.size() != n_out) fail(fmt::format("backward got {} gradients for {} outputs", grads.size(), n_out));
  std::vector<Tensor> d_final;
  bool any = !grads[0].empty();
  for (size_t output = 1; output < grads.size(); ++output) {
    d_final.push_back(grads[output]);
    any = any || !grads[output].empty();
  }
  std::vector<Tensor> out(1 + state_inputs_);
  if (!any) return out;
  out[0] = backward_impl(grads[0].empty() ? nullptr : &grads[0], d_final);
  for (size_t state = 0; state < state_inputs_; ++state) out[1 + state] = d_initial_[state];
  return out;
}

std::vector<std::optional<Tensor>> RNN::compute_masks(const std::vector<const Tensor*>& inputs,
                                                      const std::vector<const Tensor*>& masks) const {
  std::vector<std::optional<Tensor>> out{compute_mask(*inputs[0], masks.empty() ? nullptr : masks[0])};
  if (options_.return_state) out.resize(1 + size_t(num_states()));  // states carry no mask
  return out;
}

std::optional<Tensor> RNN::compute_mask(const Tensor&, const Tensor* input_mask) const {
  if (!input_mask || !options_.return_sequences) return std::nullopt;
  return *input_mask;
}

void RNN::set_initial_state(std::vector<Tensor> states) {
  if (!states.empty() && int(states.size()) != num_states())
    fail(fmt::format("initial_state needs {} tensors, got {}", num_states(), states.size()));
  initial_states_ = std::move(states);
}

void RNN::reset_states() { carried_states_.clear(); }

void testing::set_dropout_masks(RNN& layer, Tensor input_masks, Tensor recurrent_masks) {
  layer.set_dropout_masks(std::move(input_masks), std::move(recurrent_masks));
}

void RNN::set_dropout_masks(Tensor input_masks, Tensor recurrent_masks) {
  fixed_in_masks_ = std::move(input_masks);
  fixed_rec_masks_ = std::move(recurrent_masks);
}

Tensor RNN::forward(const Tensor& x, RunContext& ctx) {
  fused_table_ = nullptr;
  if (x.rank() != 3) fail("expects input of rank 3 (batch, steps, features), got " + x.shape_string());
  return forward_impl(&x, nullptr, x.dim(0), x.dim(1), ctx);
}

Tensor RNN::call_on_embedding(Embedding& embedding, const Tensor& ids, RunContext& ctx) {
  RunContext ids_ctx = ctx;
  ids_ctx.input_grad = false;  // ids have no gradient
  embedding.prepare_call(ids.shape(), ids_ctx);
  const Tensor& flat_ids = embedding.checked_ids(ids);
  const int64_t B = ids.dim(0), T = ids.dim(1);
  prepare_call({B, T, embedding.output_dim()}, ctx);
  fused_table_ = nullptr;
  // Input dropout masks the rows of each sample with a mask of its own, so one id's row is not the same in every
  // sample: then the rows are looked up as usual.
  if (!(ctx.training && options_.dropout > 0)) {
    const int64_t distinct = find_distinct_ids(embedding, flat_ids, B, T, unique_, slots_, seen_);
    // Projecting distinct rows, then gathering them per step, against projecting every position: a margin for the
    // gathers.
    if (distinct * 4 <= B * T * 3) {
      auto [ids_of_rows, rows] = distinct_rows(embedding, unique_, distinct);
      Tensor y = forward_impl(nullptr, &rows, B, T, ctx);  // the op keeps its own copy of rows for backward
      distinct_ids_ = std::move(ids_of_rows);                // fused only once the call succeeded
      fused_table_ = embedding.params()[0];
      return y;
    }
  }
  return forward(embedding.lookup(ids.shape()), ctx);
}

Tensor RNN::forward_impl(const Tensor* x, const Tensor* rows, int64_t B, int64_t T, RunContext& ctx) {
  const int64_t in = x ? x->dim(2) : rows->dim(1), u = units_;
  const int G = cell_->gates(), S = cell_->states();
  if (T == 0) fail("got a sequence of length 0");
  if (ctx.mask && ctx.mask->shape() != Shape{B, T})
    fail(fmt::format("mask shape {} does not match the input ({}, {}, {})", ctx.mask->shape_string(), B, T, in));
  auto ps = params();

  // Dropout masks: drawn once per call, shared by every step (Keras's DropoutRNNCell). With
  // recurrent_dropout > 0 Keras switches to implementation 1: one input mask per gate.
  Tensor in_masks, rec_masks;
  const int n_in_masks = options_.recurrent_dropout > 0 ? G : 1;
  if (ctx.training && (options_.dropout > 0 || options_.recurrent_dropout > 0)) {
    if (!fixed_in_masks_.empty() || !fixed_rec_masks_.empty()) {
      in_masks = fixed_in_masks_;
      rec_masks = fixed_rec_masks_;
    } else {
      if (!ctx.rng) fail("dropout in training needs RunContext::rng");
      if (options_.dropout > 0) {
        in_masks = Tensor::uninitialized({n_in_masks, B, in});
        backend().dropout_mask(in_masks, *ctx.rng, options_.dropout, 1.0f / (1.0f - options_.dropout));
      }
      if (options_.recurrent_dropout > 0) {
        rec_masks = Tensor::uninitialized({G, B, u});
        backend().dropout_mask(rec_masks, *ctx.rng, options_.recurrent_dropout,
                               1.0f / (1.0f - options_.recurrent_dropout));
      }
    }
    if (!in_masks.empty() && in_masks.shape() != Shape{n_in_masks, B, in})
      fail(fmt::format("input dropout masks must be ({}, {}, {}), got {}", n_in_masks, B, in, in_masks.shape_string()));
    if (!rec_masks.empty() && rec_masks.shape() != Shape{G, B, u})
      fail(fmt::format("recurrent dropout masks must be ({}, {}, {}), got {}", G, B, u, rec_masks.shape_string()));
  }

  // Step 0 starts from initial_state, the carried state (stateful), or zeros.
  const std::vector<Tensor>* init = nullptr;
  if (continue_state_ && !final_states_.empty() && final_states_[0].dim(0) == B) init = &final_states_;  // a TBPTT chunk
  else if (!initial_states_.empty()) init = &initial_states_;
  else if (options_.stateful && !carried_states_.empty() && carried_states_[0].dim(0) == B) init = &carried_states_;
  if (init)
    for (int k = 0; k < S; ++k)
      if ((*init)[size_t(k)].shape() != Shape{B, u})
        fail(fmt::format("initial state {} must be ({}, {}), got {}", k, B, u, (*init)[size_t(k)].shape_string()));

  RecurrentForward call;
  call.x = x;
  call.rows = rows;
  call.row_of = rows ? &slots_ : nullptr;
  call.mask = ctx.mask;
  call.kernel = &ps[0]->value;
  call.recurrent_kernel = &ps[1]->value;
  call.bias = options_.use_bias ? &ps[2]->value : nullptr;
  call.input_dropout = in_masks.empty() ? nullptr : &in_masks;
  call.recurrent_dropout = rec_masks.empty() ? nullptr : &rec_masks;
  call.go_backwards = options_.go_backwards;
  call.return_sequences = options_.return_sequences;
  call.zero_output_for_mask = options_.zero_output_for_mask;
  call.keep_for_backward = ctx.keep_for_backward;
  call.initial_states = init;  // may be final_states_ (a TBPTT chunk): the op reads them before it writes them
  Tensor y;
  backend().recurrent_forward(*cell_, call, *tape_, y, final_states_);
  if (options_.stateful) carried_states_ = final_states_;
  return y;
}

Tensor RNN::backward(const Tensor& dy) { return backward_impl(&dy, {}); }

Tensor RNN::backward_impl(const Tensor* dy, const std::vector<Tensor>& d_final) {
  auto ps = params();
  Tensor dx;
  RecurrentBackward call;
  call.kernel = &ps[0]->value;
  call.recurrent_kernel = &ps[1]->value;
  call.bias = options_.use_bias ? &ps[2]->value : nullptr;
  call.dy = dy;
  call.d_final = &d_final;
  call.dkernel = &ps[0]->grad;
  call.drecurrent_kernel = &ps[1]->grad;
  call.dbias = options_.use_bias ? &ps[2]->grad : nullptr;
  Tensor drows;
  if (fused_table_) call.drows = input_grad_wanted() ? &drows : nullptr;  // the table's rows, not an input
  else call.dx = input_grad_wanted() ? &dx : nullptr;
  call.d_initial = &d_initial_;
  try {
    backend().recurrent_backward(*cell_, call, *tape_);
  } catch (const Error& e) {
    fail(e.what());
  }
  if (!drows.empty()) backend().embedding_backward(fused_table_->grad, drows, distinct_ids_);
  return dx;  // after a call_on_embedding: empty, the gradient went into the embedding's table
}

// ---- SimpleRNN, LSTM, GRU ----

SimpleRNN::SimpleRNN(int64_t units, RecurrentOptions options) : RNN(units, std::move(options), "simple_rnn") {
  init_cell();
}
std::unique_ptr<rnn::Cell> SimpleRNN::make_cell() const { return rnn::make_simple_rnn_cell(units_, activation_); }
std::shared_ptr<RNN> SimpleRNN::clone(RecurrentOptions o) const { return std::make_shared<SimpleRNN>(units_, std::move(o)); }

LSTM::LSTM(int64_t units, RecurrentOptions options) : RNN(units, std::move(options), "lstm") { init_cell(); }
std::unique_ptr<rnn::Cell> LSTM::make_cell() const {
  return rnn::make_lstm_cell(units_, activation_, recurrent_activation_);
}
std::shared_ptr<RNN> LSTM::clone(RecurrentOptions o) const { return std::make_shared<LSTM>(units_, std::move(o)); }
Tensor LSTM::initial_bias(Rng& rng) const {
  if (!options_.unit_forget_bias) return RNN::initial_bias(rng);
  // Keras: concat(init(u), ones(u), init(2u)): the forget slice is exactly 1.
  Tensor b({4 * units_});
  const Tensor input_gate = initialize(options_.bias_initializer, {units_}, rng);
  const Tensor rest = initialize(options_.bias_initializer, {2 * units_}, rng);
  backend().copy_rows(b, input_gate, {.rows = 1, .length = units_});
  backend().copy_rows(b, Tensor::full({units_}, 1.0f), {.rows = 1, .length = units_, .dst_offset = units_});
  backend().copy_rows(b, rest, {.rows = 1, .length = 2 * units_, .dst_offset = 2 * units_});
  return b;
}

GRU::GRU(int64_t units, RecurrentOptions options) : RNN(units, std::move(options), "gru") { init_cell(); }
std::unique_ptr<rnn::Cell> GRU::make_cell() const {
  return rnn::make_gru_cell(units_, activation_, recurrent_activation_, options_.reset_after);
}
std::shared_ptr<RNN> GRU::clone(RecurrentOptions o) const { return std::make_shared<GRU>(units_, std::move(o)); }
Shape GRU::bias_shape() const {
  if (options_.reset_after) return {2, 3 * units_};
  return {3 * units_};
}

// ---- Keras configs ----

Json RNN::get_config() const { return base_config(); }

Json RNN::base_config() const {
  Json c = Layer::get_config();
  c["return_sequences"] = options_.return_sequences;
  c["return_state"] = options_.return_state;
  c["go_backwards"] = options_.go_backwards;
  c["stateful"] = options_.stateful;
  c["unroll"] = false;
  c["zero_output_for_mask"] = options_.zero_output_for_mask;
  c["units"] = units_;
  c["activation"] = activation_name(activation_);
  c["use_bias"] = options_.use_bias;
  c["kernel_initializer"] = config::initializer_to_json(options_.kernel_initializer);
  c["recurrent_initializer"] = config::initializer_to_json(options_.recurrent_initializer);
  c["bias_initializer"] = config::initializer_to_json(options_.bias_initializer);
  for (const char* key : {"kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                          "kernel_constraint", "recurrent_constraint", "bias_constraint"})
    c[key] = nullptr;
  c["dropout"] = options_.dropout;
  c["recurrent_dropout"] = options_.recurrent_dropout;
  return c;
}

Json SimpleRNN::get_config() const { return base_config(); }  // Keras's SimpleRNN writes no "seed"

Json LSTM::get_config() const {
  Json c = base_config();
  c["seed"] = options_.seed ? Json(*options_.seed) : Json(nullptr);
  c["recurrent_activation"] = activation_name(recurrent_activation_);
  c["unit_forget_bias"] = options_.unit_forget_bias;
  return c;
}

Json GRU::get_config() const {
  Json c = base_config();
  c["recurrent_activation"] = activation_name(recurrent_activation_);
  c["reset_after"] = options_.reset_after;
  c["seed"] = options_.seed ? Json(*options_.seed) : Json(nullptr);
  return c;
}

namespace config {

namespace {
RecurrentOptions recurrent_options_from(const Json& c) {
  for (const char* k : {"kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer"})
    reject_if_set(c, k, "regularizers are not implemented");
  for (const char* k : {"kernel_constraint", "recurrent_constraint", "bias_constraint"})
    reject_if_set(c, k, "constraints are not implemented");
  reject_if_set(c, "time_major", "time-major inputs are not supported");
  if (!c.contains("units")) throw Error("recurrent layer config without 'units': " + c.dump());
  RecurrentOptions o;
  if (c.contains("activation")) o.activation = activation_of(c);
  if (c.contains("recurrent_activation")) o.recurrent_activation = activation_of(c, "recurrent_activation");
  o.use_bias = get(c, "use_bias", true);
  if (c.contains("kernel_initializer")) o.kernel_initializer = initializer_from_json(c["kernel_initializer"]);
  if (c.contains("recurrent_initializer")) o.recurrent_initializer = initializer_from_json(c["recurrent_initializer"]);
  if (c.contains("bias_initializer")) o.bias_initializer = initializer_from_json(c["bias_initializer"]);
  o.unit_forget_bias = get(c, "unit_forget_bias", true);
  // Keras 2.0.x GRU configs have no reset_after and mean reset-before; they do carry "implementation".
  o.reset_after = get(c, "reset_after", !c.contains("implementation"));
  o.dropout = get(c, "dropout", 0.0f);
  o.recurrent_dropout = get(c, "recurrent_dropout", 0.0f);
  if (c.contains("seed") && c["seed"].is_number_integer()) o.seed = required_int(c, "seed");
  o.return_sequences = get(c, "return_sequences", false);
  o.return_state = get(c, "return_state", false);
  o.go_backwards = get(c, "go_backwards", false);
  o.stateful = get(c, "stateful", false);
  o.zero_output_for_mask = get(c, "zero_output_for_mask", false);
  // unroll changes how Keras builds the graph, not the math: accepted and ignored.
  return o;
}

template <typename L>
LayerPtr recurrent_from(const Json& c) {
  auto l = std::make_shared<L>(required_int(c, "units"), recurrent_options_from(c));
  apply_common(*l, c);
  return l;
}
}  // namespace

LayerPtr simple_rnn_from_config(const Json& c) { return recurrent_from<SimpleRNN>(c); }
LayerPtr lstm_from_config(const Json& c) { return recurrent_from<LSTM>(c); }
LayerPtr gru_from_config(const Json& c) { return recurrent_from<GRU>(c); }

}  // namespace config

}  // namespace seqnet
