// The CPU backend: the reference backend with the ops that pay for tuning overridden. Each keeps the reference's
// arithmetic per element (the same bits: tests/unit/test_ops.cpp); what changes is how the elements are walked.
#include <algorithm>
#include <bit>
#include <cmath>
#include <exception>
#include <limits>
#include <omp.h>

#include "backend/recurrent.h"
#include "backend/reference_backend.h"
#include "kernels/blas.h"
#include "kernels/conv1d_kernels.h"
#include "kernels/parallel.h"
#include "seqnet/threads.h"

namespace seqnet {

namespace {
typedef float Floats8 __attribute__((vector_size(32)));
typedef int32_t Ints8 __attribute__((vector_size(32)));
Floats8 load_floats8(const float* p) {
  Floats8 v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

// Runs part(begin, end) over [0, n) split over threads for large tensors (an embedding table's update): every
// element is computed on its own, so the result is the same on any thread count.
template <typename Part>
void split_elements(int64_t n, Part&& part) {
  kernels::split_range(long(n), 64, 16.0 * double(n), std::forward<Part>(part));
}

// One share of Adam's update, with the amsgrad test hoisted and no aliasing, so that it vectorizes (sqrt and
// divide included).
template <bool kAmsgrad>
void adam_range(float* __restrict v, const float* __restrict g, float* __restrict m, float* __restrict s,
                float* __restrict vhat, long begin, long end, float b1, float b2, float alpha, float eps) {
  for (long i = begin; i < end; ++i) {
    m[i] += (g[i] - m[i]) * (1.0f - b1);
    s[i] += (g[i] * g[i] - s[i]) * (1.0f - b2);
    float second_moment = s[i];
    if constexpr (kAmsgrad) {
      vhat[i] = std::max(vhat[i], s[i]);
      second_moment = vhat[i];
    }
    v[i] -= m[i] * alpha / (std::sqrt(second_moment) + eps);
  }
}

class CpuBackend final : public ReferenceBackend {
 public:
  const char* name() const override { return "cpu"; }

  void sgd_update(Tensor& value, const Tensor& grad, Tensor* velocity, const SgdStep& step) override {
    float* v = value.data();
    const float* g = grad.data();
    const float lr = step.learning_rate;
    if (!velocity) {
      split_elements(value.size(), [&](long begin, long end) {
        for (long i = begin; i < end; ++i) v[i] -= lr * g[i];
      });
      return;
    }
    float* m = velocity->data();
    split_elements(value.size(), [&](long begin, long end) {
      for (long i = begin; i < end; ++i) {
        m[i] = step.momentum * m[i] - lr * g[i];
        v[i] += step.nesterov ? step.momentum * m[i] - lr * g[i] : m[i];
      }
    });
  }

  void rmsprop_update(Tensor& value, const Tensor& grad, Tensor& velocity, Tensor* average_gradient, Tensor* momentum,
                      const RmspropStep& step) override {
    if (average_gradient || momentum) {
      // Centered or with momentum (not Keras's default): the reference's loop, on one thread.
      ReferenceBackend::rmsprop_update(value, grad, velocity, average_gradient, momentum, step);
      return;
    }
    // The default as a loop of its own, so that it vectorizes; the same arithmetic as the reference.
    float* __restrict v = value.data();
    const float* __restrict g = grad.data();
    float* __restrict vel = velocity.data();
    const float lr = step.learning_rate, rho = step.rho, eps = step.epsilon;
    split_elements(value.size(), [&](long begin, long end) {
      for (long i = begin; i < end; ++i) {
        const float gi = g[i];
        const float ve = rho * vel[i] + (1.0f - rho) * gi * gi;
        vel[i] = ve;
        v[i] -= lr * gi / std::sqrt(ve + eps);
      }
    });
  }

  void adam_update(Tensor& value, const Tensor& grad, Tensor& m_slot, Tensor& v_slot, Tensor* v_hat,
                   const AdamStep& step) override {
    float* v = value.data();
    const float* g = grad.data();
    float* m = m_slot.data();
    float* s = v_slot.data();
    float* vhat = v_hat ? v_hat->data() : nullptr;
    split_elements(value.size(), [&](long begin, long end) {
      if (vhat) adam_range<true>(v, g, m, s, vhat, begin, end, step.beta_1, step.beta_2, step.alpha, step.epsilon);
      else adam_range<false>(v, g, m, s, nullptr, begin, end, step.beta_1, step.beta_2, step.alpha, step.epsilon);
    });
  }

  // The dense algebra runs on the kernels (src/kernels): OpenBLAS or the register-blocked small GEMM, im2col-free
  // convolution paths, vectorized activations with fast_math.h's exp and tanh (a few ulp from libm's).
  void copy(Tensor& dst, const Tensor& src) override { kernels::copy(src.data(), long(src.size()), dst.data()); }

  void matmul_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias) override {
    const int64_t in_dim = weight.dim(0), out_dim = weight.dim(1);
    kernels::matmul_forward(out.data(), x.data(), weight.data(), bias ? bias->data() : nullptr, x.size() / in_dim,
                            in_dim, out_dim);
  }

  void matmul_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                       const Tensor& weight) override {
    const int64_t in_dim = weight.dim(0), out_dim = weight.dim(1);
    kernels::matmul_backward(dx ? dx->data() : nullptr, dweight.data(), dbias ? dbias->data() : nullptr, dout.data(),
                             x.data(), weight.data(), x.size() / in_dim, in_dim, out_dim);
  }

