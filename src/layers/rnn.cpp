// The RNN loop shared by SimpleRNN, LSTM and GRU: it owns time, direction (go_backwards), masks,
// dropout masks, initial / stateful state and the input projection; the cell (rnn_cells.cpp) does
// the math of one step. Forward keeps every step's states and cache; backward walks time in reverse.
//
// Performance shape: x @ kernel for all T steps is one GEMM before the loop; each step is one
// h @ recurrent_kernel GEMM (one per gate with recurrent dropout) plus fused elementwise gates;
// every buffer is allocated once per call, none per step.
#include <algorithm>
#include <omp.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/layer_registry.h"
#include "kernels/blas.h"
#include "kernels/fast_math.h"
#include "kernels/parallel.h"
#include "kernels/rnn_kernels.h"
#include "layers/rnn_cells.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/threads.h"

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
  for (size_t k = 1; k < in.size(); ++k)
    if (in[k].size() != 2 || (in[k][1] >= 0 && in[k][1] != units_))
      fail(fmt::format("initial state {} must have shape (batch, {}), got {}", k - 1, units_, shape_to_string(in[k])));
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
    for (size_t k = 1; k < inputs.size(); ++k) initial_states_.push_back(*inputs[k]);
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
  for (size_t k = 1; k < grads.size(); ++k) {
    d_final.push_back(grads[k]);
    any = any || !grads[k].empty();
  }
  std::vector<Tensor> out(1 + state_inputs_);
  if (!any) return out;
  out[0] = backward_impl(grads[0].empty() ? nullptr : &grads[0], d_final);
  for (size_t k = 0; k < state_inputs_; ++k) out[1 + k] = d_initial_[k];
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

// The recurrent dropout masks of a shard's rows: its own copy when the batch is split, else the layer's.
const float* RNN::shard_rec_masks(const Shard& sh) const {
  if (!sh.rmask.empty()) return sh.rmask.data();
  return rec_masks_.empty() ? nullptr : rec_masks_.data();
}

namespace {
// Gives t the shape s, reusing its memory when the shape is unchanged: the contents are then stale, not
// zero. The time loop's buffers are tens of MB; allocating them afresh each call costs page faults and
// zero-fills comparable to the arithmetic.
void reuse(Tensor& t, const Shape& s) {
  if (t.shape() != s) t = Tensor::uninitialized(s);  // callers write before they read, as with a reused buffer
}
// Inverted dropout masks (n, B, k): 0 with probability `rate`, else 1/(1-rate).
Tensor draw_dropout_masks(Rng& rng, int64_t n, int64_t B, int64_t k, float rate) {
  Tensor m({n, B, k});
  const float keep = 1.0f / (1.0f - rate);
  for (int64_t i = 0; i < m.size(); ++i) m[i] = rng.uniform() < rate ? 0.0f : keep;
  return m;
}
// Between batch-major (B, T, n) and time-major (T, B, n) in processing order (time reversed for go_backwards):
// to_time_major copies batch -> time, else time -> batch. Megabytes of copying between layers: split over
// threads by steps (each step's rows are its own).
void transpose_time(const float* src, float* dst, int64_t B, int64_t T, int64_t n, bool reverse, bool to_time_major) {
  kernels::split_range(long(T), 1, 20.0 * double(B * T * n), [&](long s0, long s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t batch_row = (b * T + t) * n, time_row = (s * B + b) * n;
        if (to_time_major) std::copy_n(src + batch_row, n, dst + time_row);
        else std::copy_n(src + time_row, n, dst + batch_row);
      }
    }
  });
}
// How many row shards the time loop runs in: one per thread when the sequence is worth it. Every row's
// arithmetic is the same whichever shard runs it, so results do not depend on the thread count.
int shard_count(int64_t B, int64_t T, int64_t in, int64_t Gu, int64_t u, bool fused) {
  const int threads = num_threads();
  if (!fused || threads < 2 || omp_get_level() > 0 || B < 16) return 1;
  // The work of a shard's time loop: the recurrent product and, projected per step, the input one.
  const double flops = 2.0 * double(T) * double(B) * double(Gu) * double(u + in);
  if (flops < kernels::parallel_flops_threshold()) return 1;
  return int(std::min<int64_t>(threads, B / 8));
}

