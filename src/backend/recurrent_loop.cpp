// The recurrent loop shared by SimpleRNN, LSTM and GRU (Backend::recurrent_forward / recurrent_backward): it
// owns time, direction (go_backwards), masks, dropout masks, states and the input projection; the cell
// (recurrent_cells.cpp) does the math of one step. Forward keeps every step's states and cache; backward walks
// time in reverse.
//
// Performance shape: each step is one h @ recurrent_kernel product (one per gate with recurrent dropout) plus
// fused elementwise gates, its input projection made beside it; every buffer is allocated once per call, none
// per step. The CPU backend splits the batch's rows over threads, each running the whole sequence.
#include <algorithm>
#include <fmt/format.h>
#include <omp.h>

#include "backend/recurrent.h"
#include "kernels/blas.h"
#include "kernels/fast_math.h"
#include "kernels/parallel.h"
#include "kernels/rnn_kernels.h"
#include "seqnet/threads.h"

namespace seqnet {

namespace {
// Gives t the shape s, reusing its memory when the shape is unchanged: the contents are then stale, not zero
// (callers write before they read).
void reuse(Tensor& t, const Shape& s) {
  if (t.shape() != s) t = Tensor::uninitialized(s);
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
  if (!kernels::worth_splitting(flops)) return 1;
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

// The recurrent dropout masks of a shard's rows: its own copy when the batch is split, else the call's.
const float* shard_rec_masks(const RecurrentTape& tape, const RecurrentTape::Shard& sh) {
  if (!sh.rmask.empty()) return sh.rmask.data();
  return tape.rec_masks.empty() ? nullptr : tape.rec_masks.data();
}

[[noreturn]] void fail(const std::string& what) { throw Error("recurrent loop: " + what); }
}  // namespace

void recurrent_loop_forward(bool plain, const rnn::Cell& cell, const RecurrentForward& call, RecurrentTape& tape,
                            Tensor& y, std::vector<Tensor>& final_states) {
  kernels::DenormalsAreZero daz;
  const bool from_rows = call.rows != nullptr;
  if (from_rows ? call.x || !call.row_of || call.rows->rank() != 2 || call.row_of->rank() != 2 ||
                      call.row_of->dtype() != DType::int32
                : !call.x || call.x->rank() != 3)
    fail("needs x (B, T, in), or rows (n, in) and row_of (B, T) int32");
  const Tensor& x = from_rows ? *call.rows : *call.x;
  const int64_t B = from_rows ? call.row_of->dim(0) : x.dim(0), T = from_rows ? call.row_of->dim(1) : x.dim(1);
  const int64_t in = from_rows ? x.dim(1) : x.dim(2), u = cell.units();
  const int G = cell.gates(), S = cell.states();
  const int64_t Gu = G * u;
  const Tensor* bias = call.bias;
  const bool two_biases = bias && bias->rank() == 2;  // GRU reset_after: [input row, recurrent row]
  auto t_of = [&](int64_t s) { return call.go_backwards ? T - 1 - s : s; };  // step s reads time t_of(s)

  tape.x_shape = {B, T, in};
  tape.go_backwards = call.go_backwards;
  tape.return_sequences = call.return_sequences;
  tape.zero_output_for_mask = call.zero_output_for_mask;
  tape.step_mask = Tensor();
  if (call.mask) {
    const Tensor m = call.mask->as_float();
    tape.step_mask = Tensor({T, B});
    for (int64_t s = 0; s < T; ++s)
      for (int64_t b = 0; b < B; ++b) tape.step_mask[s * B + b] = m[b * T + t_of(s)] != 0.0f ? 1.0f : 0.0f;
  }
  tape.in_masks = call.input_dropout ? *call.input_dropout : Tensor();
  tape.rec_masks = call.recurrent_dropout ? *call.recurrent_dropout : Tensor();
  const Tensor& in_masks = tape.in_masks;
  const Tensor& rec_masks = tape.rec_masks;

  // Time-major input in processing order. Its projection x W + b: step by step inside the time loop, where
  // each shard's rows stay in cache until the step reads them (the projection of all steps at once is tens of
  // MB written, then read back from memory); for all steps at once under input dropout (per-gate masks).
  // Inference reads each step's rows straight from the batch-major input (row stride T*in); the time-major
  // copy exists for backward's kernel gradient and for the masked projection.
  // Few rows (batch 1, a short sequence): all steps' projections at once, which take a few hundred KB and leave
  // each step only its recurrent product, the chain one sample cannot shorten. Each row's values are the same
  // either way (small_gemm computes a row alike in any block of rows).
  // From rows: each row's projection once, gathered by every step (tape.xw (n, Gu)); backward reads the rows.
  constexpr int64_t kSmallProjection = int64_t(1) << 17;  // floats: 512 KB, within L2
  const bool project_all_unmasked = !from_rows && in_masks.empty() && T * B * Gu <= kSmallProjection;
  const bool project_per_step = !from_rows && in_masks.empty() && !project_all_unmasked;
  const bool time_major_copy = !from_rows && (call.keep_for_backward || !project_per_step);
  // tape.xw (n, Gu) = rows (n, in) W + b
  auto project_rows = [&](const float* rows, int64_t n) {
    reuse(tape.xw, {n, Gu});
    if (bias)
      kernels::small_gemm_bias(n, Gu, in, rows, in, call.kernel->data(), Gu, bias->data(), tape.xw.data(), Gu);
    else
      kernels::small_gemm(n, Gu, in, rows, in, call.kernel->data(), Gu, tape.xw.data(), Gu, false);
  };
  tape.row_of = Tensor();
  if (from_rows) {
    if (!in_masks.empty()) fail("input dropout needs x, not rows");
    const int64_t n = x.dim(0);
    tape.row_of = Tensor({T, B}, DType::int32);
    const int32_t* row_of = call.row_of->idata();
    for (int64_t s = 0; s < T; ++s)
      for (int64_t b = 0; b < B; ++b) {
        const int32_t r = row_of[b * T + t_of(s)];
        if (r < 0 || r >= n) fail(fmt::format("row_of[{}, {}] = {} is not a row of rows (n = {})", b, t_of(s), r, n));
        tape.row_of.idata()[s * B + b] = r;
      }
    if (call.keep_for_backward) tape.xs = x;
    else tape.xs = Tensor();
    project_rows(x.data(), n);
  } else {
    if (time_major_copy) {
      reuse(tape.xs, {T, B, in});
      transpose_time(x.data(), tape.xs.data(), B, T, in, call.go_backwards, /*to_time_major=*/true);
    } else {
      tape.xs = Tensor();
    }
    if (project_per_step) {
      tape.xw = Tensor();
    } else if (project_all_unmasked) {
      project_rows(tape.xs.data(), T * B);
    } else {
      reuse(tape.xw, {T, B, Gu});
      const float* m = in_masks.data();
      const bool shared = in_masks.dim(0) == 1;  // one mask for all gates: a single block of G*u columns
      std::vector<float> scratch(size_t(2 * T * B * in));
      kernels::gate_matmul_forward(tape.xw.data(), Gu, tape.xs.data(), T * B, in, call.kernel->data(), Gu,
                                   shared ? Gu : u, 0, shared ? 1 : G, m, B, scratch.data(),
                                   bias ? bias->data() : nullptr);
    }
  }

  // States: (S, T+1, B, u). Step 0 starts from the initial states, or zeros. Backward reads every step's states
  // and cell caches; inference only needs the current step, so it keeps two state slots and one step of cache,
  // which stay in cache instead of streaming tens of MB to memory.
  tape.kept_for_backward = call.keep_for_backward;
  tape.plain = plain;
  const bool kept = call.keep_for_backward;
  const int64_t slots = kept ? T + 1 : 2;
  reuse(tape.states, {S, slots, B, u});
  auto state_at = [&](int k, int64_t s) { return tape.states.data() + (k * slots + s % slots) * B * u; };
  const std::vector<Tensor>* init = call.initial_states;
  for (int k = 0; k < S; ++k) {
    if (!init) {
      std::fill_n(state_at(k, 0), B * u, 0.0f);
      continue;
    }
    const Tensor& s0 = (*init)[size_t(k)];
    if (s0.shape() != Shape{B, u}) fail(fmt::format("initial state {} must be ({}, {}), got {}", k, B, u, s0.shape_string()));
    std::copy_n(s0.data(), B * u, state_at(k, 0));
  }

  const bool fused = cell.fused() && !plain;
  const int n_shards = plain ? 1 : shard_count(B, T, in, Gu, u, fused);
  tape.shards.resize(size_t(n_shards));
  for (int j = 0; j < n_shards; ++j) {
    RecurrentTape::Shard& sh = tape.shards[size_t(j)];
    // Boundaries on multiples of 8 rows: a shard's rows then start on a cache line of every (B, ·) buffer
    // (tensor blocks are 64-byte aligned), so the threads never write to one line. The values do not depend
    // on the split: every kernel gives each row the same bits in any block of rows.
    auto boundary = [&](int i) { return i == n_shards ? B : B * i / n_shards / 8 * 8; };
    sh.b0 = boundary(j);
    sh.b1 = boundary(j + 1);
    const int64_t Bj = sh.b1 - sh.b0;
    reuse(sh.cache, {kept ? T : 1, cell.cache_floats(Bj)});
    sh.rmask = Tensor();
    if (n_shards > 1 && !rec_masks.empty()) {
      sh.rmask = Tensor({G, Bj, u});
      for (int k = 0; k < G; ++k)
        std::copy_n(rec_masks.data() + (k * B + sh.b0) * u, Bj * u, sh.rmask.data() + k * Bj * u);
    }
  }
  rnn::CellWeights w{call.recurrent_kernel->data(), two_biases ? bias->data() + Gu : nullptr, nullptr, nullptr};
  w.plain = plain;
  const float* mask = tape.step_mask.empty() ? nullptr : tape.step_mask.data();
  const bool seq = call.return_sequences;
  y = Tensor::uninitialized(seq ? Shape{B, T, u} : Shape{B, u});  // every row of every step is written

  for_each_shard(n_shards, [&](int j) {
    RecurrentTape::Shard& sh = tape.shards[size_t(j)];
    const int64_t b0 = sh.b0, Bj = sh.b1 - sh.b0;
    const int64_t cache_n = kept ? sh.cache.dim(1) : 0;  // 0: one step's cache, reused
    const float* rmask = shard_rec_masks(tape, sh);
    std::vector<float> scratch(size_t(cell.scratch_floats(Bj)));
    std::vector<float> xw_step(project_per_step || from_rows ? size_t(Bj * Gu) : 0);
    const float* in_kernel = call.kernel->data();
    const float* in_bias = bias ? bias->data() : nullptr;
    for (int64_t s = 0; s < T; ++s) {
      const float* xw_s;
      if (from_rows) {
        const int32_t* row_of = tape.row_of.idata() + s * B;
        for (int64_t b = b0; b < sh.b1; ++b)
          std::copy_n(tape.xw.data() + int64_t(row_of[b]) * Gu, Gu, xw_step.data() + (b - b0) * Gu);
        xw_s = xw_step.data();
      } else if (project_per_step) {
        const float* rows = time_major_copy ? tape.xs.data() + (s * B + b0) * in : x.data() + (b0 * T + t_of(s)) * in;
        const int64_t ld = time_major_copy ? in : T * in;
        if (in_bias) kernels::small_gemm_bias(Bj, Gu, in, rows, ld, in_kernel, Gu, in_bias, xw_step.data(), Gu);
        else kernels::small_gemm(Bj, Gu, in, rows, ld, in_kernel, Gu, xw_step.data(), Gu, false);
        xw_s = xw_step.data();
      } else {
        xw_s = tape.xw.data() + (s * B + b0) * Gu;
      }
      rnn::StepTensors st{xw_s, state_at(0, s) + b0 * u,
                          S > 1 ? state_at(1, s) + b0 * u : nullptr, state_at(0, s + 1) + b0 * u,
                          S > 1 ? state_at(1, s + 1) + b0 * u : nullptr, sh.cache.data() + s * cache_n, rmask};
      cell.step_forward(w, st, Bj, scratch.data());
      for (int64_t b = b0; b < sh.b1; ++b) {
        const bool masked = mask && mask[s * B + b] == 0.0f;
        if (masked)  // a masked step carries the states over
          for (int k = 0; k < S; ++k) std::copy_n(state_at(k, s) + b * u, u, state_at(k, s + 1) + b * u);
        if (seq || s == T - 1) {
          float* out = seq ? y.data() + (b * T + s) * u : y.data() + b * u;
          if (masked && call.zero_output_for_mask) std::fill_n(out, u, 0.0f);
          else std::copy_n(state_at(0, s + 1) + b * u, u, out);
        }
      }
    }
  });

  final_states.assign(size_t(S), Tensor());
  for (int k = 0; k < S; ++k) {
    final_states[size_t(k)] = Tensor::uninitialized({B, u});
    std::copy_n(state_at(k, T), B * u, final_states[size_t(k)].data());
  }
}

void recurrent_loop_backward(bool plain, const rnn::Cell& cell, const RecurrentBackward& call, RecurrentTape& tape) {
  if (tape.x_shape.size() != 3) fail("backward called before forward");
  if (!tape.kept_for_backward) fail("backward after a forward that did not keep its activations (keep_for_backward)");
  if (tape.plain != plain) fail("backward on another backend than its forward");
  kernels::DenormalsAreZero daz;  // fading gradients must not fall into the slow denormal range
  const int64_t B = tape.x_shape[0], T = tape.x_shape[1], in = tape.x_shape[2], u = cell.units();
  const int G = cell.gates(), S = cell.states();
  const int64_t Gu = G * u;
  const bool seq = tape.return_sequences;
  const Tensor* dy_ptr = call.dy;
  static const std::vector<Tensor> no_final;
  const std::vector<Tensor>& d_final = call.d_final ? *call.d_final : no_final;
  if (dy_ptr && dy_ptr->shape() != (seq ? Shape{B, T, u} : Shape{B, u}))
    fail("backward got a gradient of shape " + dy_ptr->shape_string());
  for (const Tensor& d : d_final)
    if (!d.empty() && d.shape() != Shape{B, u}) fail("backward got a final-state gradient of shape " + d.shape_string());
  const Tensor& kernel = *call.kernel;
  const Tensor& rkernel = *call.recurrent_kernel;
  const Tensor* bias = call.bias;
  const bool two_biases = bias && bias->rank() == 2;
  auto state_at = [&](int k, int64_t s) { return tape.states.data() + (k * (T + 1) + s) * B * u; };

  rnn::CellWeights w{rkernel.data(), two_biases ? bias->data() + Gu : nullptr, call.drecurrent_kernel->data(),
                     two_biases ? call.dbias->data() + Gu : nullptr};
  w.plain = plain;
  Tensor& dxw = tape.dxw;  // every step writes its rows
  reuse(dxw, {T, B, Gu});
  const float* mask = tape.step_mask.empty() ? nullptr : tape.step_mask.data();
  // Fused cells: dh_prev through the transposed recurrent kernel per step, and the recurrent weight
  // gradients of all steps in one GEMM after the loop (from the states and the per-step gate gradients).
  const bool fused = cell.fused() && !plain;
  Tensor& drec = tape.drec;
  if (fused) {
    reuse(tape.rkernel_t, {Gu, u});
    kernels::transpose(rkernel.data(), u, Gu, tape.rkernel_t.data());
    w.recurrent_kernel_t = tape.rkernel_t.data();
    if (cell.separate_drec()) reuse(drec, {T, B, Gu});
    else drec = Tensor();
  }
  // Shards exist only for fused cells, whose steps leave the shared weight gradients alone.
  const int n_shards = int(tape.shards.size());
  std::vector<Tensor>& d_initial = *call.d_initial;
  d_initial.assign(size_t(S), Tensor());
  for (Tensor& d : d_initial) d = Tensor({B, u});
  const bool zero_output_for_mask = tape.zero_output_for_mask;

  for_each_shard(n_shards, [&](int j) {
    RecurrentTape::Shard& sh = tape.shards[size_t(j)];
    const int64_t b0 = sh.b0, Bj = sh.b1 - sh.b0;
    const int64_t cache_n = sh.cache.dim(1);
    const float* rmask = shard_rec_masks(tape, sh);
    std::vector<float> scratch(size_t(cell.scratch_floats(Bj)));
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
        if (masked && zero_output_for_mask) continue;  // the output was a constant 0
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
      cell.step_backward(w, st, Bj, cell_g.data(), S > 1 ? cell_g.data() + Bj * u : nullptr,
                         dxw.data() + (s * B + b0) * Gu, d_prev.data(), S > 1 ? d_prev.data() + Bj * u : nullptr,
                         scratch.data());
      if (mask)
        for (int64_t b = b0; b < sh.b1; ++b)
          if (mask[s * B + b] == 0.0f)
            for (int k = 0; k < S; ++k)
              for (int64_t i = 0; i < u; ++i) d_prev[(k * Bj + b - b0) * u + i] += g[(k * Bj + b - b0) * u + i];
      std::swap(d_next, d_prev);
    }
    for (int k = 0; k < S; ++k)
      std::copy_n(d_next.data() + k * Bj * u, Bj * u, d_initial[size_t(k)].data() + b0 * u);
  });
  const Tensor& rec_masks = tape.rec_masks;
  if (fused) {
    const float* D = drec.empty() ? dxw.data() : drec.data();  // (T*B, Gu), rows aligned with the h_prev rows
    // The recurrent bias gradient (GRU reset_after) is the column sums of D, taken while the GEMM reads it.
    kernels::recurrent_weight_grad(state_at(0, 0), rec_masks.empty() ? nullptr : rec_masks.data(), D,
                                   call.drecurrent_kernel->data(), T * B, B, u, G,
                                   two_biases ? call.dbias->data() + Gu : nullptr);
  }