  void conv1d_forward(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const Windows& w) override {
    kernels::conv1d_forward(out.data(), x.data(), weight.data(), bias ? bias->data() : nullptr, x.dim(0), x.dim(1),
                            x.dim(2), weight.dim(2), weight.dim(0), out.dim(1), w.strides, w.dilation, w.pad_left);
  }

  void conv1d_backward(Tensor* dx, Tensor& dweight, Tensor* dbias, const Tensor& dout, const Tensor& x,
                       const Tensor& weight, const Windows& w) override {
    kernels::conv1d_backward(dx ? dx->data() : nullptr, dweight.data(), dbias ? dbias->data() : nullptr, dout.data(),
                             x.data(), weight.data(), x.dim(0), x.dim(1), x.dim(2), weight.dim(2), weight.dim(0),
                             dout.dim(1), w.strides, w.dilation, w.pad_left);
  }

  void activation_forward(Activation act, Tensor& y, const Tensor& x) override {
    seqnet::activation_forward(act, x.data(), y.data(), long(x.size()), x.rank() ? long(x.dim(-1)) : 1L);
  }

  void activation_backward(Activation act, Tensor& dx, const Tensor& x, const Tensor& y, const Tensor& dy) override {
    seqnet::activation_backward(act, x.empty() ? nullptr : x.data(), y.empty() ? nullptr : y.data(), dy.data(),
                                dx.data(), long(dy.size()), dy.rank() ? long(dy.dim(-1)) : 1L);
  }

  // The fused Embedding + Conv1D's projections as GEMMs over the distinct rows.
  void embedding_project(Tensor& projected, const Tensor& rows, const Tensor& weight) override {
    const int64_t C = weight.dim(1), KF = weight.dim(0) * weight.dim(2);
    const Tensor w = channels_first(weight);
    kernels::gemm(false, false, long(rows.dim(0)), long(KF), long(C), 1.0f, rows.data(), long(C), w.data(), long(KF),
                  0.0f, projected.data(), long(KF));
  }

