#include "layer_harness.h"

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "seqnet/serialization.h"
#include "seqnet/threads.h"

namespace seqnet::testing {

std::string LayerCase::label() const { return class_name + " " + config.dump(); }

namespace {

Tensor make_input(const LayerCase& c, const Shape& shape, uint64_t seed) {
  if (c.make_input) return c.make_input(shape, seed);
  if (!c.int_ids) return random_tensor(shape, seed);
  Tensor u = random_tensor(shape, seed, 0.0f, float(c.id_limit));
  std::vector<int32_t> ids(size_t(u.size()));
  for (int64_t i = 0; i < u.size(); ++i) ids[size_t(i)] = std::min(int32_t(u[i]), c.id_limit - 1);
  return Tensor(shape, std::move(ids));
}

// Sequence b keeps its first T - (b % 3) steps.
Tensor make_mask(const Shape& shape) {
  const int64_t batch = shape[0], steps = shape[1];
  Tensor m({batch, steps});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < steps; ++t) m[b * steps + t] = t < steps - (b % 3) ? 1.0f : 0.0f;
  return m;
}

LayerPtr from_config(const LayerCase& c, const Json& config) { return layer_from_config(c.class_name, config); }

Shape symbolic(Shape s) {
  s[0] = -1;
  return s;
}

// `got` says what `want` says: every key of an object (got may add Keras's "module", "registered_name"),
// numbers equal as float32 (a 0.2 read into a float comes back as 0.20000000298023224).
bool json_matches(const Json& want, const Json& got) {
  if (want.is_object()) {
    if (!got.is_object()) return false;
    for (const auto& [k, v] : want.items())
      if (k != "name" && (!got.contains(k) || !json_matches(v, got[k]))) return false;  // wrappers rename (forward_lstm)
    return true;
  }
  if (want.is_array()) {
    if (!got.is_array() || got.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i)
      if (!json_matches(want[i], got[i])) return false;
    return true;
  }
  if (want.is_number() && got.is_number()) return float(want.get<double>()) == float(got.get<double>());
  return want == got;
}

struct Pass {
  Tensor y, dx;
  std::vector<Tensor> grads;
};

Pass forward_backward(Layer& l, const Tensor& x, const Tensor* mask, bool training) {
  for (Param* p : l.params()) p->grad.fill(0.0f);
  Rng rng(5);
  RunContext ctx;
  ctx.training = training;
  ctx.rng = &rng;
  ctx.mask = mask;
  Pass p;
  p.y = l.call(x, ctx);
  Tensor w = random_tensor(p.y.shape(), 77);
  p.dx = l.backward(w);
  for (Param* q : l.params()) p.grads.push_back(q->grad);
  return p;
}

void expect_bitwise(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  if (!a.is_float()) return;
  for (int64_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) {
      ADD_FAILURE() << what << ": element " << i << " is " << a[i] << " with 1 thread, " << b[i] << " with 2";
      return;
    }
}

// |reference - cpu| <= 1e-4 (1 + |reference|) for every value.
void expect_close(const Tensor& reference, const Tensor& cpu, const std::string& what) {
  ASSERT_EQ(reference.shape(), cpu.shape()) << what;
  if (!reference.is_float()) return;
  for (int64_t i = 0; i < reference.size(); ++i) {
    const double r = reference[i], f = cpu[i];
    if (!(std::abs(r - f) <= 1e-4 * (1.0 + std::abs(r)) || (std::isnan(r) && std::isnan(f)) || r == f)) {
      ADD_FAILURE() << what << ": element " << i << " is " << r << " on the reference backend, " << f << " on the CPU";
      return;
    }
  }
}

// L = sum_k sum(w_k * y_k) over every output; checks dL/d(each input) and dL/d(each trainable weight) against
// central differences.
void expect_multi_gradients_match(Layer& layer, std::vector<Tensor> xs, const GradCheckOptions& g) {
  auto loss = [&](std::vector<Tensor>& inputs, std::vector<Tensor>* grads_out) {
    std::vector<const Tensor*> ptrs;
    for (const auto& x : inputs) ptrs.push_back(&x);
    RunContext ctx;
    std::vector<Tensor> ys = layer.call_multi(ptrs, ctx);
    double l = 0;
    std::vector<Tensor> ws;
    for (size_t k = 0; k < ys.size(); ++k) {
      ws.push_back(random_tensor(ys[k].shape(), 100 + k));
      for (int64_t i = 0; i < ys[k].size(); ++i) l += double(ws[k][i]) * ys[k][i];
    }
    if (grads_out) *grads_out = layer.backward_multi(ws);
    return l;
  };
  for (Param* p : layer.params()) p->grad.fill(0.0f);
  std::vector<Tensor> dxs;
  loss(xs, &dxs);
  ASSERT_EQ(dxs.size(), xs.size()) << "backward_multi gives one gradient per input";
  auto check = [&](float* value, int64_t n, const Tensor& analytic, const std::string& what) {
    ASSERT_EQ(analytic.size(), n) << what << ": no gradient";
    const int64_t stride = std::max<int64_t>(1, n / g.max_checks_per_tensor);
    for (int64_t i = 0; i < n; i += stride) {
      const float keep = value[i];
      value[i] = keep + float(g.step);
      const double up = loss(xs, nullptr);
      value[i] = keep - float(g.step);
      const double down = loss(xs, nullptr);
      value[i] = keep;
      const double numeric = (up - down) / (2 * g.step), a = analytic[i];
      EXPECT_LE(std::abs(a - numeric), g.atol + g.rtol * std::max(std::abs(a), std::abs(numeric)))
          << what << " element " << i << ": backward " << a << ", finite differences " << numeric;
    }
  };
  for (size_t k = 0; k < xs.size(); ++k) check(xs[k].data(), xs[k].size(), dxs[k], "input " + std::to_string(k));
  for (Param* p : layer.params())
    if (p->trainable) {
      const Tensor analytic = p->grad;
      check(p->value.data(), p->value.size(), analytic, "weight " + p->name);
    }
}

void check_multi_input_case(const LayerCase& c, const Json& config) {
  LayerPtr layer = from_config(c, config);
  Rng init(7);
  std::vector<Shape> shapes{symbolic(c.input)};
  for (const auto& s : c.extra_inputs) shapes.push_back(symbolic(s));
  const std::vector<Shape> out_shapes = layer->build_multi(shapes, init);
  const Json first = layer->get_config();
  for (const auto& [k, v] : config.items())
    if (k != "name") {
      EXPECT_TRUE(json_matches(v, first.value(k, Json())))
          << "config key '" << k << "' = " << v.dump() << " came back as " << first.value(k, Json()).dump();
    }
  EXPECT_EQ(from_config(c, first)->get_config(), first) << "get_config -> from_config -> get_config changed the config";
  std::vector<Tensor> xs{make_input(c, c.input, 3)};
  for (size_t i = 0; i < c.extra_inputs.size(); ++i) xs.push_back(random_tensor(c.extra_inputs[i], 20 + i));
  std::vector<const Tensor*> ptrs;
  for (const auto& x : xs) ptrs.push_back(&x);
  RunContext ctx;
  const std::vector<Tensor> ys = layer->call_multi(ptrs, ctx);
  ASSERT_EQ(ys.size(), out_shapes.size()) << "outputs vs what build_multi promised";
  for (size_t k = 0; k < ys.size(); ++k) {
    ASSERT_EQ(size_t(ys[k].rank()), out_shapes[k].size()) << "output " << k;
    for (size_t i = 1; i < out_shapes[k].size(); ++i)
      if (out_shapes[k][i] >= 0) {
        EXPECT_EQ(ys[k].dim(int(i)), out_shapes[k][i]) << "output " << k << " axis " << i;
      }
  }
  expect_multi_gradients_match(*layer, xs, c.grad);
}

}  // namespace

