// Dot (Keras 3's keras/src/layers/merging/dot.py: batch_dot, with ops.normalize for normalize=True). Forward
// and its backward below it; the products go through kernels::gemm, one per sample.
#include "seqnet/layers/dot.h"

#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/layer_registry.h"
#include "kernels/blas.h"
#include "kernels/parallel.h"

namespace seqnet {

namespace {
// keras.backend.epsilon(): ops.normalize caps the inverse norm at 1 / epsilon.
constexpr float kMaxInvNorm = 1.0f / 1e-7f;
}  // namespace

Dot::Dot(int axes, DotOptions options) : Layer(options.name, "dot"), axes_{axes, axes}, axes_pair_(false), options_(std::move(options)) {}

Dot::Dot(std::array<int, 2> axes, DotOptions options)
    : Layer(options.name, "dot"), axes_(axes), axes_pair_(true), options_(std::move(options)) {}

Shape Dot::build_impl(const Shape& in, Rng&) {
  fail("must be called on a list of 2 inputs, got one of shape " + shape_to_string(in));
}

std::vector<Shape> Dot::build_multi_impl(const std::vector<Shape>& in, Rng&) {
  if (in.size() != 2) fail(fmt::format("must be called on a list of 2 inputs, got {}", in.size()));
  for (int i = 0; i < 2; ++i) {
    const int rank = int(in[size_t(i)].size());
    if (rank != 2 && rank != 3)
      fail(fmt::format("supports inputs of rank 2 (batch, d) and 3 (batch, n, d), got {}", shapes_to_string(in)));
    // Keras: a negative axis counts from the end of each input (its int form applies to both).
    const int a = axes_[size_t(i)];
    if (a < -rank || a >= rank)
      fail(fmt::format("axes {} name no axis of input {} of shape {}", axes_pair_ ? fmt::format("[{}, {}]", axes_[0], axes_[1])
                                                                                  : std::to_string(axes_[0]),
                       i, shape_to_string(in[size_t(i)])));
    axis_[size_t(i)] = a < 0 ? a + rank : a;
    if (axis_[size_t(i)] == 0) fail("cannot take the dot product over the batch axis (axis 0)");
  }
  const int64_t d0 = in[0][size_t(axis_[0])], d1 = in[1][size_t(axis_[1])];
  if (d0 >= 0 && d1 >= 0 && d0 != d1)
    fail(fmt::format("incompatible inputs: axis {} of the first has {} values, axis {} of the second {} (shapes {})",
                     axis_[0], d0, axis_[1], d1, shapes_to_string(in)));
  if (in[0][0] >= 0 && in[1][0] >= 0 && in[0][0] != in[1][0])
    fail("inputs of different batch sizes: " + shapes_to_string(in));
  // Keras's compute_output_shape: the first input less its axis, then the second less its axis and batch axis.
  Shape out;
  for (size_t a = 0; a < in[0].size(); ++a)
    if (int(a) != axis_[0]) out.push_back(in[0][a]);
  for (size_t a = 1; a < in[1].size(); ++a)
    if (int(a) != axis_[1]) out.push_back(in[1][a]);
  if (out.size() == 1) out.push_back(1);
  return {out};
}

Tensor Dot::forward(const Tensor&, RunContext&) { fail("must be called on a list of 2 inputs"); }
Tensor Dot::backward(const Tensor&) { fail("must be called on a list of 2 inputs"); }

Dot::Operand Dot::operand(const Tensor& x, int input) const {
  Operand o;
  o.batch = x.dim(0);
  o.k = x.dim(axis_[size_t(input)]);
  o.k_last = axis_[size_t(input)] == x.rank() - 1;
  o.free = x.rank() == 3 ? x.dim(o.k_last ? 1 : 2) : 1;
  return o;
}

// out[b, m, n] = sum_k A[b, m, k] C[b, k, n], A the first input seen as (M, K) per sample, C the second as
// (K, N); each stored either way round (k_last or not), which the product's transposes absorb. With normalize,
// each vector along the dot axis is first scaled by s = min(rsqrt(sum x^2), 1e7).
std::vector<Tensor> Dot::forward_multi(const std::vector<const Tensor*>& xs, RunContext& ctx) {
  if (xs.size() != 2) fail(fmt::format("must be called on a list of 2 inputs, got {}", xs.size()));
  for (const Tensor* x : xs)
    if (!x->is_float()) fail("inputs must be float32, got an int32 input of shape " + x->shape_string());
  const Operand a = operand(*xs[0], 0), c = operand(*xs[1], 1);
  if (a.batch != c.batch || a.k != c.k)
    fail(fmt::format("inputs {} and {} do not fit axes {} and {}", xs[0]->shape_string(), xs[1]->shape_string(), axis_[0],
                     axis_[1]));
  // The product reads the inputs themselves unless they are normalized or kept for backward (then copies).
  const bool copy = options_.normalize || ctx.keep_for_backward;
  std::array<Tensor, 2> ops;
  if (copy) ops = {*xs[0], *xs[1]};
  if (options_.normalize) {
    const Operand od[2] = {a, c};
    for (int i = 0; i < 2; ++i) {
      const Operand& o = od[i];
      float* v = ops[size_t(i)].data();
      std::vector<float>& inv = inv_norm_[size_t(i)];
      inv.assign(size_t(o.batch * o.free), 0.0f);
      const int64_t step = o.k_last ? 1 : o.free;  // between values of one vector
      for (int64_t b = 0; b < o.batch; ++b)
        for (int64_t f = 0; f < o.free; ++f) {
          float* p = v + b * o.k * o.free + (o.k_last ? f * o.k : f);
          double sq = 0.0;
          for (int64_t k = 0; k < o.k; ++k) sq += double(p[k * step]) * double(p[k * step]);
          const float s = std::min(1.0f / std::sqrt(float(sq)), kMaxInvNorm);
          inv[size_t(b * o.free + f)] = s;
          for (int64_t k = 0; k < o.k; ++k) p[k * step] *= s;
        }
    }
  }
  const int64_t M = a.free, N = c.free, K = a.k;
  Shape out;  // as build_multi_impl, from the sizes of this call
  for (int ax = 0; ax < xs[0]->rank(); ++ax)
    if (ax != axis_[0]) out.push_back(xs[0]->dim(ax));
  for (int ax = 1; ax < xs[1]->rank(); ++ax)
    if (ax != axis_[1]) out.push_back(xs[1]->dim(ax));
  if (out.size() == 1) out.push_back(1);
  Tensor y = Tensor::uninitialized(out);
  const float* A = copy ? ops[0].data() : xs[0]->data();
  const float* C = copy ? ops[1].data() : xs[1]->data();
  float* Y = y.data();
  kernels::split_range(long(a.batch), 1, 2.0 * double(a.batch * M * N * K), [&](long b0, long b1) {
    for (long b = b0; b < b1; ++b)
      kernels::gemm(!a.k_last, c.k_last, M, N, K, 1.0f, A + b * M * K, a.k_last ? K : M, C + b * K * N, c.k_last ? K : N,
                    0.0f, Y + b * M * N, N);
  });
  kept_for_backward_ = ctx.keep_for_backward;
  if (kept_for_backward_) kept_ = std::move(ops);
  else kept_ = {};
  return {y};
}

// With G = dout (M, N) per sample: dA = G C^T, dC = A^T G, each written in its input's own layout. Through
// normalize (n = x * s, s = 1/|x| unless capped): dx = s * (dn - n * sum(dn * n)); where the cap held (s = 1e7, a
// constant), dx = s * dn.
std::vector<Tensor> Dot::backward_multi(const std::vector<Tensor>& grads) {
  std::vector<Tensor> dxs(2);
  if (grads.size() != 1 || grads[0].empty() || !input_grad_wanted()) return dxs;
  if (!kept_for_backward_ || kept_[0].empty()) fail("backward without a forward that kept its inputs (keep_for_backward)");
  const Operand a = operand(kept_[0], 0), c = operand(kept_[1], 1);
  const int64_t M = a.free, N = c.free, K = a.k, B = a.batch;
  const Tensor& dy = grads[0];
  if (dy.size() != B * M * N) fail("backward got a gradient of shape " + dy.shape_string());
  const float* A = kept_[0].data();
  const float* C = kept_[1].data();
  const float* G = dy.data();
  Tensor dA = Tensor::uninitialized(kept_[0].shape()), dC = Tensor::uninitialized(kept_[1].shape());
  float* dAp = dA.data();
  float* dCp = dC.data();
  kernels::split_range(long(B), 1, 4.0 * double(B * M * N * K), [&](long b0, long b1) {
    for (long b = b0; b < b1; ++b) {
      const float* Ab = A + b * M * K;
      const float* Cb = C + b * K * N;
      const float* Gb = G + b * M * N;
      if (a.k_last)  // dA (M, K) = G (M, N) . C^T (N, K)
        kernels::gemm(false, !c.k_last, M, K, N, 1.0f, Gb, N, Cb, c.k_last ? K : N, 0.0f, dAp + b * M * K, K);
      else  // dA^T (K, M) = C (K, N) . G^T (N, M)
        kernels::gemm(c.k_last, true, K, M, N, 1.0f, Cb, c.k_last ? K : N, Gb, N, 0.0f, dAp + b * M * K, M);
      if (!c.k_last)  // dC (K, N) = A^T (K, M) . G (M, N)
        kernels::gemm(a.k_last, false, K, N, M, 1.0f, Ab, a.k_last ? K : M, Gb, N, 0.0f, dCp + b * K * N, N);
      else  // dC^T (N, K) = G^T (N, M) . A (M, K)
        kernels::gemm(true, !a.k_last, N, K, M, 1.0f, Gb, N, Ab, a.k_last ? K : M, 0.0f, dCp + b * K * N, K);
    }
  });
  if (options_.normalize) {
    const Operand od[2] = {a, c};
    Tensor* d[2] = {&dA, &dC};
    for (int i = 0; i < 2; ++i) {
      const Operand& o = od[i];
      const float* n = kept_[size_t(i)].data();
      float* g = d[i]->data();
      const int64_t step = o.k_last ? 1 : o.free;
      for (int64_t b = 0; b < o.batch; ++b)
        for (int64_t f = 0; f < o.free; ++f) {
          const int64_t base = b * o.k * o.free + (o.k_last ? f * o.k : f);
          const float s = inv_norm_[size_t(i)][size_t(b * o.free + f)];
          double dot = 0.0;
          if (s < kMaxInvNorm)
            for (int64_t k = 0; k < o.k; ++k) dot += double(g[base + k * step]) * double(n[base + k * step]);
          for (int64_t k = 0; k < o.k; ++k) {
            const int64_t at = base + k * step;
            g[at] = float(double(s) * (double(g[at]) - double(n[at]) * dot));
          }
        }
    }
  }
  dxs[0] = std::move(dA);
  dxs[1] = std::move(dC);
  return dxs;
}

std::vector<std::optional<Tensor>> Dot::compute_masks(const std::vector<const Tensor*>&,
                                                      const std::vector<const Tensor*>&) const {
  return {std::nullopt};
}

Json Dot::get_config() const {
  Json c = Layer::get_config();
  c["axes"] = axes_pair_ ? Json::array({axes_[0], axes_[1]}) : Json(axes_[0]);
  c["normalize"] = options_.normalize;
  return c;
}

namespace config {
LayerPtr dot_from_config(const Json& c) {
  const std::string name = c.value("name", std::string("?"));
  auto it = c.find("axes");
  auto bad = [&] {
    throw Error("layer '" + name + "' (Dot): config key 'axes' must be an integer or a pair of integers, got " +
                (it == c.end() ? std::string("nothing") : it->dump()));
  };
  if (it == c.end()) bad();
  DotOptions o;
  o.normalize = get(c, "normalize", false);
  LayerPtr l;
  if (it->is_number_integer()) {
    l = std::make_shared<Dot>(it->get<int>(), o);
  } else if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer()) {
    l = std::make_shared<Dot>(std::array<int, 2>{(*it)[0].get<int>(), (*it)[1].get<int>()}, o);
  } else {
    bad();
  }
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