  void embedding_project_backward(Tensor* drows, Tensor& dweight, const Tensor& dprojected, const Tensor& rows,
                                  const Tensor& weight) override {
    const int64_t K = weight.dim(0), C = weight.dim(1), F = weight.dim(2), KF = K * F, n = rows.dim(0);
    // dweight (as (C, K*F)) += rows^T dprojected
    Tensor dw = Tensor::uninitialized({C, KF});
    kernels::gemm(true, false, long(C), long(KF), long(n), 1.0f, rows.data(), long(C), dprojected.data(), long(KF),
                  0.0f, dw.data(), long(KF));
    float* dweights = dweight.data();
    for (int64_t j = 0; j < K; ++j)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t f = 0; f < F; ++f) dweights[(j * C + c) * F + f] += dw.data()[c * KF + j * F + f];
    if (!drows) return;
    // drows = dprojected (n, K*F) @ weight^T (K*F, C)
    const Tensor w = channels_first(weight);
    kernels::gemm(false, true, long(n), long(C), long(KF), 1.0f, dprojected.data(), long(KF), w.data(), long(KF), 0.0f,
                  drows->data(), long(C));
  }

  // The gathers below read rows of a matrix larger than the caches in the order of the batch's ids: the
  // hardware cannot guess the next one, so each position asks for the rows it will read kGatherAhead positions
  // later (the fused IMDB Conv1D's forward gather took 25 % less time on one thread; values unchanged).
  static constexpr int64_t kGatherAhead = 4;
  static void prefetch(const float* p, int64_t n) {
    const char* bytes = reinterpret_cast<const char*>(p);
    for (int64_t at = 0; at < n * int64_t(sizeof(float)); at += 64) __builtin_prefetch(bytes + at);
  }

  // The gathers walk the input positions instead of the outputs: each distinct row is read once per position,
  // whole (K*F contiguous values), not K times in pieces at random; every output still adds its taps in the
  // reference's order (tap j of output t reads position t*strides + j*dilation - pad_left, which grows with j).
  void gather_conv1d_forward(Tensor& out, const Tensor& projected, const Tensor& slots, const Tensor* bias,
                             const Windows& w) override {
    const int64_t B = out.dim(0), Lout = out.dim(1), F = out.dim(2), L = slots.dim(1), KF = projected.dim(1);
    const int32_t* slot = slots.idata();
    const float* rows = projected.data();
    const float* b0 = bias ? bias->data() : nullptr;
    float* o = out.data();
    for_each_piece(B, 1, 2.0 * double(B * Lout * KF), [&](int64_t first, int64_t end) {
      for (int64_t b = first; b < end; ++b) {
        float* ob = o + b * Lout * F;
        for (int64_t t = 0; t < Lout; ++t)
          for (int64_t f = 0; f < F; ++f) ob[t * F + f] = b0 ? b0[f] : 0.0f;
        for (int64_t p = 0; p < L; ++p) {
          const float* __restrict row = rows + int64_t(slot[b * L + p]) * KF;
          if (p + kGatherAhead < L) prefetch(rows + int64_t(slot[b * L + p + kGatherAhead]) * KF, KF);
          for (int64_t j = 0; j < w.size; ++j) {
            const int64_t at = p + w.pad_left - j * w.dilation;  // = t * strides
            if (at < 0) break;
            if (at % w.strides != 0 || at / w.strides >= Lout) continue;
            float* __restrict dst = ob + (at / w.strides) * F;
            const float* __restrict src = row + j * F;
            for (int64_t f = 0; f < F; ++f) dst[f] += src[f];
          }
        }
      }
    });
  }