// Runs body(shard index) for every shard, on one thread each when there are several.
template <typename Body>
void for_each_shard(int n, Body&& body) {
  if (n == 1) {
    body(0);
    return;
  }
#pragma omp parallel for num_threads(n) schedule(static, 1)
  for (int j = 0; j < n; ++j) {
    kernels::DenormalsAreZero daz;  // the flag is per thread
    body(j);
  }
}
}  // namespace

Tensor RNN::forward(const Tensor& x, RunContext& ctx) {
  kernels::DenormalsAreZero daz;
  const int64_t B = x.dim(0), T = x.dim(1), in = x.dim(2), u = units_;
  const int G = cell_->gates(), S = cell_->states();
  const int64_t Gu = G * u;
  if (T == 0) fail("got a sequence of length 0");
  auto ps = params();
  const Param* kernel = ps[0];
  const Param* rkernel = ps[1];
  const Param* bias = options_.use_bias ? ps[2] : nullptr;
  const bool two_biases = bias && bias->value.rank() == 2;  // GRU reset_after: [input row, recurrent row]
  auto t_of = [&](int64_t s) { return options_.go_backwards ? T - 1 - s : s; };  // step s reads time t_of(s)

  x_shape_ = x.shape();
  step_mask_ = Tensor();
  if (ctx.mask) {
    if (ctx.mask->shape() != Shape{B, T})
      fail(fmt::format("mask shape {} does not match the input {}", ctx.mask->shape_string(), x.shape_string()));
    Tensor m = ctx.mask->as_float();
    step_mask_ = Tensor({T, B});
    for (int64_t s = 0; s < T; ++s)
      for (int64_t b = 0; b < B; ++b) step_mask_[s * B + b] = m[b * T + t_of(s)] != 0.0f ? 1.0f : 0.0f;
  }

  // Dropout masks: drawn once per call, shared by every step (Keras's DropoutRNNCell). With
  // recurrent_dropout > 0 Keras switches to implementation 1: one input mask per gate.
  in_masks_ = Tensor();
  rec_masks_ = Tensor();
  const int n_in_masks = options_.recurrent_dropout > 0 ? G : 1;
  if (ctx.training && (options_.dropout > 0 || options_.recurrent_dropout > 0)) {
    if (!fixed_in_masks_.empty() || !fixed_rec_masks_.empty()) {
      in_masks_ = fixed_in_masks_;
      rec_masks_ = fixed_rec_masks_;
    } else {
      if (!ctx.rng) fail("dropout in training needs RunContext::rng");
      if (options_.dropout > 0) in_masks_ = draw_dropout_masks(*ctx.rng, n_in_masks, B, in, options_.dropout);
      if (options_.recurrent_dropout > 0) rec_masks_ = draw_dropout_masks(*ctx.rng, G, B, u, options_.recurrent_dropout);
    }
    if (!in_masks_.empty() && in_masks_.shape() != Shape{n_in_masks, B, in})
      fail(fmt::format("input dropout masks must be ({}, {}, {}), got {}", n_in_masks, B, in, in_masks_.shape_string()));
    if (!rec_masks_.empty() && rec_masks_.shape() != Shape{G, B, u})
      fail(fmt::format("recurrent dropout masks must be ({}, {}, {}), got {}", G, B, u, rec_masks_.shape_string()));
  }

  // Time-major input in processing order. Its projection x W + b: step by step inside the time loop, where
  // each shard's rows stay in cache until the step reads them (the projection of all steps at once is tens of
  // MB written, then read back from memory); for all steps at once under input dropout (per-gate masks).
  // Inference reads each step's rows straight from the batch-major input (row stride T*in); the time-major
  // copy exists for backward's kernel gradient and for the masked projection.
  const bool project_per_step = in_masks_.empty();
  const bool time_major_copy = ctx.keep_for_backward || !project_per_step;
  if (time_major_copy) {
    reuse(xs_, {T, B, in});
    transpose_time(x.data(), xs_.data(), B, T, in, options_.go_backwards, /*to_time_major=*/true);
  } else {
    xs_ = Tensor();
  }
  if (project_per_step) {
    xw_ = Tensor();
  } else {
    reuse(xw_, {T, B, Gu});
    const float* m = in_masks_.data();
    const bool shared = m && n_in_masks == 1;  // one mask for all gates: a single block of G*u columns
    std::vector<float> scratch(m ? size_t(2 * T * B * in) : 0);
    kernels::gate_matmul_forward(xw_.data(), Gu, xs_.data(), T * B, in, kernel->value.data(), Gu, shared ? Gu : u, 0,
                                 shared ? 1 : G, m, B, scratch.data(), bias ? bias->value.data() : nullptr);
  }

  // States: (S, T+1, B, u). Step 0 starts from initial_state, the carried state (stateful), or zeros.
  // Backward reads every step's states and cell caches; inference only needs the current step, so it keeps
  // two state slots and one step of cache, which stay in cache instead of streaming tens of MB to memory.
  kept_for_backward_ = ctx.keep_for_backward;
  const int64_t slots = kept_for_backward_ ? T + 1 : 2;
  reuse(states_, {S, slots, B, u});
  auto state_at = [&](int k, int64_t s) { return states_.data() + (k * slots + s % slots) * B * u; };
  const std::vector<Tensor>* init = nullptr;
  if (continue_state_ && !final_states_.empty() && final_states_[0].dim(0) == B) init = &final_states_;  // a TBPTT chunk
  else if (!initial_states_.empty()) init = &initial_states_;
  else if (options_.stateful && !carried_states_.empty() && carried_states_[0].dim(0) == B) init = &carried_states_;
  if (init)
    for (int k = 0; k < S; ++k) {
      if ((*init)[k].shape() != Shape{B, u})
        fail(fmt::format("initial state {} must be ({}, {}), got {}", k, B, u, (*init)[k].shape_string()));
      std::copy_n((*init)[k].data(), B * u, state_at(k, 0));
    }
  else
    for (int k = 0; k < S; ++k) std::fill_n(state_at(k, 0), B * u, 0.0f);

  const int n_shards = shard_count(B, T, in, Gu, u, cell_->fused());
  shards_.resize(size_t(n_shards));
  for (int j = 0; j < n_shards; ++j) {
    Shard& sh = shards_[size_t(j)];
    // Boundaries on multiples of 8 rows: the small GEMM blocks rows by 8, 4 and 1, and a value may round
    // differently in another block size, so each shard must see the blocks the whole batch would.
    auto boundary = [&](int i) { return i == n_shards ? B : B * i / n_shards / 8 * 8; };
    sh.b0 = boundary(j);
    sh.b1 = boundary(j + 1);
    const int64_t Bj = sh.b1 - sh.b0;
    reuse(sh.cache, {kept_for_backward_ ? T : 1, cell_->cache_floats(Bj)});
    sh.rmask = Tensor();
    if (n_shards > 1 && !rec_masks_.empty()) {
      sh.rmask = Tensor({G, Bj, u});
      for (int k = 0; k < G; ++k) std::copy_n(rec_masks_.data() + (k * B + sh.b0) * u, Bj * u, sh.rmask.data() + k * Bj * u);
    }
  }
  rnn::CellWeights w{rkernel->value.data(), two_biases ? bias->value.data() + Gu : nullptr, nullptr, nullptr};
  const float* mask = step_mask_.empty() ? nullptr : step_mask_.data();
  const bool seq = options_.return_sequences;
  Tensor y = Tensor::uninitialized(seq ? Shape{B, T, u} : Shape{B, u});  // every row of every step is written

  for_each_shard(n_shards, [&](int j) {
    Shard& sh = shards_[size_t(j)];
    const int64_t b0 = sh.b0, Bj = sh.b1 - sh.b0;
    const int64_t cache_n = kept_for_backward_ ? sh.cache.dim(1) : 0;  // 0: one step's cache, reused
    const float* rmask = shard_rec_masks(sh);
    std::vector<float> scratch(size_t(cell_->scratch_floats(Bj)));
    std::vector<float> xw_step(project_per_step ? size_t(Bj * Gu) : 0);
    const float* in_kernel = kernel->value.data();
    const float* in_bias = bias ? bias->value.data() : nullptr;
    for (int64_t s = 0; s < T; ++s) {
      const float* xw_s;
      if (project_per_step) {
        const float* rows = time_major_copy ? xs_.data() + (s * B + b0) * in : x.data() + (b0 * T + t_of(s)) * in;
        const int64_t ld = time_major_copy ? in : T * in;
        if (in_bias) kernels::small_gemm_bias(Bj, Gu, in, rows, ld, in_kernel, Gu, in_bias, xw_step.data(), Gu);
        else kernels::small_gemm(Bj, Gu, in, rows, ld, in_kernel, Gu, xw_step.data(), Gu, false);
        xw_s = xw_step.data();
      } else {
        xw_s = xw_.data() + (s * B + b0) * Gu;
      }
      rnn::StepTensors st{xw_s, state_at(0, s) + b0 * u,
                          S > 1 ? state_at(1, s) + b0 * u : nullptr, state_at(0, s + 1) + b0 * u,
                          S > 1 ? state_at(1, s + 1) + b0 * u : nullptr, sh.cache.data() + s * cache_n, rmask};
      cell_->step_forward(w, st, Bj, scratch.data());
      for (int64_t b = b0; b < sh.b1; ++b) {
        const bool masked = mask && mask[s * B + b] == 0.0f;
        if (masked)  // a masked step carries the states over
          for (int k = 0; k < S; ++k) std::copy_n(state_at(k, s) + b * u, u, state_at(k, s + 1) + b * u);
        if (seq || s == T - 1) {
          float* out = seq ? y.data() + (b * T + s) * u : y.data() + b * u;
          if (masked && options_.zero_output_for_mask) std::fill_n(out, u, 0.0f);
          else std::copy_n(state_at(0, s + 1) + b * u, u, out);
        }
      }
    }
  });

  final_states_.assign(S, Tensor({B, u}));
  for (int k = 0; k < S; ++k) std::copy_n(state_at(k, T), B * u, final_states_[k].data());
  if (options_.stateful) carried_states_ = final_states_;
  return y;
}