void check_layer_case(const LayerCase& c) {
  SCOPED_TRACE(c.label());
  if (!c.extra_inputs.empty()) {
    Json config = c.config;
    if (!config.contains("name")) config["name"] = "harness_" + c.class_name;
    check_multi_input_case(c, config);
    return;
  }
  Json config = c.config;
  if (!config.contains("name")) config["name"] = "harness_" + c.class_name;

  // config: the round trip, and every key the case set is still there with its value.
  LayerPtr layer = from_config(c, config);
  Rng init(7);
  const Shape out_shape = layer->build(symbolic(c.input), init);
  const Json first = layer->get_config();
  for (const auto& [k, v] : config.items())
    if (k != "name") {
      EXPECT_TRUE(json_matches(v, first.value(k, Json())))
          << "config key '" << k << "' = " << v.dump() << " came back as " << first.value(k, Json()).dump();
    }
  LayerPtr again = from_config(c, first);
  EXPECT_EQ(again->get_config(), first) << "get_config -> from_config -> get_config changed the config";

  // shapes
  const Tensor x = make_input(c, c.input, 3);
  const Tensor mask = c.masked ? make_mask(c.input) : Tensor();
  const Tensor* m = c.masked ? &mask : nullptr;
  RunContext ctx;
  ctx.mask = m;
  Rng rng(5);
  ctx.rng = &rng;
  const Tensor y = layer->call(x, ctx);
  ASSERT_EQ(y.rank(), int64_t(out_shape.size())) << "output " << y.shape_string() << " vs built " << shape_to_string(out_shape);
  for (size_t i = 1; i < out_shape.size(); ++i)
    if (out_shape[i] >= 0) {
      EXPECT_EQ(y.dim(int64_t(i)), out_shape[i]) << "axis " << i << " of " << y.shape_string();
    }

  // gradients
  GradCheckOptions g = c.grad;
  g.check_input = g.check_input && !c.int_ids;
  g.mask = m;
  expect_gradients_match(*layer, x, g);

  // reference: the same layer on the reference backend (plain loops) gives the CPU backend's values, up to the
  // rounding of a reordered sum (GEMMs, convolutions) or of fast_math.h's exp and tanh.
  {
    LayerPtr fast = from_config(c, config), plain = from_config(c, config);
    Rng r1(9), r2(9);
    fast->build(symbolic(c.input), r1);
    plain->build(symbolic(c.input), r2);
    const Pass pf = forward_backward(*fast, x, m, c.grad.training);
    Backend& before = use_backend(reference_backend());
    const Pass pr = forward_backward(*plain, x, m, c.grad.training);
    use_backend(before);
    expect_close(pr.y, pf.y, "output on the reference backend");
    if (!c.int_ids) expect_close(pr.dx, pf.dx, "input gradient on the reference backend");
    for (size_t i = 0; i < pr.grads.size(); ++i)
      expect_close(pr.grads[i], pf.grads[i], "gradient of " + plain->params()[i]->name + " on the reference backend");
  }

  // threads: two layers with the same weights, one run with 1 thread and one with 2.
  if (c.threads_batch <= 0) return;
  Shape big = c.input;
  big[0] = c.threads_batch;
  const Tensor xb = make_input(c, big, 11);
  const Tensor mb = c.masked ? make_mask(big) : Tensor();
  LayerPtr one = from_config(c, config), two = from_config(c, config);
  Rng r1(9), r2(9);
  one->build(symbolic(big), r1);
  two->build(symbolic(big), r2);
  const int before = num_threads();
  set_num_threads(1);
  const Pass p1 = forward_backward(*one, xb, c.masked ? &mb : nullptr, c.grad.training);
  set_num_threads(2);
  const Pass p2 = forward_backward(*two, xb, c.masked ? &mb : nullptr, c.grad.training);
  set_num_threads(before);
  expect_bitwise(p1.y, p2.y, "output");
  if (!c.int_ids) expect_bitwise(p1.dx, p2.dx, "input gradient");
  for (size_t i = 0; i < p1.grads.size(); ++i) expect_bitwise(p1.grads[i], p2.grads[i], "gradient of " + one->params()[i]->name);
}

}  // namespace seqnet::testing