  // Each distinct row is written once, whole, by one thread: the input positions are sorted by row first (a
  // stable counting sort), and each row sums its terms in ascending (b, t) order as the reference does; no
  // zero-filled copy of the whole matrix, no random read-modify-writes of it.
  void gather_conv1d_backward(Tensor& dprojected, Tensor* dbias, const Tensor& dout, const Tensor& slots,
                              const Windows& w) override {
    const int64_t B = dout.dim(0), Lout = dout.dim(1), F = dout.dim(2), L = slots.dim(1), KF = dprojected.dim(1);
    const int64_t rows_count = dprojected.dim(0), positions = B * L;
    const int32_t* slot = slots.idata();
    const float* g = dout.data();
    float* rows = dprojected.data();
    if (dbias) kernels::add_column_sums(dbias->data(), g, long(B * Lout), long(F));
    std::vector<int64_t> first(static_cast<size_t>(rows_count + 1), 0);
    for (int64_t i = 0; i < positions; ++i) ++first[static_cast<size_t>(slot[i]) + 1];
    for (int64_t u = 0; u < rows_count; ++u) first[u + 1] += first[u];
    std::vector<int64_t> next(first.begin(), first.end() - 1);
    std::vector<int64_t> by_row(static_cast<size_t>(positions));
    for (int64_t i = 0; i < positions; ++i) by_row[static_cast<size_t>(next[slot[i]]++)] = i;
    // Pieces of equal numbers of positions, not of rows: the rows first seen early in the batch are seen most.
    // A piece takes the rows whose first position (in by_row) falls in it; the last one also any empty rows.
    for_each_piece(positions, 1, 2.0 * double(B * Lout * KF), [&](int64_t k0, int64_t k1) {
      const auto row_at = [&](int64_t k) {
        return int64_t(std::lower_bound(first.begin(), first.begin() + rows_count, k) - first.begin());
      };
      const int64_t u0 = row_at(k0), u1 = k1 == positions ? rows_count : row_at(k1);
      for (int64_t u = u0; u < u1; ++u) {
        float* __restrict row = rows + u * KF;
        std::fill_n(row, KF, 0.0f);
        for (int64_t k = first[u]; k < first[u + 1]; ++k) {
          const int64_t b = by_row[k] / L, p = by_row[k] % L;
          if (k + kGatherAhead < positions) {  // the output rows that position's windows read
            const int64_t b_ahead = by_row[k + kGatherAhead] / L, p_ahead = by_row[k + kGatherAhead] % L;
            const int64_t last = p_ahead + w.pad_left, first_at = last - (w.size - 1) * w.dilation;
            const int64_t lo = std::clamp<int64_t>(first_at / w.strides, 0, Lout);
            const int64_t hi = std::clamp<int64_t>(last / w.strides + 1, 0, Lout);
            prefetch(g + (b_ahead * Lout + lo) * F, (hi - lo) * F);
          }
          for (int64_t j = 0; j < w.size; ++j) {
            const int64_t at = p + w.pad_left - j * w.dilation;
            if (at < 0) break;
            if (at % w.strides != 0 || at / w.strides >= Lout) continue;
            const float* __restrict src = g + (b * Lout + at / w.strides) * F;
            float* __restrict dst = row + j * F;
            for (int64_t f = 0; f < F; ++f) dst[f] += src[f];
          }
        }
      }
    });
  }