Tensor RNN::backward(const Tensor& dy) { return backward_impl(&dy, {}); }

Tensor RNN::backward_impl(const Tensor* dy_ptr, const std::vector<Tensor>& d_final) {
  if (x_shape_.size() != 3) fail("backward called before forward");
  if (!kept_for_backward_) fail("backward after a forward that did not keep its activations (keep_for_backward)");
  kernels::DenormalsAreZero daz;  // fading gradients must not fall into the slow denormal range
  const int64_t B = x_shape_[0], T = x_shape_[1], in = x_shape_[2], u = units_;
  const int G = cell_->gates(), S = cell_->states();
  const int64_t Gu = G * u;
  const bool seq = options_.return_sequences;
  if (dy_ptr && dy_ptr->shape() != (seq ? Shape{B, T, u} : Shape{B, u}))
    fail("backward got a gradient of shape " + dy_ptr->shape_string());
  for (const Tensor& d : d_final)
    if (!d.empty() && d.shape() != Shape{B, u}) fail("backward got a final-state gradient of shape " + d.shape_string());
  auto ps = params();
  Param* kernel = ps[0];
  Param* rkernel = ps[1];
  Param* bias = options_.use_bias ? ps[2] : nullptr;
  const bool two_biases = bias && bias->value.rank() == 2;
  auto state_at = [&](int k, int64_t s) { return states_.data() + (k * (T + 1) + s) * B * u; };

  rnn::CellWeights w{rkernel->value.data(), two_biases ? bias->value.data() + Gu : nullptr, rkernel->grad.data(),
                     two_biases ? bias->grad.data() + Gu : nullptr};
  Tensor& dxw = dxw_;  // every step writes its rows
  reuse(dxw, {T, B, Gu});
  const float* mask = step_mask_.empty() ? nullptr : step_mask_.data();
  // Fused cells: dh_prev through the transposed recurrent kernel per step, and the recurrent weight
  // gradients of all steps in one GEMM after the loop (from the states and the per-step gate gradients).
  const bool fused = cell_->fused();
  Tensor& drec = drec_;
  if (fused) {
    reuse(rkernel_t_, {Gu, u});
    kernels::transpose(rkernel->value.data(), u, Gu, rkernel_t_.data());
    w.recurrent_kernel_t = rkernel_t_.data();
    if (cell_->separate_drec()) reuse(drec, {T, B, Gu});
    else drec = Tensor();
  }
  // Shards exist only for fused cells, whose steps leave the shared weight gradients alone.
  const int n_shards = int(shards_.size());
  d_initial_.assign(S, Tensor({B, u}));

  for_each_shard(n_shards, [&](int j) {
    Shard& sh = shards_[size_t(j)];
    const int64_t b0 = sh.b0, Bj = sh.b1 - sh.b0;
    const int64_t cache_n = sh.cache.dim(1);
    const float* rmask = shard_rec_masks(sh);
    std::vector<float> scratch(size_t(cell_->scratch_floats(Bj)));
    // Gradients reaching the states after / before a step, (S, Bj, u).
    Tensor d_next({S, Bj, u}), d_prev({S, Bj, u}), g({S, Bj, u}), cell_g({S, Bj, u});
    for (size_t k = 0; k < d_final.size() && k < size_t(S); ++k)  // return_state: gradients reaching the last states
      if (!d_final[k].empty()) std::copy_n(d_final[k].data() + b0 * u, Bj * u, d_next.data() + int64_t(k) * Bj * u);
    for (int64_t s = T - 1; s >= 0; --s) {
      // Gradient reaching this step's states: from the next step, plus the output's.
      g = d_next;
      for (int64_t b = b0; dy_ptr && b < sh.b1; ++b) {
        const Tensor& dy = *dy_ptr;
        const bool masked = mask && mask[s * B + b] == 0.0f;
        if (masked && options_.zero_output_for_mask) continue;  // the output was a constant 0
        if (!seq && s != T - 1) continue;
        const float* d = seq ? dy.data() + (b * T + s) * u : dy.data() + b * u;
        for (int64_t i = 0; i < u; ++i) g[(b - b0) * u + i] += d[i];
      }
      // Masked rows skip the cell: their gradient passes straight to the previous states.
      cell_g = g;
      if (mask)
        for (int64_t b = b0; b < sh.b1; ++b)
          if (mask[s * B + b] == 0.0f)
            for (int k = 0; k < S; ++k) std::fill_n(cell_g.data() + (k * Bj + b - b0) * u, u, 0.0f);
      rnn::StepTensors st{nullptr /* backward never reads the projection */, state_at(0, s) + b0 * u,
                          S > 1 ? state_at(1, s) + b0 * u : nullptr, state_at(0, s + 1) + b0 * u,
                          S > 1 ? state_at(1, s + 1) + b0 * u : nullptr, sh.cache.data() + s * cache_n,
                          rmask};
      if (!drec.empty()) st.drec = drec.data() + (s * B + b0) * Gu;
      cell_->step_backward(w, st, Bj, cell_g.data(), S > 1 ? cell_g.data() + Bj * u : nullptr,
                           dxw.data() + (s * B + b0) * Gu, d_prev.data(), S > 1 ? d_prev.data() + Bj * u : nullptr,
                           scratch.data());
      if (mask)
        for (int64_t b = b0; b < sh.b1; ++b)
          if (mask[s * B + b] == 0.0f)
            for (int k = 0; k < S; ++k)
              for (int64_t i = 0; i < u; ++i) d_prev[(k * Bj + b - b0) * u + i] += g[(k * Bj + b - b0) * u + i];
      std::swap(d_next, d_prev);
    }
    for (int k = 0; k < S; ++k) std::copy_n(d_next.data() + k * Bj * u, Bj * u, d_initial_[k].data() + b0 * u);
  });
  if (fused) {
    const float* D = drec.empty() ? dxw.data() : drec.data();  // (T*B, Gu), rows aligned with the h_prev rows
    // The recurrent bias gradient (GRU reset_after) is the column sums of D, taken while the GEMM reads it.
    kernels::recurrent_weight_grad(state_at(0, 0), rec_masks_.empty() ? nullptr : rec_masks_.data(), D,
                                   rkernel->grad.data(), T * B, B, u, G,
                                   two_biases ? bias->grad.data() + Gu : nullptr);
  }

  // The input projection for all steps at once; its bias gradient is the column sums of dxw.
  // The input gradient only when the caller wants it (not for the first layer of a training step).
  const bool want_dx = input_grad_wanted();
  const float* m = in_masks_.empty() ? nullptr : in_masks_.data();
  // The masked product accumulates into dxs; the unmasked one writes every value.
  Tensor dxs = !want_dx ? Tensor() : m ? Tensor({T, B, in}) : Tensor::uninitialized({T, B, in});
  const bool shared = m && in_masks_.dim(0) == 1;
  if (!m) {
    // Tall and skinny (T*B rows, in and G*u small): blocked kernels without a BLAS's packing overhead.
    kernels::small_gemm_tn(in, Gu, T * B, xs_.data(), in, dxw.data(), Gu, kernel->grad.data(), Gu, true,
                           bias ? bias->grad.data() : nullptr);
    if (want_dx) {
      std::vector<float> kernel_t(size_t(Gu * in));
      kernels::transpose(kernel->value.data(), in, Gu, kernel_t.data());
      kernels::small_gemm(T * B, in, Gu, dxw.data(), Gu, kernel_t.data(), in, dxs.data(), in, false);
    }
  } else {
    if (bias) kernels::add_column_sums(bias->grad.data(), dxw.data(), T * B, Gu);
    std::vector<float> mm_scratch(size_t(2 * T * B * in));
    kernels::gate_matmul_backward(want_dx ? dxs.data() : nullptr, kernel->grad.data(), dxw.data(), Gu, xs_.data(),
                                  T * B, in, kernel->value.data(), Gu, shared ? Gu : u, 0, shared ? 1 : G, m, B,
                                  mm_scratch.data());
  }
  if (!want_dx) return Tensor();
  Tensor dx = Tensor::uninitialized(x_shape_);
  transpose_time(dxs.data(), dx.data(), B, T, in, options_.go_backwards, /*to_time_major=*/false);
  return dx;
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
  Tensor i = initialize(options_.bias_initializer, {units_}, rng);
  Tensor rest = initialize(options_.bias_initializer, {2 * units_}, rng);
  std::copy_n(i.data(), units_, b.data());
  std::fill_n(b.data() + units_, units_, 1.0f);
  std::copy_n(rest.data(), 2 * units_, b.data() + 2 * units_);
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
  for (const char* k : {"kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                        "kernel_constraint", "recurrent_constraint", "bias_constraint"})
    c[k] = nullptr;
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
  if (c.contains("seed") && c["seed"].is_number_integer()) o.seed = c["seed"].get<int64_t>();
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
  auto l = std::make_shared<L>(c.at("units").get<int64_t>(), recurrent_options_from(c));
  apply_common(*l, c);
  return l;
}
}  // namespace

LayerPtr simple_rnn_from_config(const Json& c) { return recurrent_from<SimpleRNN>(c); }
LayerPtr lstm_from_config(const Json& c) { return recurrent_from<LSTM>(c); }
LayerPtr gru_from_config(const Json& c) { return recurrent_from<GRU>(c); }

}  // namespace config

}  // namespace seqnet
