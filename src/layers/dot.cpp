// Dot (Keras 3's keras/src/layers/merging/dot.py: batch_dot, with ops.normalize for normalize=True). Forward
// and its backward below it; the products are backend ops, one per sample.
#include "seqnet/layers/dot.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"

namespace seqnet {

namespace {
// The vectors along an operand's dot axis (Operand: batch, k, free, k_last).
template <typename Operand>
VectorsInTensor vectors(const Operand& o) {
  return {.batch = o.batch, .length = o.k, .others = o.free, .along_last = o.k_last};
}
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
    for (size_t input = 0; input < 2; ++input) {
      inv_norm_[input] = Tensor::uninitialized({od[input].batch, od[input].free});
      backend().normalize_vectors_forward(ops[input], inv_norm_[input], vectors(od[input]));
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
  backend().batched_matmul(y, copy ? ops[0] : *xs[0], copy ? ops[1] : *xs[1],
                           {.batch = a.batch, .m = M, .n = N, .k = K, .transpose_a = !a.k_last, .transpose_c = c.k_last});
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
  const Tensor& A = kept_[0];
  const Tensor& C = kept_[1];
  Tensor dA = Tensor::uninitialized(A.shape()), dC = Tensor::uninitialized(C.shape());
  if (a.k_last)  // dA (M, K) = G (M, N) . C^T (N, K)
    backend().batched_matmul(dA, dy, C, {.batch = B, .m = M, .n = K, .k = N, .transpose_c = !c.k_last});
  else  // dA^T (K, M) = C (K, N) . G^T (N, M)
    backend().batched_matmul(dA, C, dy,
                             {.batch = B, .m = K, .n = M, .k = N, .transpose_a = c.k_last, .transpose_c = true});
  if (!c.k_last)  // dC (K, N) = A^T (K, M) . G (M, N)
    backend().batched_matmul(dC, A, dy, {.batch = B, .m = K, .n = N, .k = M, .transpose_a = a.k_last});
  else  // dC^T (N, K) = G^T (N, M) . A (M, K)
    backend().batched_matmul(dC, dy, A,
                             {.batch = B, .m = N, .n = K, .k = M, .transpose_a = true, .transpose_c = !a.k_last});
  if (options_.normalize) {
    backend().normalize_vectors_backward(dA, A, inv_norm_[0], vectors(a));
    backend().normalize_vectors_backward(dC, C, inv_norm_[1], vectors(c));
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
    l = std::make_shared<Dot>(whole_number_at<int>(*it, config_key(c, "axes")), o);
  } else if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer()) {
    l = std::make_shared<Dot>(std::array<int, 2>{whole_number_at<int>((*it)[0], config_key(c, "axes")),
                                                   whole_number_at<int>((*it)[1], config_key(c, "axes"))}, o);
  } else {
    bad();
  }
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
