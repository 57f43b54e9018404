// Bidirectional and TimeDistributed. A wrapper owns no weights of its own: its params() are its
// inner layers' Param objects (collect_params), so models, optimizers, summaries and weight files
// see the inner weights themselves, and the inner backward passes accumulate straight into them.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/serialization.h"

namespace seqnet {

namespace {
// The layer draws dropout masks from the shared generator in this call: the draws' order matters.
bool draws_random(const RNN& l, const RunContext& ctx) {
  return ctx.training && (l.options().dropout > 0.0f || l.options().recurrent_dropout > 0.0f);
}

// (B, T, u) reversed along time.
Tensor flip_time(const Tensor& y) {
  Tensor r = Tensor::uninitialized(y.shape());
  backend().reverse_steps(r, y);
  return r;
}
std::string strip_prefix(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s;
}
}  // namespace

MergeMode merge_mode_from_name(const std::string& name) {
  if (name == "concat") return MergeMode::concat;
  if (name == "sum") return MergeMode::sum;
  if (name == "ave") return MergeMode::ave;
  if (name == "mul") return MergeMode::mul;
  throw Error("unknown Bidirectional merge_mode '" + name +
              "' (known: concat, sum, ave, mul; None, a list of two outputs, is not supported by the one-tensor graph)");
}

const char* merge_mode_name(MergeMode m) {
  switch (m) {
    case MergeMode::concat: return "concat";
    case MergeMode::sum: return "sum";
    case MergeMode::ave: return "ave";
    case MergeMode::mul: return "mul";
  }
  return "concat";
}

// ---- Bidirectional ----

Bidirectional::Bidirectional(std::shared_ptr<RNN> layer, BidirectionalOptions options)
    : Layer(options.name, "bidirectional"), backward_given_(options.backward_layer != nullptr),
      merge_(merge_mode_from_name(options.merge_mode)) {
  if (!layer) fail("needs a recurrent layer");
  if (options.input_shape) set_declared_input_shape(*options.input_shape);
  else if (layer->declared_input_shape()) set_declared_input_shape(*layer->declared_input_shape());
  // Keras rebuilds the forward layer from its config (fresh weights, name forward_<name>).
  RecurrentOptions fo = layer->options();
  fo.name = "forward_" + strip_prefix(layer->name(), "forward_");
  fo.input_shape.reset();
  forward_ = layer->clone(fo);
  if (backward_given_) {
    backward_ = options.backward_layer;
    const RecurrentOptions& bo = backward_->options();
    if (bo.go_backwards == fo.go_backwards)
      fail("backward_layer must have go_backwards different from the forward layer's");
    if (bo.stateful != fo.stateful || bo.return_sequences != fo.return_sequences || bo.return_state != fo.return_state)
      fail("backward_layer must have the same stateful, return_sequences and return_state as the forward layer");
  } else {
    RecurrentOptions bo = fo;
    bo.go_backwards = !fo.go_backwards;
    bo.name = "backward_" + strip_prefix(layer->name(), "forward_");
    backward_ = layer->clone(bo);
  }
  // Keras forces zero_output_for_mask = return_sequences on both layers.
  forward_->set_zero_output_for_mask(fo.return_sequences);
  backward_->set_zero_output_for_mask(fo.return_sequences);
}

Shape Bidirectional::build_impl(const Shape& in, Rng& rng) {
  Shape yf = forward_->build(in, rng);
  Shape yb = backward_->build(in, rng);
  if (yf.size() != yb.size()) fail("forward and backward layers disagree on return_sequences");
  Shape out = yf;
  if (merge_ == MergeMode::concat) {
    out.back() = yf.back() + yb.back();  // units_f + units_b (Keras reports 2 * units_f, keras#23688)
  } else if (yf.back() != yb.back()) {
    fail(fmt::format("merge_mode '{}' needs equal widths, got {} and {}", merge_mode_name(merge_), yf.back(), yb.back()));
  }
  return out;
}

void Bidirectional::collect_params(std::vector<Param*>& out) {
  for (Param* p : forward_->params()) out.push_back(p);
  for (Param* p : backward_->params()) out.push_back(p);
}

Tensor Bidirectional::forward(const Tensor& x, RunContext& ctx) {
  // The inner layers get their own copies of the context (they only read it).
  RunContext ctx_f = ctx, ctx_b = ctx;
  // Below a few thousand step-units (batch 1), waking a second thread costs more than it saves. Above, even a
  // direction of ~20 us gains: the hybrid model I's two Bidirectional layers (32 x 5 steps x 24 units) take
  // 0.22 -> 0.18 ms of inference and 0.78 -> 0.65 ms of training on two threads.
  const bool big = x.rank() == 3 && x.dim(0) * x.dim(1) * std::max(forward_->units(), backward_->units()) >= (1 << 11);
  parallel_ = big && !draws_random(*forward_, ctx) && !draws_random(*backward_, ctx);
  backend().run_both(parallel_, [&] { yf_ = forward_->call(x, ctx_f); }, [&] { yb_ = backward_->call(x, ctx_b); });
  if (backward_->return_sequences()) yb_ = flip_time(yb_);  // back into time order
  const int64_t uf = yf_.dim(-1), ub = yb_.dim(-1), rows = yf_.size() / uf;
  Shape shape = yf_.shape();
  if (merge_ == MergeMode::concat) shape.back() = uf + ub;
  Tensor y = Tensor::uninitialized(shape);
  switch (merge_) {
    case MergeMode::concat:
      backend().copy_rows(y, yf_, {.rows = rows, .length = uf, .dst_stride = uf + ub, .src_stride = uf});
      backend().copy_rows(y, yb_, {.rows = rows, .length = ub, .dst_offset = uf, .dst_stride = uf + ub, .src_stride = ub});
      break;
    case MergeMode::sum: backend().merge_forward(MergeOp::add, y, nullptr, {&yf_, &yb_}); break;
    case MergeMode::ave: backend().merge_forward(MergeOp::average, y, nullptr, {&yf_, &yb_}); break;
    case MergeMode::mul: backend().merge_forward(MergeOp::multiply, y, nullptr, {&yf_, &yb_}); break;
  }
  return y;
}

std::vector<Shape> Bidirectional::build_multi_impl(const std::vector<Shape>& in, Rng& rng) {
  const size_t sf = size_t(forward_->num_states()), sb = size_t(backward_->num_states());
  if (in.size() != 1 && in.size() != 1 + sf + sb)
    fail(fmt::format("takes its input and, as initial_state, {} states of the forward layer then {} of the backward "
                     "layer; got {} tensors",
                     sf, sb, in.size()));
  for (size_t input = 1; input < in.size(); ++input) {
    const int64_t units = input <= sf ? forward_->units() : backward_->units();
    const Shape& shape = in[input];
    if (shape.size() != 2 || (shape[1] >= 0 && shape[1] != units))
      fail(fmt::format("initial state {} must have shape (batch, {}), got {}", input - 1, units, shape_to_string(shape)));
  }
  std::vector<Shape> out{build_impl(in[0], rng)};
  if (forward_->options().return_state) {
    for (size_t k = 0; k < sf; ++k) out.push_back({in[0][0], forward_->units()});
    for (size_t k = 0; k < sb; ++k) out.push_back({in[0][0], backward_->units()});
  }
  return out;
}

std::vector<Tensor> Bidirectional::forward_multi(const std::vector<const Tensor*>& inputs, RunContext& ctx) {
  state_inputs_ = inputs.size() - 1;
  Tensor y;
  if (state_inputs_ > 0) {
    // This call's states, not the calls' after it: the layers' own initial states come back afterwards.
    const size_t sf = size_t(forward_->num_states());
    std::vector<Tensor> kept_f = forward_->initial_state(), kept_b = backward_->initial_state(), f, b;
    for (size_t input = 1; input < inputs.size(); ++input) (input <= sf ? f : b).push_back(*inputs[input]);
    forward_->set_initial_state(std::move(f));
    backward_->set_initial_state(std::move(b));
    try {
      y = forward(*inputs[0], ctx);
    } catch (...) {
      forward_->set_initial_state(kept_f);
      backward_->set_initial_state(kept_b);
      throw;
    }
    forward_->set_initial_state(kept_f);
    backward_->set_initial_state(kept_b);
  } else {
    y = forward(*inputs[0], ctx);
  }
  std::vector<Tensor> out{std::move(y)};
  if (forward_->options().return_state) {
    for (const Tensor& s : forward_->final_states()) out.push_back(s);
    for (const Tensor& s : backward_->final_states()) out.push_back(s);
  }
  return out;
}

std::vector<Tensor> Bidirectional::backward_multi(const std::vector<Tensor>& grads) {
  const size_t n_out = output_shapes().size();
  if (grads.size() != n_out) fail(fmt::format("backward got {} gradients for {} outputs", grads.size(), n_out));
  bool any = false;
  for (const Tensor& g : grads) any = any || !g.empty();
  std::vector<Tensor> out(1 + state_inputs_);
  if (!any) return out;
  out[0] = backward_impl(grads[0], std::vector<Tensor>(grads.begin() + 1, grads.end()));
  const size_t sf = size_t(forward_->num_states());
  // A direction no gradient reached ran no backward: its initial states get none (an empty tensor).
  for (size_t k = 0; k < state_inputs_; ++k) {
    const std::vector<Tensor>& d = k < sf ? forward_->initial_state_grads() : backward_->initial_state_grads();
    const bool ran = k < sf ? ran_forward_ : ran_backward_;
    if (ran && k - (k < sf ? 0 : sf) < d.size()) out[1 + k] = d[k - (k < sf ? 0 : sf)];
  }
  return out;
}

std::vector<std::optional<Tensor>> Bidirectional::compute_masks(const std::vector<const Tensor*>& inputs,
                                                                const std::vector<const Tensor*>& masks) const {
  std::vector<std::optional<Tensor>> out{compute_mask(*inputs[0], masks.empty() ? nullptr : masks[0])};
  out.resize(output_shapes().size());  // states carry no mask
  return out;
}

Tensor Bidirectional::backward(const Tensor& dy) { return backward_impl(dy, {}); }

Tensor Bidirectional::backward_impl(const Tensor& dy, const std::vector<Tensor>& d_final) {
  const int64_t uf = yf_.dim(-1), ub = yb_.dim(-1), rows = yf_.size() / uf;
  Tensor df, db;
  if (!dy.empty()) {
    Shape merged = yf_.shape();
    if (merge_ == MergeMode::concat) merged.back() = uf + ub;
    if (dy.shape() != merged)
      fail("backward got a gradient of shape " + dy.shape_string() + " for an output of " + shape_to_string(merged));
    df = Tensor::uninitialized(yf_.shape());
    db = Tensor::uninitialized(yb_.shape());
    const int64_t width = dy.dim(-1);
    const std::vector<const Tensor*> halves{&yf_, &yb_};
    switch (merge_) {
      case MergeMode::concat:
        backend().copy_rows(df, dy, {.rows = rows, .length = uf, .dst_stride = uf, .src_stride = width});
        backend().copy_rows(db, dy, {.rows = rows, .length = ub, .dst_stride = ub, .src_offset = uf, .src_stride = width});
        break;
      case MergeMode::sum:
      case MergeMode::ave:
      case MergeMode::mul: {
        const MergeOp op = merge_ == MergeMode::sum ? MergeOp::add : merge_ == MergeMode::ave ? MergeOp::average : MergeOp::multiply;
        backend().merge_backward(op, df, 0, 2, dy, halves, nullptr);
        backend().merge_backward(op, db, 1, 2, dy, halves, nullptr);
        break;
      }
    }
  }
  if (!db.empty() && backward_->return_sequences()) db = flip_time(db);
  Tensor dx, dxb;
  if (d_final.empty()) {
    backend().run_both(parallel_, [&] { dx = forward_->backward(df); }, [&] { dxb = backward_->backward(db); });
  } else {
    // return_state: each direction's own final-state gradients, through its layer's multi-output backward.
    const size_t sf = size_t(forward_->num_states());
    std::vector<Tensor> gf, gb;  // moved, not copied: df and db are whole sequences with return_sequences
    gf.push_back(std::move(df));
    gb.push_back(std::move(db));
    for (size_t state = 0; state < d_final.size(); ++state) (state < sf ? gf : gb).push_back(d_final[state]);
    auto any = [](const std::vector<Tensor>& g) {
      for (const Tensor& t : g)
        if (!t.empty()) return true;
      return false;
    };
    ran_forward_ = any(gf);
    ran_backward_ = any(gb);
    backend().run_both(parallel_, [&] { if (ran_forward_) dx = forward_->backward_multi(gf)[0]; },
             [&] { if (ran_backward_) dxb = backward_->backward_multi(gb)[0]; });
    // Only one direction may have been reached (only its states used downstream).
    if (dx.empty()) return dxb;
    if (dxb.empty()) return dx;
    backend().merge_forward(MergeOp::add, dx, nullptr, {&dx, &dxb});
    return dx;
  }
  ran_forward_ = ran_backward_ = true;
  if (dx.empty() || dxb.empty()) return Tensor();  // the input gradient was not wanted (input_grad)
  backend().merge_forward(MergeOp::add, dx, nullptr, {&dx, &dxb});
  return dx;
}

std::optional<Tensor> Bidirectional::compute_mask(const Tensor&, const Tensor* input_mask) const {
  if (!input_mask || !forward_->return_sequences()) return std::nullopt;
  return *input_mask;
}

namespace {
Json layer_entry_of(const Layer& l) {
  return {{"module", "keras.layers"}, {"class_name", l.class_name()}, {"config", l.get_config()}, {"registered_name", nullptr}};
}
}  // namespace

Json Bidirectional::get_config() const {
  Json c = Layer::get_config();
  c["merge_mode"] = merge_mode_name(merge_);
  c["layer"] = layer_entry_of(*forward_);
  c["backward_layer"] = layer_entry_of(*backward_);
  return c;
}

// ---- TimeDistributed ----

TimeDistributed::TimeDistributed(LayerPtr layer, std::string name)
    : Layer(std::move(name), "time_distributed"), inner_(std::move(layer)) {
  if (!inner_) fail("needs a layer to wrap");
}

Shape TimeDistributed::build_impl(const Shape& in, Rng& rng) {
  if (in.size() < 3) fail("expects input of rank >= 3 (batch, time, ...), got " + shape_to_string(in));
  Shape inner_in(in.begin() + 1, in.end());
  inner_in[0] = -1;  // the inner layer sees batch*time rows
  Shape inner_out = inner_->build(inner_in, rng);
  Shape out{in[0], in[1]};
  out.insert(out.end(), inner_out.begin() + 1, inner_out.end());
  return out;
}

void TimeDistributed::collect_params(std::vector<Param*>& out) {
  for (Param* p : inner_->params()) out.push_back(p);
}

Tensor TimeDistributed::forward(const Tensor& x, RunContext& ctx) {
  last_input_shape_ = x.shape();
  Shape flat(x.shape().begin() + 1, x.shape().end());
  flat[0] = x.dim(0) * x.dim(1);
  RunContext inner_ctx = ctx;
  inner_ctx.mask = nullptr;  // per-step masks mean nothing to a per-step layer such as Dense
  Tensor y = inner_->call(x.reshaped(flat), inner_ctx);
  Shape out{x.dim(0), x.dim(1)};
  out.insert(out.end(), y.shape().begin() + 1, y.shape().end());
  return std::move(y).reshaped(out);
}

Tensor TimeDistributed::backward(const Tensor& dy) {
  Shape flat(dy.shape().begin() + 1, dy.shape().end());
  flat[0] = dy.dim(0) * dy.dim(1);
  Tensor dx = inner_->backward(dy.reshaped(flat));
  if (dx.empty()) return dx;
  return std::move(dx).reshaped(last_input_shape_);
}

Json TimeDistributed::get_config() const {
  Json c = Layer::get_config();
  c["layer"] = layer_entry_of(*inner_);
  return c;
}

// ---- Keras config readers ----

namespace config {

namespace {
LayerPtr nested_layer(const Json& c, const char* key) {
  const Json& e = c.at(key);
  return layer_from_config(e.at("class_name").get<std::string>(), e.at("config"));
}
std::shared_ptr<RNN> as_rnn(const LayerPtr& l, const Json& c) {
  auto r = std::dynamic_pointer_cast<RNN>(l);
  if (!r)
    throw Error(fmt::format("layer '{}' (Bidirectional): wraps '{}', which is not a recurrent layer",
                            c.value("name", std::string("?")), l->class_name()));
  return r;
}
}  // namespace

LayerPtr bidirectional_from_config(const Json& c) {
  BidirectionalOptions o;
  // Keras's default is "concat"; an explicit null is merge_mode=None, two outputs.
  if (c.contains("merge_mode") && c["merge_mode"].is_null())
    throw Error("layer '" + c.value("name", std::string("?")) +
                "' (Bidirectional): merge_mode None (two outputs) is not supported by the one-tensor graph");
  o.merge_mode = get(c, "merge_mode", std::string("concat"));
  if (c.contains("backward_layer") && !c["backward_layer"].is_null()) o.backward_layer = as_rnn(nested_layer(c, "backward_layer"), c);
  auto l = std::make_shared<Bidirectional>(as_rnn(nested_layer(c, "layer"), c), o);
  apply_common(*l, c);
  return l;
}

LayerPtr time_distributed_from_config(const Json& c) {
  auto l = std::make_shared<TimeDistributed>(nested_layer(c, "layer"));
  apply_common(*l, c);
  return l;
}

}  // namespace config

}  // namespace seqnet