  // The reference's comparisons with the branch taken out of the channel loop (selects instead of an if per
  // value), so that it vectorizes; the same values and arguments, NaN included (a comparison with NaN is false).
  void max_pool_forward(Tensor& y, Tensor* argmax, const Tensor& x, const Windows& w) override {
    if (!argmax) {
      ReferenceBackend::max_pool_forward(y, argmax, x, w);
      return;
    }
    const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2), Lout = y.dim(1);
    const float* in = x.data();
    float* out = y.data();
    int32_t* args = argmax->idata();
    for_each_piece(B, 1, 100.0 * double(B * L * C), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        for (int64_t t = 0; t < Lout; ++t) {
          const int64_t first = std::max<int64_t>(t * w.strides - w.pad_left, 0);
          const int64_t end = std::min<int64_t>(t * w.strides - w.pad_left + w.size, L);
          float* __restrict o = out + (b * Lout + t) * C;
          int32_t* __restrict arg = args + (b * Lout + t) * C;
          if (first >= end) {
            std::fill_n(o, C, -std::numeric_limits<float>::infinity());
            std::fill_n(arg, C, -1);
            continue;
          }
          // 8 channels at a time in vector registers over the window; the last C % 8 one by one.
          int64_t c0 = 0;
          for (; c0 + 8 <= C; c0 += 8) {
            Floats8 best = load_floats8(in + (b * L + first) * C + c0);
            Ints8 at = Ints8{} + int32_t(first);
            for (int64_t p = first + 1; p < end; ++p) {
              const Floats8 row = load_floats8(in + (b * L + p) * C + c0);
              const Ints8 greater = row > best;
              at = greater ? Ints8{} + int32_t(p) : at;
              best = greater ? row : best;
            }
            __builtin_memcpy(o + c0, &best, sizeof(best));
            __builtin_memcpy(arg + c0, &at, sizeof(at));
          }
          for (int64_t c = c0; c < C; ++c) {
            o[c] = in[(b * L + first) * C + c];
            arg[c] = int32_t(first);
            for (int64_t p = first + 1; p < end; ++p)
              if (in[(b * L + p) * C + c] > o[c]) o[c] = in[(b * L + p) * C + c], arg[c] = int32_t(p);
          }
        }
    });
  }

  // The reference's draws and comparisons, without a branch (which values are dropped is random, so a branch is
  // mispredicted at every other change): uniform() is u24 * 2^-24 exactly, so u >= rate <=> u24 >= ceil(rate *
  // 2^24), and the kept value is scale's bits masked by the comparison (scale or +0, as the reference).
  void dropout_mask(Tensor& keep, Rng& rng, float rate, float scale) override {
    const double threshold = std::ceil(double(rate) * 0x1.0p24);
    // A NaN rate keeps nothing, as the reference's comparison with NaN.
    const uint64_t first_kept = threshold <= 0.0                              ? 0
                                : !(threshold <= 0x1.0p25) ? (uint64_t(1) << 25)
                                                                              : uint64_t(threshold);
    const uint32_t scale_bits = std::bit_cast<uint32_t>(scale);
    float* k = keep.data();
    for (int64_t i = 0; i < keep.size(); ++i) {
      const uint64_t u24 = rng.next_u64() >> 40;
      k[i] = std::bit_cast<float>(scale_bits & (uint32_t(0) - uint32_t(u24 >= first_kept)));
    }
  }

  void adagrad_update(Tensor& value, const Tensor& grad, Tensor& accumulator, const AdagradStep& step) override {
    float* v = value.data();
    const float* g = grad.data();
    float* acc = accumulator.data();
    split_elements(value.size(), [&](long begin, long end) {
      for (long i = begin; i < end; ++i) {
        acc[i] += g[i] * g[i];
        v[i] -= step.learning_rate * g[i] / std::sqrt(acc[i] + step.epsilon);
      }
    });
  }

  void recurrent_forward(const rnn::Cell& cell, const RecurrentForward& call, RecurrentTape& tape, Tensor& y,
                         std::vector<Tensor>& final_states) override {
    recurrent_loop_forward(/*plain=*/false, cell, call, tape, y, final_states);
  }
  void recurrent_backward(const rnn::Cell& cell, const RecurrentBackward& call, RecurrentTape& tape) override {
    recurrent_loop_backward(/*plain=*/false, cell, call, tape);
  }

  // With two or more threads (and outside any parallel region) a() and b() run at once, one per thread (GEMMs
  // inside a parallel region run on their caller's thread). Every kernel gives the same results on one thread as
  // on two, so the outcome is bitwise that of a() then b().
  void run_both(bool may_overlap, const std::function<void()>& a, const std::function<void()>& b) override {
    // On cores far apart (kernels/parallel.h) each direction runs alone, split over the threads if it is large.
    if (!may_overlap || num_threads() < 2 || omp_get_level() > 0 || kernels::cores_far_apart()) {
      a();
      b();
      return;
    }
    std::exception_ptr ea, eb;
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
      {
        try {
          a();
        } catch (...) {
          ea = std::current_exception();
        }
      }
#pragma omp section
      {
        try {
          b();
        } catch (...) {
          eb = std::current_exception();
        }
      }
    }
    if (ea) std::rethrow_exception(ea);
    if (eb) std::rethrow_exception(eb);
  }

  void batched_matmul(Tensor& out, const Tensor& a, const Tensor& c, const BatchedProduct& p) override {
    const int64_t M = p.m, N = p.n, K = p.k;
    const float* A = a.data();
    const float* C = c.data();
    float* Y = out.data();
    for_each_piece(p.batch, 1, 2.0 * double(p.batch * M * N * K), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        kernels::gemm(p.transpose_a, p.transpose_c, M, N, K, 1.0f, A + b * M * K, p.transpose_a ? M : K,
                      C + b * K * N, p.transpose_c ? K : N, 0.0f, Y + b * M * N, N);
    });
  }

 private:
  // weight (K, C, F) as (C, K*F): [c, j*F + f] = weight[j, c, f].
  static Tensor channels_first(const Tensor& weight) {
    const int64_t K = weight.dim(0), C = weight.dim(1), F = weight.dim(2);
    Tensor w = Tensor::uninitialized({C, K * F});
    for (int64_t j = 0; j < K; ++j)
      for (int64_t c = 0; c < C; ++c) std::copy_n(weight.data() + (j * C + c) * F, F, w.data() + c * K * F + j * F);
    return w;
  }

 protected:
  void for_each_piece(int64_t count, int64_t align, double flops,
                      const std::function<void(int64_t begin, int64_t end)>& body) override {
    kernels::split_range(long(count), long(align), flops, [&](long begin, long end) { body(begin, end); });
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend cpu;
  return cpu;
}

