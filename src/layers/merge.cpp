// Merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate) and RepeatVector: the
// layers a graph joins branches with. Each forward is paired with its backward below it.
#include "seqnet/layers/merge.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/layer_registry.h"
#include "layers/size_arithmetic.h"

namespace seqnet {

namespace {

// Keras 3's merge mask: the OR of the inputs' masks when every input has one, else none.
std::optional<Tensor> or_of_masks(const std::vector<const Tensor*>& masks) {
  std::optional<Tensor> out;
  for (const Tensor* m : masks) {
    if (!m) return std::nullopt;
    Tensor f = m->as_float();
    if (!out) {
      out = std::move(f);
      continue;
    }
    if (f.shape() != out->shape()) return std::nullopt;  // masks of other shapes do not combine (Keras: an error)
    backend().mask_or(*out, *out, f);
  }
  return out;
}

MergeOp merge_op(ElementwiseMerge::Op op) {
  switch (op) {
    case ElementwiseMerge::Op::add: return MergeOp::add;
    case ElementwiseMerge::Op::subtract: return MergeOp::subtract;
    case ElementwiseMerge::Op::multiply: return MergeOp::multiply;
    case ElementwiseMerge::Op::average: return MergeOp::average;
    case ElementwiseMerge::Op::maximum: return MergeOp::maximum;
    case ElementwiseMerge::Op::minimum: return MergeOp::minimum;
  }
  return MergeOp::add;
}
}  // namespace

// ---- Add, Subtract, Multiply, Average, Maximum, Minimum ----

ElementwiseMerge::ElementwiseMerge(Op op, std::string name)
    : Layer(std::move(name), [op] {
        switch (op) {
          case Op::add: return "add";
          case Op::subtract: return "subtract";
          case Op::multiply: return "multiply";
          case Op::average: return "average";
          case Op::maximum: return "maximum";
          case Op::minimum: return "minimum";
        }
        return "merge";
      }()),
      op_(op) {}

std::string ElementwiseMerge::class_name() const {
  switch (op_) {
    case Op::add: return "Add";
    case Op::subtract: return "Subtract";
    case Op::multiply: return "Multiply";
    case Op::average: return "Average";
    case Op::maximum: return "Maximum";
    case Op::minimum: return "Minimum";
  }
  return "Merge";
}

Shape ElementwiseMerge::build_impl(const Shape& in, Rng&) {
  fail("must be called on a list of at least 2 inputs, got one of shape " + shape_to_string(in));
}

std::vector<Shape> ElementwiseMerge::build_multi_impl(const std::vector<Shape>& in, Rng&) {
  if (in.size() < 2) fail(fmt::format("must be called on a list of at least 2 inputs, got {}", in.size()));
  if (op_ == Op::subtract && in.size() != 2) fail(fmt::format("must be called on exactly 2 inputs, got {}", in.size()));
  Shape out = in[0];
  for (const Shape& shape : in) {
    if (shape.size() != out.size())
      fail("inputs must have the same shape (broadcasting is not supported), got " + shapes_to_string(in));
    for (size_t axis = 0; axis < out.size(); ++axis) {
      if (out[axis] < 0) out[axis] = shape[axis];
      else if (shape[axis] >= 0 && shape[axis] != out[axis])
        fail("inputs must have the same shape (broadcasting is not supported), got " + shapes_to_string(in));
    }
  }
  n_inputs_ = in.size();
  return {out};
}

Tensor ElementwiseMerge::forward(const Tensor&, RunContext&) { fail("must be called on a list of inputs"); }
Tensor ElementwiseMerge::backward(const Tensor&) { fail("must be called on a list of inputs"); }

// y = x0 + x1 + ... | x0 - x1 | x0 * x1 * ... | (x0 + ... ) / n | max | min, elementwise; all (n values).
std::vector<Tensor> ElementwiseMerge::forward_multi(const std::vector<const Tensor*>& xs, RunContext& ctx) {
  // Keras rewrites the masked steps' values for these three (1 for Multiply, the other input's for Maximum and
  // Minimum); seqnet refuses masked inputs to them rather than compute something else.
  if ((op_ == Op::multiply || op_ == Op::maximum || op_ == Op::minimum) && ctx.input_masks)
    for (const Tensor* m : *ctx.input_masks)
      if (m) fail("masked inputs are not supported (Keras replaces the masked steps' values; remove the mask first)");
  const Tensor& x0 = *xs[0];
  for (const Tensor* x : xs)
    if (x->shape() != x0.shape() || !x->is_float())
      fail(fmt::format("inputs must be float32 of one shape, got {} and {}", x0.shape_string(), x->shape_string()));
  shape_ = x0.shape();
  const bool picks = op_ == Op::maximum || op_ == Op::minimum;
  winner_ = picks ? Tensor(shape_, DType::int32) : Tensor();
  Tensor y = Tensor::uninitialized(shape_);
  backend().merge_forward(merge_op(op_), y, picks ? &winner_ : nullptr, xs);
  inputs_.clear();
  if (op_ == Op::multiply && ctx.keep_for_backward)
    for (const Tensor* x : xs) inputs_.push_back(*x);
  return {y};
}

// dx_k = dy | dy, -dy | dy * prod of the other inputs | dy / n | dy where input k won, else 0.
std::vector<Tensor> ElementwiseMerge::backward_multi(const std::vector<Tensor>& grads) {
  const size_t k_inputs = n_inputs_;
  std::vector<Tensor> dxs(k_inputs);
  if (grads.size() != 1 || grads[0].empty()) return dxs;
  const Tensor& dy = grads[0];
  if (dy.shape() != shape_) fail("backward got a gradient of shape " + dy.shape_string());
  if (op_ == Op::multiply && inputs_.size() != k_inputs)
    fail("backward after a forward that did not keep its inputs (keep_for_backward)");
  std::vector<const Tensor*> kept;
  for (const Tensor& x : inputs_) kept.push_back(&x);
  for (size_t input = 0; input < k_inputs; ++input) {
    dxs[input] = Tensor::uninitialized(shape_);
    backend().merge_backward(merge_op(op_), dxs[input], int64_t(input), int64_t(k_inputs), dy, kept,
                             winner_.empty() ? nullptr : &winner_);
  }
  return dxs;
}

std::vector<std::optional<Tensor>> ElementwiseMerge::compute_masks(const std::vector<const Tensor*>&,
                                                                   const std::vector<const Tensor*>& masks) const {
  return {or_of_masks(masks)};
}

// ---- Concatenate ----

Concatenate::Concatenate(ConcatenateOptions options) : Layer(options.name, "concatenate"), options_(std::move(options)) {}

Shape Concatenate::build_impl(const Shape& in, Rng&) {
  fail("must be called on a list of at least 2 inputs, got one of shape " + shape_to_string(in));
}

std::vector<Shape> Concatenate::build_multi_impl(const std::vector<Shape>& in, Rng&) {
  if (in.size() < 2) fail(fmt::format("must be called on a list of at least 2 inputs, got {}", in.size()));
  const int rank = int(in[0].size());
  const int axis = options_.axis < 0 ? options_.axis + rank : options_.axis;
  if (axis < 1 || axis >= rank)
    fail(fmt::format("axis {} is not an axis of its inputs beyond the batch axis: {}", options_.axis, shapes_to_string(in)));
  Shape out = in[0];
  for (size_t input = 1; input < in.size(); ++input) {
    const Shape& shape = in[input];
    bool ok = int(shape.size()) == rank;
    for (size_t ax = 0; ok && int(ax) < rank; ++ax) {
      if (int(ax) == axis) {
        out[ax] = out[ax] < 0 || shape[ax] < 0 ? -1 : size_sum(*this, out[ax], shape[ax]);
      } else if (out[ax] < 0) {
        out[ax] = shape[ax];
      } else if (shape[ax] >= 0 && shape[ax] != out[ax]) {
        ok = false;
      }
    }
    if (!ok) fail(fmt::format("inputs must agree on every axis but axis {}, got {}", options_.axis, shapes_to_string(in)));
  }
  axis_ = axis;
  return {out};
}

Tensor Concatenate::forward(const Tensor&, RunContext&) { fail("must be called on a list of inputs"); }
Tensor Concatenate::backward(const Tensor&) { fail("must be called on a list of inputs"); }

// Inputs (outer, len_k, inner) viewed around the axis; y (outer, sum len_k, inner).
std::vector<Tensor> Concatenate::forward_multi(const std::vector<const Tensor*>& xs, RunContext&) {
  last_shapes_.clear();
  Shape out = xs[0]->shape();
  out[size_t(axis_)] = 0;
  for (const Tensor* x : xs) {
    if (!x->is_float()) fail("inputs must be float32, got an int32 input of shape " + x->shape_string());
    bool agree = x->rank() == xs[0]->rank();
    for (int a = 0; agree && a < x->rank(); ++a) agree = a == axis_ || x->dim(a) == xs[0]->dim(a);
    if (!agree)
      fail(fmt::format("inputs must agree on every axis but axis {}, got {} and {}", options_.axis,
                       xs[0]->shape_string(), x->shape_string()));
    last_shapes_.push_back(x->shape());
    out[size_t(axis_)] += x->dim(axis_);
  }
  int64_t outer = 1, inner = 1;
  for (int a = 0; a < axis_; ++a) outer *= out[size_t(a)];
  for (size_t axis = size_t(axis_) + 1; axis < out.size(); ++axis) inner *= out[axis];
  Tensor y = Tensor::uninitialized(out);
  const int64_t row = out[size_t(axis_)] * inner;
  int64_t offset = 0;
  for (const Tensor* x : xs) {
    const int64_t len = x->dim(axis_) * inner;
    backend().copy_rows(y, *x, {.rows = outer, .length = len, .dst_offset = offset, .dst_stride = row, .src_stride = len});
    offset += len;
  }
  return {y};
}

std::vector<Tensor> Concatenate::backward_multi(const std::vector<Tensor>& grads) {
  std::vector<Tensor> dxs(last_shapes_.size());
  if (grads.size() != 1 || grads[0].empty()) return dxs;
  const Tensor& dy = grads[0];
  int64_t outer = 1, inner = 1;
  for (int a = 0; a < axis_; ++a) outer *= dy.dim(a);
  for (int a = axis_ + 1; a < dy.rank(); ++a) inner *= dy.dim(a);
  const int64_t row = dy.dim(axis_) * inner;
  int64_t offset = 0;
  for (size_t input = 0; input < last_shapes_.size(); ++input) {
    Tensor dx = Tensor::uninitialized(last_shapes_[input]);
    const int64_t len = last_shapes_[input][size_t(axis_)] * inner;
    backend().copy_rows(dx, dy, {.rows = outer, .length = len, .dst_stride = len, .src_offset = offset, .src_stride = row});
    offset += len;
    dxs[input] = std::move(dx);
  }
  return dxs;
}

// Keras 3: each input's mask (all true when missing) broadcast over the input's features, joined along the
// axis, then OR-ed over the last axis. For (batch, time, features) inputs: along time the masks are joined;
// along features they are OR-ed.
std::vector<std::optional<Tensor>> Concatenate::compute_masks(const std::vector<const Tensor*>& xs,
                                                              const std::vector<const Tensor*>& masks) const {
  bool any = false;
  for (const Tensor* m : masks) any = any || m != nullptr;
  if (!any || xs[0]->rank() != 3) return {std::nullopt};
  const int64_t B = xs[0]->dim(0);
  auto mask_of = [&](size_t input) {
    const int64_t steps = xs[input]->dim(1);
    Tensor m = masks[input] ? masks[input]->as_float() : Tensor::full({B, steps}, 1.0f);
    if (m.shape() != Shape{B, steps}) fail("an input mask of shape " + m.shape_string() + " does not fit its input");
    return m;
  };
  if (axis_ == 1) {
    int64_t T = 0;
    for (const Tensor* x : xs) T += x->dim(1);
    Tensor out({B, T});
    int64_t t0 = 0;
    for (size_t input = 0; input < xs.size(); ++input) {
      const int64_t Tk = xs[input]->dim(1);
      backend().copy_rows(out, mask_of(input), {.rows = B, .length = Tk, .dst_offset = t0, .dst_stride = T, .src_stride = Tk});
      t0 += Tk;
    }
    return {out};
  }
  Tensor out({B, xs[0]->dim(1)});
  for (size_t input = 0; input < xs.size(); ++input) backend().mask_or(out, out, mask_of(input));
  return {out};
}

Json Concatenate::get_config() const {
  Json c = Layer::get_config();
  c["axis"] = options_.axis;
  return c;
}

// ---- RepeatVector ----

RepeatVector::RepeatVector(int64_t n, std::string name) : Layer(std::move(name), "repeat_vector"), n_(n) {
  if (n_ <= 0) fail(fmt::format("n must be positive, got {}", n_));
}

Shape RepeatVector::build_impl(const Shape& in, Rng&) {
  if (in.size() != 2) fail("expects input of rank 2 (batch, features), got " + shape_to_string(in));
  return {in[0], n_, in[1]};
}

// x (B, F) -> y (B, n, F), y[b, t, :] = x[b, :].
Tensor RepeatVector::forward(const Tensor& x, RunContext&) {
  Tensor y = Tensor::uninitialized({x.dim(0), n_, x.dim(1)});
  backend().repeat_rows_forward(y, x, n_);
  return y;
}

// dx[b, :] = sum over t of dy[b, t, :].
Tensor RepeatVector::backward(const Tensor& dy) {
  Tensor dx = Tensor::uninitialized({dy.dim(0), dy.dim(2)});
  backend().repeat_rows_backward(dx, dy, n_);
  return dx;
}

std::optional<Tensor> RepeatVector::compute_mask(const Tensor&, const Tensor*) const { return std::nullopt; }

Json RepeatVector::get_config() const {
  Json c = Layer::get_config();
  c["n"] = n_;
  return c;
}

namespace config {
namespace {
LayerPtr merge_from(ElementwiseMerge::Op op, const Json& c) {
  auto l = std::make_shared<ElementwiseMerge>(op, "");
  apply_common(*l, c);
  return l;
}
}  // namespace
LayerPtr add_from_config(const Json& c) { return merge_from(ElementwiseMerge::Op::add, c); }
LayerPtr subtract_from_config(const Json& c) { return merge_from(ElementwiseMerge::Op::subtract, c); }
LayerPtr multiply_from_config(const Json& c) { return merge_from(ElementwiseMerge::Op::multiply, c); }
LayerPtr average_from_config(const Json& c) { return merge_from(ElementwiseMerge::Op::average, c); }
LayerPtr maximum_from_config(const Json& c) { return merge_from(ElementwiseMerge::Op::maximum, c); }
LayerPtr minimum_from_config(const Json& c) { return merge_from(ElementwiseMerge::Op::minimum, c); }
LayerPtr concatenate_from_config(const Json& c) {
  auto l = std::make_shared<Concatenate>(ConcatenateOptions{.axis = get<int>(c, "axis", -1)});
  apply_common(*l, c);
  return l;
}
LayerPtr repeat_vector_from_config(const Json& c) {
  auto it = c.find("n");
  if (it == c.end() || !it->is_number_integer())
    throw Error("layer '" + c.value("name", std::string("?")) + "' (RepeatVector): config key 'n' must be an integer");
  auto l = std::make_shared<RepeatVector>(whole_number_at<int64_t>(*it, config_key(c, "n")));
  apply_common(*l, c);
  return l;
}
}  // namespace config

}  // namespace seqnet