  // From rows: each row's gradient sums its positions' (in the order of the steps, then the batch), then the
  // products of the rows, not of every position.
  float* dbias = call.dbias ? call.dbias->data() : nullptr;
  if (!tape.row_of.empty()) {
    if (call.dx) fail("a forward from rows gives the rows' gradient (drows), not dx");
    const int64_t n = tape.xs.dim(0);
    if (dbias) kernels::add_column_sums(dbias, dxw.data(), T * B, Gu);
    Tensor drows_projected({n, Gu});
    backend().embedding_backward(drows_projected, dxw, tape.row_of);  // the rows of dxw added at their row
    kernels::small_gemm_tn(in, Gu, n, tape.xs.data(), in, drows_projected.data(), Gu, call.dkernel->data(), Gu, true,
                           nullptr);
    if (!call.drows) return;
    std::vector<float> kernel_t(size_t(Gu * in));
    kernels::transpose(kernel.data(), in, Gu, kernel_t.data());
    *call.drows = Tensor::uninitialized({n, in});
    kernels::small_gemm(n, in, Gu, drows_projected.data(), Gu, kernel_t.data(), in, call.drows->data(), in, false);
    return;
  }

  // The input projection for all steps at once; its bias gradient is the column sums of dxw.
  // The input gradient only when the caller wants it (not for the first layer of a training step).
  const bool want_dx = call.dx != nullptr;
  const float* m = tape.in_masks.empty() ? nullptr : tape.in_masks.data();
  // The masked product accumulates into dxs; the unmasked one writes every value.
  Tensor dxs = !want_dx ? Tensor() : m ? Tensor({T, B, in}) : Tensor::uninitialized({T, B, in});
  const bool shared = m && tape.in_masks.dim(0) == 1;
  if (!m) {
    // Tall and skinny (T*B rows, in and G*u small): blocked kernels without a BLAS's packing overhead.
    kernels::small_gemm_tn(in, Gu, T * B, tape.xs.data(), in, dxw.data(), Gu, call.dkernel->data(), Gu, true, dbias);
    if (want_dx) {
      std::vector<float> kernel_t(size_t(Gu * in));
      kernels::transpose(kernel.data(), in, Gu, kernel_t.data());
      kernels::small_gemm(T * B, in, Gu, dxw.data(), Gu, kernel_t.data(), in, dxs.data(), in, false);
    }
  } else {
    if (dbias) kernels::add_column_sums(dbias, dxw.data(), T * B, Gu);
    std::vector<float> mm_scratch(size_t(2 * T * B * in));
    kernels::gate_matmul_backward(want_dx ? dxs.data() : nullptr, call.dkernel->data(), dxw.data(), Gu,
                                  tape.xs.data(), T * B, in, kernel.data(), Gu, shared ? Gu : u, 0, shared ? 1 : G, m,
                                  B, mm_scratch.data());
  }
  if (!want_dx) return;
  *call.dx = Tensor::uninitialized(tape.x_shape);
  transpose_time(dxs.data(), call.dx->data(), B, T, in, tape.go_backwards, /*to_time_major=*/false);
}

}  // namespace seqnet