Backend& reference_backend() {
  static ReferenceBackend reference;
  return reference;
}

namespace {
Backend* active_backend = nullptr;
}  // namespace

Backend& backend() { return active_backend ? *active_backend : cpu_backend(); }

Backend& use_backend(Backend& b) {
  Backend& before = backend();
  active_backend = &b;
  return before;
}

const std::vector<std::string>& Backend::op_names() {
  static const std::vector<std::string> names = {
      "sgd_update",     "rmsprop_update",         "adam_update",             "adagrad_update",
      "decay_weights",  "sum_of_squares",         "scale_to_norm",           "clip_values",
      "pointwise_loss_forward", "pointwise_loss_backward", "crossentropy_forward", "crossentropy_backward",
      "first_invalid_label",    "binary_hits",             "argmax_hits",
      "copy", "fill", "scale", "equal", "matmul_forward", "matmul_backward", "conv1d_forward", "conv1d_backward", "activation_forward",
      "activation_backward", "embedding_ids", "embedding_forward", "embedding_backward", "nonzero_mask",
      "max_pool_forward", "max_pool_backward", "average_pool_forward", "average_pool_backward",
      "global_max_pool_forward", "global_max_pool_backward", "step_average_weights", "weighted_step_sum_forward",
      "weighted_step_sum_backward", "dropout_mask", "multiply", "multiply_per_channel", "add_gaussian_noise",
      "rows_differing_from", "zero_rows", "distinct_ids", "embedding_project", "embedding_project_backward",
      "gather_conv1d_forward", "gather_conv1d_backward", "merge_forward", "merge_backward", "mask_or", "copy_rows",
      "repeat_rows_forward", "repeat_rows_backward", "permute_axes", "reverse_steps", "batched_matmul",
      "normalize_vectors_forward", "normalize_vectors_backward", "feature_moments", "standardize_forward",
      "standardize_backward", "layer_norm_forward", "layer_norm_backward", "recurrent_forward", "recurrent_backward"};
  return names;
}

}  // namespace seqnet
