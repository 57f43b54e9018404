// Every op of the backend (src/backend/backend.h), after ggml's test-backend-ops: each case runs an op on the same
// inputs through the reference backend and through the CPU backend on 1 and on 2 threads, and every output must
// be bitwise the reference's. Cases come in two sizes: a small one, and one large enough that the CPU backend
// splits it over threads. An op added to Backend::op_names() fails Ops.EveryOpHasCases until it has cases here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <tuple>

#include "backend/backend.h"
#include "backend/recurrent.h"
#include "gradcheck.h"
#include "seqnet/threads.h"

namespace seqnet {
namespace {

using testing::random_tensor;

struct OpCase {
  std::string op;    // the name in Backend::op_names()
  std::string label; // what this case varies
  // Runs the op on `b` over inputs made afresh (from fixed seeds) and returns every output: the tensors it
  // wrote and its result as a one-element tensor.
  std::function<std::vector<Tensor>(Backend& b)> run;
  // 0: the CPU backend must give the reference's bits. Else |cpu - reference| <= tolerance (1 + |reference|):
  // sums in another order (GEMMs, convolutions), fast_math.h's exp and tanh.
  double tolerance = 0.0;
};

Tensor scalar(double v) { return Tensor({1}, std::vector<float>{float(v)}); }
// A double result, kept whole: its two halves as floats that are compared bitwise.
Tensor exact(double v) {
  float halves[2];
  std::memcpy(halves, &v, sizeof v);
  return Tensor({2}, std::vector<float>{halves[0], halves[1]});
}

// Values in [0, 1) with some exactly 0 and 1 (the crossentropies' clip) and tiny ones (their eps).
Tensor probabilities(int64_t n, uint64_t seed) {
  Tensor p = random_tensor({n}, seed, 0.0f, 1.0f);
  for (int64_t i = 0; i < n; i += 11) p[i] = (i / 11) % 3 == 0 ? 0.0f : (i / 11) % 3 == 1 ? 1.0f : 1e-9f;
  return p;
}

Tensor labels(int64_t rows, int64_t classes, uint64_t seed) {
  Tensor u = random_tensor({rows}, seed, 0.0f, float(classes));
  for (int64_t r = 0; r < rows; ++r) u[r] = std::min(float(int64_t(u[r])), float(classes - 1));
  return u;
}

// A (rows, classes) distribution per row (rows summing to 1).
Tensor distributions(int64_t rows, int64_t classes, uint64_t seed) {
  Tensor t = random_tensor({rows, classes}, seed, 0.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float s = 0;
    for (int64_t j = 0; j < classes; ++j) s += t[r * classes + j];
    for (int64_t j = 0; j < classes; ++j) t[r * classes + j] /= s;
  }
  return t;
}

Tensor int_ids(const Shape& shape, int32_t limit, uint64_t seed) {
  Tensor u = random_tensor(shape, seed, 0.0f, float(limit));
  std::vector<int32_t> ids(size_t(u.size()));
  for (int64_t i = 0; i < u.size(); ++i) ids[size_t(i)] = std::min(int32_t(u[i]), limit - 1);
  return Tensor(shape, std::move(ids));
}

// The ops that join, move and normalize values (merges, reshaping layers, Dot, the normalizations).
void add_join_and_normalize_op_cases(std::vector<OpCase>& c) {
  constexpr double kSums = 1e-5;
  const Shape shape{5, 7, 3};
  for (MergeOp op : {MergeOp::add, MergeOp::subtract, MergeOp::multiply, MergeOp::average, MergeOp::maximum,
                     MergeOp::minimum}) {
    const int64_t count = op == MergeOp::subtract ? 2 : 3;
    const bool picks = op == MergeOp::maximum || op == MergeOp::minimum;
    const std::string label = std::to_string(int(op)) + " of " + std::to_string(count);
    auto inputs = [=] {
      std::vector<Tensor> xs;
      for (int64_t k = 0; k < count; ++k) xs.push_back(random_tensor(shape, uint64_t(10 + k)));
      xs[1][4] = xs[0][4];  // a tie: the earlier input wins
      return xs;
    };
    auto pointers = [](const std::vector<Tensor>& xs) {
      std::vector<const Tensor*> p;
      for (const Tensor& x : xs) p.push_back(&x);
      return p;
    };
    c.push_back({"merge_forward", label, [=](Backend& b) {
                   std::vector<Tensor> xs = inputs();
                   Tensor y = Tensor::full(shape, 9.0f), winner(shape, DType::int32);
                   b.merge_forward(op, y, picks ? &winner : nullptr, pointers(xs));
                   return std::vector<Tensor>{y, winner.as_float()};
                 }});
    c.push_back({"merge_backward", label, [=](Backend& b) {
                   std::vector<Tensor> xs = inputs();
                   Tensor y(shape), winner(shape, DType::int32);
                   b.merge_forward(op, y, picks ? &winner : nullptr, pointers(xs));
                   std::vector<Tensor> out;
                   for (int64_t k = 0; k < count; ++k) {
                     Tensor dx = Tensor::full(shape, 9.0f);
                     b.merge_backward(op, dx, k, count, random_tensor(shape, 20), pointers(xs), &winner);
                     out.push_back(dx);
                   }
                   return out;
                 }});
  }
  c.push_back({"mask_or", "", [](Backend& b) {
                 Tensor m1 = random_tensor({40}, 1, -1.0f, 1.0f), m2 = random_tensor({40}, 2, -1.0f, 1.0f);
                 for (int64_t i = 0; i < 40; i += 3) m1[i] = 0.0f;
                 for (int64_t i = 0; i < 40; i += 2) m2[i] = 0.0f;
                 Tensor out = Tensor::full({40}, 9.0f);
                 b.mask_or(out, m1, m2);
                 b.mask_or(m1, m1, m2);  // in place
                 return std::vector<Tensor>{out, m1};
               }});
  c.push_back({"fill", "", [](Backend& b) {
                 Tensor x = random_tensor({300000}, 1);
                 b.fill(x, 0.0f);
                 Tensor y = random_tensor({7}, 2);
                 b.fill(y, -2.5f);
                 return std::vector<Tensor>{x, y};
               }});
  c.push_back({"scale", "", [](Backend& b) {
                 Tensor x = random_tensor({1000}, 1), y = Tensor::full({1000}, 9.0f);
                 b.scale(y, x, 0.3f);
                 b.scale(x, x, -1.7f);  // in place
                 return std::vector<Tensor>{x, y};
               }});
  c.push_back({"equal", "", [](Backend& b) {
                 Tensor x = random_tensor({500}, 1), same = x, other = x, negative_zero = Tensor({2}), zero({2});
                 other[499] = std::nextafter(other[499], 2.0f);
                 negative_zero[1] = -0.0f;
                 return std::vector<Tensor>{scalar(b.equal(x, same)), scalar(b.equal(x, other)),
                                            scalar(b.equal(x, x.reshaped({20, 25}))),
                                            scalar(b.equal(zero, negative_zero))};  // bits, not values
               }});
  c.push_back({"copy_rows", "int32", [](Backend& b) {
                 Tensor src = int_ids({6, 10}, 50, 1), dst(Shape{6, 7}, DType::int32);
                 b.copy_rows(dst, src, {.rows = 6, .length = 7, .dst_stride = 7, .src_offset = 3, .src_stride = 10});
                 return std::vector<Tensor>{dst.as_float()};
               }});
  c.push_back({"copy_rows", "", [](Backend& b) {
                 Tensor src = random_tensor({6, 10}, 1), dst = Tensor::full({6, 14}, 9.0f);
                 b.copy_rows(dst, src, {.rows = 6, .length = 7, .dst_offset = 4, .dst_stride = 14, .src_offset = 2,
                                        .src_stride = 10});
                 return std::vector<Tensor>{dst};
               }});
  for (int64_t repeats : {1, 3}) {
    c.push_back({"repeat_rows_forward", std::to_string(repeats), [=](Backend& b) {
                   Tensor x = random_tensor({4, 5, 3}, 1), y = Tensor::full({4, 5 * repeats, 3}, 9.0f);
                   b.repeat_rows_forward(y, x, repeats);
                   return std::vector<Tensor>{y};
                 }});
    c.push_back({"repeat_rows_backward", std::to_string(repeats), [=](Backend& b) {
                   Tensor dy = random_tensor({4, 5 * repeats, 3}, 1), dx = Tensor::full({4, 5, 3}, 9.0f);
                   b.repeat_rows_backward(dx, dy, repeats);
                   return std::vector<Tensor>{dx};
                 }});
  }
  for (const std::vector<int>& axes : {std::vector<int>{0, 2, 1}, std::vector<int>{0, 3, 1, 2}}) {
    const Shape in = axes.size() == 3 ? Shape{3, 4, 5} : Shape{2, 3, 4, 5};
    Shape out;
    for (int a : axes) out.push_back(in[size_t(a)]);
    c.push_back({"permute_axes", std::to_string(axes.size()) + " axes", [=](Backend& b) {
                   Tensor x = random_tensor(in, 1), y = Tensor::full(out, 9.0f);
                   b.permute_axes(y, x, axes);
                   return std::vector<Tensor>{y};
                 }});
  }
  c.push_back({"reverse_steps", "", [](Backend& b) {
                 Tensor x = random_tensor({3, 6, 4}, 1), y = Tensor::full({3, 6, 4}, 9.0f);
                 b.reverse_steps(y, x);
                 return std::vector<Tensor>{y};
               }});
  for (bool ta : {false, true})
    for (bool tc : {false, true})
      for (int64_t batch : {3, 64}) {
        const BatchedProduct p{.batch = batch, .m = 5, .n = 6, .k = 7, .transpose_a = ta, .transpose_c = tc};
        c.push_back({"batched_matmul",
                     std::string(ta ? "A^T " : "A ") + (tc ? "C^T " : "C ") + "batch " + std::to_string(batch),
                     [=](Backend& b) {
                       Tensor a = random_tensor({batch, 5 * 7}, 1), cc = random_tensor({batch, 7 * 6}, 2),
                              out = Tensor::full({batch, 5, 6}, 9.0f);
                       b.batched_matmul(out, a, cc, p);
                       return std::vector<Tensor>{out};
                     },
                     kSums});
      }
  for (bool along_last : {false, true}) {
    const VectorsInTensor v{.batch = 3, .length = 6, .others = 4, .along_last = along_last};
    auto data = [] {
      Tensor x = random_tensor({3, 24}, 1);
      for (int64_t i = 0; i < 6; ++i) x[i * 4] = 0.0f;  // one all-zero vector when the vectors run across: the cap
      return x;
    };
    const std::string label = along_last ? "along the last axis" : "across";
    c.push_back({"normalize_vectors_forward", label, [=](Backend& b) {
                   Tensor x = data(), inv = Tensor::full({3, 4}, 9.0f);
                   b.normalize_vectors_forward(x, inv, v);
                   return std::vector<Tensor>{x, inv};
                 }});
    c.push_back({"normalize_vectors_backward", label, [=](Backend& b) {
                   Tensor x = data(), inv({3, 4});
                   b.normalize_vectors_forward(x, inv, v);
                   Tensor g = random_tensor({3, 24}, 5);
                   b.normalize_vectors_backward(g, x, inv, v);
                   return std::vector<Tensor>{g};
                 }});
  }
  for (bool bad : {false, true})
    c.push_back({"feature_moments", bad ? "a NaN in feature 2" : "", [=](Backend& b) {
                   Tensor x = random_tensor({50, 4}, 1, -3.0f, 5.0f);
                   if (bad) x[4 * 7 + 2] = std::numeric_limits<float>::quiet_NaN();
                   Tensor mean = Tensor::full({4}, 9.0f), variance = Tensor::full({4}, 9.0f);
                   const int64_t first = b.feature_moments(mean, variance, x);
                   return std::vector<Tensor>{mean, variance, scalar(double(first))};
                 }});
  for (bool invert : {false, true}) {
    auto statistics = [] {
      Tensor variance = random_tensor({4}, 3, 0.0f, 2.0f);
      variance[1] = 0.0f;  // divides by epsilon
      return std::pair{random_tensor({4}, 2), variance};
    };
    c.push_back({"standardize_forward", invert ? "invert" : "", [=](Backend& b) {
                   auto [mean, variance] = statistics();
                   Tensor x = random_tensor({6, 4}, 1), y = Tensor::full({6, 4}, 9.0f);
                   b.standardize_forward(y, x, mean, variance, invert);
                   return std::vector<Tensor>{y};
                 }});
    c.push_back({"standardize_backward", invert ? "invert" : "", [=](Backend& b) {
                   auto [mean, variance] = statistics();
                   Tensor dy = random_tensor({6, 4}, 1), dx = Tensor::full({6, 4}, 9.0f);
                   b.standardize_backward(dx, dy, variance, invert);
                   return std::vector<Tensor>{dx};
                 }});
  }
  for (int64_t rows : {5, 300})
    for (bool affine : {false, true}) {
      const std::string label = std::to_string(rows) + " rows" + (affine ? " gamma beta" : "");
      c.push_back({"layer_norm_forward", label, [=](Backend& b) {
                     Tensor x = random_tensor({rows, 40}, 1), gamma = random_tensor({40}, 2),
                            beta = random_tensor({40}, 3), y = Tensor::full({rows, 40}, 9.0f),
                            xhat = Tensor::full({rows, 40}, 9.0f), inv = Tensor::full({rows}, 9.0f);
                     b.layer_norm_forward(y, &xhat, &inv, x, affine ? &gamma : nullptr, affine ? &beta : nullptr,
                                          1e-3f);
                     return std::vector<Tensor>{y, xhat, inv};
                   }});
      c.push_back({"layer_norm_backward", label, [=](Backend& b) {
                     Tensor x = random_tensor({rows, 40}, 1), gamma = random_tensor({40}, 2), y({rows, 40}),
                            xhat({rows, 40}), inv({rows});
                     b.layer_norm_forward(y, &xhat, &inv, x, affine ? &gamma : nullptr, nullptr, 1e-3f);
                     Tensor dy = random_tensor({rows, 40}, 4), dx = Tensor::full({rows, 40}, 9.0f),
                            dgamma = random_tensor({40}, 5), dbeta = random_tensor({40}, 6);
                     b.layer_norm_backward(&dx, affine ? &dgamma : nullptr, affine ? &dbeta : nullptr, dy, xhat, inv,
                                           affine ? &gamma : nullptr);
                     return std::vector<Tensor>{dx, dgamma, dbeta};
                   }});
    }
}

// The recurrent loop: the reference runs each cell's plain step, the CPU backend the fused one, with rows split
// over threads when the batch is large: the same function to the rounding of fast_math.h's tanh and exp.
void add_recurrent_op_cases(std::vector<OpCase>& c) {
  struct Loop {
    std::string cell;  // simple_rnn, lstm, gru, gru_before
    int64_t batch;
    bool masked, dropout, backwards, sequences;
    bool rows = false;  // x as an Embedding's distinct rows and each position's index into them
  };
  auto make_cell = [](const std::string& cell, int64_t u) {
    if (cell == "simple_rnn") return rnn::make_simple_rnn_cell(u, Activation::tanh);
    if (cell == "lstm") return rnn::make_lstm_cell(u, Activation::tanh, Activation::sigmoid);
    return rnn::make_gru_cell(u, Activation::tanh, Activation::sigmoid, cell == "gru");
  };
  for (const Loop& l : {Loop{"simple_rnn", 5, false, false, false, true}, Loop{"lstm", 5, true, false, true, false},
                        Loop{"lstm", 48, false, true, false, true}, Loop{"gru", 5, true, true, false, true},
                        Loop{"gru", 48, true, false, true, true}, Loop{"gru_before", 5, false, true, false, false},
                        Loop{"simple_rnn", 48, true, true, true, false}, Loop{"lstm", 48, true, false, true, true, true},
                        Loop{"gru", 5, false, false, false, false, true}, Loop{"gru_before", 48, false, false, true, false, true}}) {
    // The large cases are worth splitting over threads (kernels::worth_splitting).
    const bool large = l.batch > 16;
    const int64_t B = l.batch, T = large ? 40 : 6, in = large ? 8 : 5, u = large ? 32 : 8;
    const std::string label = l.cell + " batch " + std::to_string(B) + (l.masked ? " masked" : "") +
                              (l.dropout ? " dropout" : "") + (l.backwards ? " go_backwards" : "") +
                              (l.sequences ? " sequences" : "") + (l.rows ? " rows" : "");
    // Runs forward, and backward when `backward`, on b; returns every output.
    auto run = [=](Backend& b, bool backward) {
      auto cell = make_cell(l.cell, u);
      const int64_t G = cell->gates();
      Tensor x = random_tensor({B, T, in}, 1), kernel = random_tensor({in, G * u}, 2, -0.5f, 0.5f),
             // Contracting (spectral radius below 1): differences of rounding neither grow nor explode over steps.
             rkernel = random_tensor({u, G * u}, 3, -0.8f / std::sqrt(float(u)), 0.8f / std::sqrt(float(u))),
             bias = l.cell == "gru" ? random_tensor({2, G * u}, 4) : random_tensor({G * u}, 4);
      Tensor mask = Tensor::full({B, T}, 1.0f);
      for (int64_t r = 0; r < B; r += 3) mask[r * T + T - 1] = mask[r * T + T - 2] = 0.0f;  // padding at the end
      Tensor in_masks = random_tensor({G, B, in}, 5, 0.0f, 1.0f), rec_masks = random_tensor({G, B, u}, 6, 0.0f, 1.0f);
      for (Tensor* m : {&in_masks, &rec_masks})
        for (int64_t i = 0; i < m->size(); ++i) (*m)[i] = (*m)[i] < 0.25f ? 0.0f : 1.0f / 0.75f;
      std::vector<Tensor> initial{random_tensor({B, u}, 7)};
      if (cell->states() == 2) initial.push_back(random_tensor({B, u}, 8));
      // From rows: 7 distinct rows, each position one of them.
      const Tensor rows = random_tensor({7, in}, 14), picks = random_tensor({B, T}, 15, 0.0f, 7.0f);
      std::vector<int32_t> row_index(size_t(B * T));
      for (int64_t i = 0; i < B * T; ++i) row_index[size_t(i)] = std::min(int32_t(picks[i]), 6);
      const Tensor row_of({B, T}, std::move(row_index));
      RecurrentForward call;
      call.x = l.rows ? nullptr : &x;
      call.rows = l.rows ? &rows : nullptr;
      call.row_of = l.rows ? &row_of : nullptr;
      call.mask = l.masked ? &mask : nullptr;
      call.kernel = &kernel;
      call.recurrent_kernel = &rkernel;
      call.bias = &bias;
      call.input_dropout = l.dropout ? &in_masks : nullptr;
      call.recurrent_dropout = l.dropout ? &rec_masks : nullptr;
      call.initial_states = &initial;
      call.go_backwards = l.backwards;
      call.return_sequences = l.sequences;
      call.zero_output_for_mask = l.masked;
      call.keep_for_backward = backward;
      RecurrentTape tape;
      Tensor y;
      std::vector<Tensor> final_states;
      b.recurrent_forward(*cell, call, tape, y, final_states);
      std::vector<Tensor> out{y};
      for (const Tensor& f : final_states) out.push_back(f);
      if (!backward) return out;
      Tensor dy = random_tensor(y.shape(), 9), dx, dkernel = random_tensor(kernel.shape(), 10),
             drkernel = random_tensor(rkernel.shape(), 11), dbias = random_tensor(bias.shape(), 12);
      std::vector<Tensor> d_final{random_tensor({B, u}, 13)}, d_initial;
      RecurrentBackward back;
      back.kernel = &kernel;
      back.recurrent_kernel = &rkernel;
      back.bias = &bias;
      back.dy = &dy;
      back.d_final = &d_final;
      back.dkernel = &dkernel;
      back.drecurrent_kernel = &drkernel;
      back.dbias = &dbias;
      back.dx = l.rows ? nullptr : &dx;
      back.drows = l.rows ? &dx : nullptr;
      back.d_initial = &d_initial;
      b.recurrent_backward(*cell, back, tape);
      for (Tensor* t : {&dx, &dkernel, &drkernel, &dbias}) out.push_back(*t);
      for (const Tensor& d : d_initial) out.push_back(d);
      return out;
    };
    c.push_back({"recurrent_forward", label, [=](Backend& b) { return run(b, false); }, 1e-4});
    c.push_back({"recurrent_backward", label, [=](Backend& b) { return run(b, true); }, 1e-4});
  }
}

// The ops the layers compose: dense algebra, activations, embeddings, pooling, noise and masks.
void add_layer_op_cases(std::vector<OpCase>& c) {
  constexpr double kSums = 1e-5;  // a reordered float sum of up to a few hundred terms of size ~1
  c.push_back({"copy", "", [](Backend& b) {
                 Tensor src = random_tensor({300000}, 1), dst = Tensor::full({300000}, 9.0f);
                 b.copy(dst, src);
                 return std::vector<Tensor>{dst};
               }});
  struct Dims {
    int64_t rows, in, out;
  };
  for (const Dims& d : {Dims{7, 5, 3}, Dims{300, 64, 32}, Dims{33, 8, 130}})
    for (bool with_bias : {false, true}) {
      const std::string label = std::to_string(d.rows) + "x" + std::to_string(d.in) + "x" + std::to_string(d.out) +
                                (with_bias ? " bias" : "");
      c.push_back({"matmul_forward", label,
                   [=](Backend& b) {
                     Tensor x = random_tensor({d.rows, d.in}, 1), w = random_tensor({d.in, d.out}, 2),
                            bias = random_tensor({d.out}, 3), out = Tensor::full({d.rows, d.out}, 9.0f);
                     b.matmul_forward(out, x, w, with_bias ? &bias : nullptr);
                     return std::vector<Tensor>{out};
                   },
                   kSums});
      c.push_back({"matmul_backward", label,
                   [=](Backend& b) {
                     Tensor x = random_tensor({d.rows, d.in}, 1), w = random_tensor({d.in, d.out}, 2),
                            g = random_tensor({d.rows, d.out}, 4), dx = Tensor::full({d.rows, d.in}, 9.0f),
                            dw = random_tensor({d.in, d.out}, 5), db = random_tensor({d.out}, 6);
                     b.matmul_backward(&dx, dw, with_bias ? &db : nullptr, g, x, w);
                     return std::vector<Tensor>{dx, dw, db};
                   },
                   kSums});
    }
  struct Conv {
    int64_t B, L, C, F, K;
    Windows windows;
    int64_t Lout;
  };
  for (const Conv& v : {Conv{3, 17, 5, 6, 3, {3, 1, 1, 0}, 15}, Conv{2, 17, 4, 3, 3, {3, 2, 1, 1}, 9},
                        Conv{2, 16, 3, 5, 2, {2, 1, 3, 3}, 16}, Conv{4, 40, 64, 32, 5, {5, 1, 1, 2}, 40},
                        Conv{2, 30, 128, 16, 3, {3, 1, 1, 0}, 28}}) {
    const std::string label = "B" + std::to_string(v.B) + " L" + std::to_string(v.L) + " C" + std::to_string(v.C) +
                              " F" + std::to_string(v.F) + " K" + std::to_string(v.K) + " stride " +
                              std::to_string(v.windows.strides) + " dilation " + std::to_string(v.windows.dilation) +
                              " pad " + std::to_string(v.windows.pad_left);
    c.push_back({"conv1d_forward", label,
                 [=](Backend& b) {
                   Tensor x = random_tensor({v.B, v.L, v.C}, 1), w = random_tensor({v.K, v.C, v.F}, 2),
                          bias = random_tensor({v.F}, 3), out = Tensor::full({v.B, v.Lout, v.F}, 9.0f);
                   b.conv1d_forward(out, x, w, &bias, v.windows);
                   return std::vector<Tensor>{out};
                 },
                 kSums});
    c.push_back({"conv1d_backward", label,
                 [=](Backend& b) {
                   Tensor x = random_tensor({v.B, v.L, v.C}, 1), w = random_tensor({v.K, v.C, v.F}, 2),
                          g = random_tensor({v.B, v.Lout, v.F}, 4), dx = Tensor::full({v.B, v.L, v.C}, 9.0f),
                          dw = random_tensor({v.K, v.C, v.F}, 5), db = random_tensor({v.F}, 6);
                   b.conv1d_backward(&dx, dw, &db, g, x, w, v.windows);
                   return std::vector<Tensor>{dx, dw, db};
                 },
                 kSums});
  }
  for (Activation a : {Activation::linear, Activation::relu, Activation::sigmoid, Activation::tanh, Activation::softmax,
                       Activation::silu, Activation::gelu, Activation::elu, Activation::selu, Activation::softplus,
                       Activation::softsign, Activation::hard_sigmoid, Activation::exponential,
                       Activation::hard_sigmoid_keras2}) {
    for (int64_t rows : {int64_t(13), int64_t(40000)}) {  // 40000 x 9: split over threads
      const std::string label = std::string(activation_name(a)) + " rows " + std::to_string(rows);
      c.push_back({"activation_forward", label,
                   [=](Backend& b) {
                     Tensor x = random_tensor({rows, 9}, 1, -4.0f, 4.0f), y = Tensor::full({rows, 9}, 9.0f);
                     b.activation_forward(a, y, x);
                     return std::vector<Tensor>{y};
                   },
                   2e-6});
      c.push_back({"activation_backward", label,
                   [=](Backend& b) {
                     // The forward's output from the reference, so that only the backward differs.
                     Tensor x = random_tensor({rows, 9}, 1, -4.0f, 4.0f), y({rows, 9});
                     reference_backend().activation_forward(a, y, x);
                     Tensor dy = random_tensor({rows, 9}, 2), dx = Tensor::full({rows, 9}, 9.0f);
                     b.activation_backward(a, dx, x, y, dy);
                     return std::vector<Tensor>{dx};
                   },
                   2e-6});
    }
  }

  for (int kind = 0; kind < 5; ++kind) {
    static const char* kinds[] = {"int ids", "float ids", "a fraction", "a negative id", "an id too large"};
    c.push_back({"embedding_ids", kinds[kind], [=](Backend& b) {
                   Tensor x = int_ids({6, 9}, 20, 1);
                   if (kind > 0) x = x.as_float();
                   if (kind == 2) x[31] = 3.5f;
                   if (kind == 3) x[17] = -1.0f;
                   if (kind == 4) x[40] = 20.0f;
                   Tensor ids({54}, DType::int32);
                   const InvalidId bad = b.embedding_ids(ids, x, 20);
                   std::vector<float> as_floats(ids.idata(), ids.idata() + ids.size());
                   return std::vector<Tensor>{scalar(double(bad.position)), exact(bad.id), scalar(bad.non_integer),
                                              Tensor({54}, as_floats)};
                 }});
  }
  for (int64_t n : {int64_t(50), int64_t(20000)}) {
    c.push_back({"embedding_forward", "n " + std::to_string(n), [=](Backend& b) {
                   Tensor ids = int_ids({n}, 30, 1), table = random_tensor({30, 64}, 2), out = Tensor::full({n, 64}, 9.0f);
                   b.embedding_forward(out, ids, table);
                   return std::vector<Tensor>{out};
                 }});
    c.push_back({"embedding_backward", "n " + std::to_string(n), [=](Backend& b) {
                   Tensor ids = int_ids({n}, 30, 1), dtable = random_tensor({30, 64}, 2), g = random_tensor({n, 64}, 3);
                   b.embedding_backward(dtable, g, ids);
                   return std::vector<Tensor>{dtable};
                 }});
  }
  for (bool ints : {false, true})
    c.push_back({"nonzero_mask", ints ? "int" : "float", [=](Backend& b) {
                   Tensor x = int_ids({5, 7}, 3, 1);
                   if (!ints) x = x.as_float();
                   Tensor mask = Tensor::full({5, 7}, 9.0f);
                   b.nonzero_mask(mask, x);
                   return std::vector<Tensor>{mask};
                 }});

  // Embedding + Conv1D fused: 300 positions over a vocabulary of 40 (a few hundred: split over threads).
  for (int64_t n : {int64_t(300), int64_t(20000)}) {
    const int64_t V = 40, C = 24, K = 3, F = 16, B = n / 50, L = 50;
    const std::string label = "n " + std::to_string(n);
    auto distinct = [=](Backend& b) {
      Tensor ids = int_ids({B, L}, int32_t(V), 1), unique({n}, DType::int32), slots({B, L}, DType::int32);
      Tensor seen({V}, std::vector<int32_t>(size_t(V), -1));
      const int64_t count = b.distinct_ids(unique, slots, seen, ids);
      return std::tuple{unique, slots, count, seen};
    };
    auto as_floats = [](const Tensor& t) {
      return Tensor(t.shape(), std::vector<float>(t.idata(), t.idata() + t.size()));
    };
    c.push_back({"distinct_ids", label, [=](Backend& b) {
                   auto [unique, slots, count, seen] = distinct(b);
                   return std::vector<Tensor>{as_floats(unique), as_floats(slots), scalar(double(count)), as_floats(seen)};
                 }});
    c.push_back({"embedding_project", label,
                 [=](Backend& b) {
                   auto [unique, slots, count, seen] = distinct(reference_backend());
                   Tensor rows = random_tensor({count, C}, 2), w = random_tensor({K, C, F}, 3);
                   Tensor projected = Tensor::full({count, K * F}, 9.0f);
                   b.embedding_project(projected, rows, w);
                   return std::vector<Tensor>{projected};
                 },
                 kSums});
    for (bool with_rows : {false, true})
      c.push_back({"embedding_project_backward", label + (with_rows ? " rows" : ""),
                   [=](Backend& b) {
                     auto [unique, slots, count, seen] = distinct(reference_backend());
                     Tensor rows = random_tensor({count, C}, 2), w = random_tensor({K, C, F}, 3);
                     Tensor dp = random_tensor({count, K * F}, 4), dw = random_tensor({K, C, F}, 5),
                            drows = Tensor::full({count, C}, 9.0f);
                     b.embedding_project_backward(with_rows ? &drows : nullptr, dw, dp, rows, w);
                     return std::vector<Tensor>{dw, drows};
                   },
                   kSums});
    for (const Windows& win : {Windows{K, 1, 1, 0}, Windows{K, 2, 1, 1}, Windows{K, 1, 2, 4}}) {
      const int64_t Lout = win.strides == 2 ? 25 : (win.pad_left == 0 ? L - K + 1 : L);
      const std::string wl = label + " stride " + std::to_string(win.strides) + " dilation " +
                             std::to_string(win.dilation) + " pad " + std::to_string(win.pad_left);
      c.push_back({"gather_conv1d_forward", wl, [=](Backend& b) {
                     auto [unique, slots, count, seen] = distinct(reference_backend());
                     Tensor projected = random_tensor({count, K * F}, 2), bias = random_tensor({F}, 3);
                     Tensor out = Tensor::full({B, Lout, F}, 9.0f);
                     b.gather_conv1d_forward(out, projected, slots, &bias, win);
                     return std::vector<Tensor>{out};
                   }});
      c.push_back({"gather_conv1d_backward", wl, [=](Backend& b) {
                     auto [unique, slots, count, seen] = distinct(reference_backend());
                     Tensor dout = random_tensor({B, Lout, F}, 2), dbias = random_tensor({F}, 3);
                     Tensor dp = Tensor::full({count, K * F}, 9.0f);
                     b.gather_conv1d_backward(dp, &dbias, dout, slots, win);
                     return std::vector<Tensor>{dp, dbias};
                   }});
    }
  }

  struct Pool {
    int64_t B, L, C;
    Windows windows;
    int64_t Lout;
  };
  for (const Pool& v : {Pool{4, 11, 6, {3, 2, 1, 1}, 6}, Pool{4, 11, 6, {2, 2, 1, 0}, 5}, Pool{3, 9, 5, {4, 1, 1, 0}, 6},
                        Pool{64, 50, 32, {2, 2, 1, 0}, 25}, Pool{5, 20, 13, {5, 3, 1, 2}, 7}}) {
    const std::string label = "B" + std::to_string(v.B) + " L" + std::to_string(v.L) + " size " +
                              std::to_string(v.windows.size) + " stride " + std::to_string(v.windows.strides) +
                              " pad " + std::to_string(v.windows.pad_left);
    for (bool with_argmax : {false, true})
      c.push_back({"max_pool_forward", label + (with_argmax ? " argmax" : ""), [=](Backend& b) {
                     Tensor x = random_tensor({v.B, v.L, v.C}, 1), y = Tensor::full({v.B, v.Lout, v.C}, 9.0f);
                     x[7] = x[7 + v.C];  // a tie: the earliest step wins
                     Tensor arg({v.B, v.Lout, v.C}, DType::int32);
                     b.max_pool_forward(y, with_argmax ? &arg : nullptr, x, v.windows);
                     std::vector<float> steps(arg.idata(), arg.idata() + arg.size());
                     return std::vector<Tensor>{y, Tensor(arg.shape(), steps)};
                   }});
    c.push_back({"max_pool_backward", label, [=](Backend& b) {
                   Tensor x = random_tensor({v.B, v.L, v.C}, 1), y({v.B, v.Lout, v.C});
                   Tensor arg({v.B, v.Lout, v.C}, DType::int32);
                   reference_backend().max_pool_forward(y, &arg, x, v.windows);
                   Tensor dy = random_tensor(y.shape(), 2), dx = Tensor::full(x.shape(), 9.0f);
                   b.max_pool_backward(dx, dy, arg);
                   return std::vector<Tensor>{dx};
                 }});
    c.push_back({"average_pool_forward", label, [=](Backend& b) {
                   Tensor x = random_tensor({v.B, v.L, v.C}, 1), y = Tensor::full({v.B, v.Lout, v.C}, 9.0f);
                   b.average_pool_forward(y, x, v.windows);
                   return std::vector<Tensor>{y};
                 }});
    c.push_back({"average_pool_backward", label, [=](Backend& b) {
                   Tensor dy = random_tensor({v.B, v.Lout, v.C}, 2), dx = Tensor::full({v.B, v.L, v.C}, 9.0f);
                   b.average_pool_backward(dx, dy, v.windows);
                   return std::vector<Tensor>{dx};
                 }});
  }
  for (int64_t B : {int64_t(3), int64_t(64)}) {
    const int64_t L = 50, C = 32;
    const std::string label = "B" + std::to_string(B);
    c.push_back({"global_max_pool_forward", label, [=](Backend& b) {
                   Tensor x = random_tensor({B, L, C}, 1), y = Tensor::full({B, C}, 9.0f);
                   Tensor arg({B, C}, DType::int32);
                   b.global_max_pool_forward(y, arg, x);
                   std::vector<float> steps(arg.idata(), arg.idata() + arg.size());
                   return std::vector<Tensor>{y, Tensor(arg.shape(), steps)};
                 }});
    c.push_back({"global_max_pool_backward", label, [=](Backend& b) {
                   Tensor x = random_tensor({B, L, C}, 1), y({B, C});
                   Tensor arg({B, C}, DType::int32);
                   reference_backend().global_max_pool_forward(y, arg, x);
                   Tensor dy = random_tensor({B, C}, 2), dx = Tensor::full({B, L, C}, 9.0f);
                   b.global_max_pool_backward(dx, dy, arg);
                   return std::vector<Tensor>{dx};
                 }});
    // A mask with a fully masked row, and an inf under a masked step (skipped, not 0 * inf).
    auto weights = [=](Backend& b, bool masked) {
      Tensor w({B, L});
      if (!masked) {
        b.step_average_weights(w, nullptr);
        return w;
      }
      Tensor mask = int_ids({B, L}, 2, 4).as_float();
      for (int64_t t = 0; t < L; ++t) mask[t] = 0.0f;
      b.step_average_weights(w, &mask);
      return w;
    };
    for (bool masked : {false, true}) {
      const std::string ml = label + (masked ? " masked" : "");
      c.push_back({"step_average_weights", ml, [=](Backend& b) { return std::vector<Tensor>{weights(b, masked)}; }});
      c.push_back({"weighted_step_sum_forward", ml, [=](Backend& b) {
                     Tensor x = random_tensor({B, L, C}, 1), y = Tensor::full({B, C}, 9.0f);
                     const Tensor w = weights(reference_backend(), masked);
                     if (masked) x[3] = std::numeric_limits<float>::infinity();
                     b.weighted_step_sum_forward(y, x, w);
                     return std::vector<Tensor>{y};
                   }});
      c.push_back({"weighted_step_sum_backward", ml, [=](Backend& b) {
                     Tensor dy = random_tensor({B, C}, 2), dx = Tensor::full({B, L, C}, 9.0f);
                     b.weighted_step_sum_backward(dx, dy, weights(reference_backend(), masked));
                     return std::vector<Tensor>{dx};
                   }});
    }
  }

  // Rates on the draws' grid (0.25: a draw equal to the rate is kept) and off it, and the ends.
  for (float rate : {0.3f, 0.0f, 0.25f, 0.5f, 0.999999f, 1.0f})
    c.push_back({"dropout_mask", "rate " + std::to_string(rate), [rate](Backend& b) {
                   Rng rng(3);
                   Tensor keep = Tensor::full({100000}, 9.0f);
                   b.dropout_mask(keep, rng, rate, rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f);
                   return std::vector<Tensor>{keep, scalar(rng.uniform())};
                 }});
  c.push_back({"multiply", "", [](Backend& b) {
                 Tensor x = random_tensor({1000}, 1), k = random_tensor({1000}, 2), y = Tensor::full({1000}, 9.0f);
                 b.multiply(y, x, k);
                 return std::vector<Tensor>{y};
               }});
  c.push_back({"multiply_per_channel", "", [](Backend& b) {
                 Tensor x = random_tensor({3, 7, 5}, 1), k = random_tensor({3, 5}, 2), y = Tensor::full({3, 7, 5}, 9.0f);
                 b.multiply_per_channel(y, x, k);
                 return std::vector<Tensor>{y};
               }});
  c.push_back({"add_gaussian_noise", "", [](Backend& b) {
                 Rng rng(3);
                 Tensor x = random_tensor({1000}, 1), y = Tensor::full({1000}, 9.0f);
                 b.add_gaussian_noise(y, x, rng, 0.2f);
                 return std::vector<Tensor>{y, scalar(rng.uniform())};
               }});
  c.push_back({"rows_differing_from", "", [](Backend& b) {
                 Tensor x = random_tensor({4, 6, 3}, 1), keep = Tensor::full({4, 6}, 9.0f);
                 for (int64_t j = 0; j < 3; ++j) x[5 * 3 + j] = 0.5f, x[11 * 3 + j] = 0.5f;
                 x[11 * 3 + 2] = 0.25f;
                 b.rows_differing_from(keep, x, 0.5f);
                 return std::vector<Tensor>{keep};
               }});
  c.push_back({"zero_rows", "", [](Backend& b) {
                 Tensor x = random_tensor({4, 6, 3}, 1), keep = int_ids({4, 6}, 2, 2).as_float();
                 b.zero_rows(x, keep);
                 return std::vector<Tensor>{x};
               }});
}

std::vector<OpCase> cases() {
  std::vector<OpCase> c;
  // n = 37: one thread's share; 300,000: split over threads by the CPU backend.
  for (int64_t n : {int64_t(37), int64_t(300000)}) {
    const std::string size = " n=" + std::to_string(n);
    for (float momentum : {0.0f, 0.9f})
      for (bool nesterov : {false, true})
        c.push_back({"sgd_update", "momentum " + std::to_string(momentum) + (nesterov ? " nesterov" : "") + size,
                     [=](Backend& b) {
                       Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2), m = random_tensor({n}, 3);
                       b.sgd_update(v, g, momentum != 0.0f ? &m : nullptr, {0.01f, momentum, nesterov});
                       return std::vector<Tensor>{v, m};
                     }});
    for (bool centered : {false, true})
      for (float momentum : {0.0f, 0.5f})
        c.push_back({"rmsprop_update", std::string(centered ? "centered" : "plain") + " momentum " +
                                           std::to_string(momentum) + size,
                     [=](Backend& b) {
                       Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2);
                       Tensor vel = random_tensor({n}, 3, 0.0f, 1.0f), avg = random_tensor({n}, 4, -0.1f, 0.1f),
                              mom = random_tensor({n}, 5);
                       b.rmsprop_update(v, g, vel, centered ? &avg : nullptr, momentum > 0 ? &mom : nullptr,
                                        {0.001f, 0.9f, momentum, 1e-7f, centered});
                       return std::vector<Tensor>{v, vel, avg, mom};
                     }});
    for (bool amsgrad : {false, true})
      c.push_back({"adam_update", std::string(amsgrad ? "amsgrad" : "plain") + size, [=](Backend& b) {
                     Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2), m = random_tensor({n}, 3);
                     Tensor s = random_tensor({n}, 4, 0.0f, 1.0f), vhat = random_tensor({n}, 5, 0.0f, 1.0f);
                     b.adam_update(v, g, m, s, amsgrad ? &vhat : nullptr, {0.9f, 0.999f, 1e-7f, 3.2e-4f});
                     return std::vector<Tensor>{v, m, s, vhat};
                   }});
    c.push_back({"adagrad_update", size, [=](Backend& b) {
                   Tensor v = random_tensor({n}, 1), g = random_tensor({n}, 2), acc = random_tensor({n}, 3, 0.1f, 1.0f);
                   b.adagrad_update(v, g, acc, {0.001f, 1e-7f});
                   return std::vector<Tensor>{v, acc};
                 }});
    c.push_back({"decay_weights", size, [=](Backend& b) {
                   Tensor v = random_tensor({n}, 1);
                   b.decay_weights(v, 0.004f, 0.001f);
                   return std::vector<Tensor>{v};
                 }});
    c.push_back({"sum_of_squares", size, [=](Backend& b) {
                   return std::vector<Tensor>{exact(b.sum_of_squares(random_tensor({n}, 1), 1.5))};
                 }});
    c.push_back({"scale_to_norm", size, [=](Backend& b) {
                   Tensor g = random_tensor({n}, 1);
                   b.scale_to_norm(g, 1.0, 3.7);
                   return std::vector<Tensor>{g};
                 }});
    c.push_back({"clip_values", size, [=](Backend& b) {
                   Tensor g = random_tensor({n}, 1);
                   b.clip_values(g, 0.25f);
                   return std::vector<Tensor>{g};
                 }});

    struct Pointwise {
      PointwiseLoss kind;
      const char* name;
      float param;
      bool probabilities;
    };
    for (const Pointwise& k : {Pointwise{PointwiseLoss::absolute_error, "absolute_error", 0.0f, false},
                               Pointwise{PointwiseLoss::squared_error, "squared_error", 0.0f, false},
                               Pointwise{PointwiseLoss::huber, "huber 0.3", 0.3f, false},
                               Pointwise{PointwiseLoss::binary_crossentropy, "binary_crossentropy", 0.0f, true},
                               Pointwise{PointwiseLoss::binary_crossentropy, "binary_crossentropy smoothed", 0.1f, true},
                               Pointwise{PointwiseLoss::binary_crossentropy_logits, "logits smoothed", 0.2f, false}}) {
      auto inputs = [=] {
        Tensor p = k.probabilities ? probabilities(n, 1) : random_tensor({n}, 1, -3.0f, 3.0f);
        Tensor t = k.probabilities || k.kind == PointwiseLoss::binary_crossentropy_logits
                       ? random_tensor({n}, 2, 0.0f, 1.0f)
                       : random_tensor({n}, 2, -3.0f, 3.0f);
        return std::pair{p, t};
      };
      c.push_back({"pointwise_loss_forward", k.name + size, [=](Backend& b) {
                     auto [p, t] = inputs();
                     return std::vector<Tensor>{exact(b.pointwise_loss_forward(k.kind, p, t, k.param))};
                   }});
      c.push_back({"pointwise_loss_backward", k.name + size, [=](Backend& b) {
                     auto [p, t] = inputs();
                     Tensor d = Tensor::full({n}, 99.0f);
                     b.pointwise_loss_backward(k.kind, d, p, t, k.param);
                     return std::vector<Tensor>{d};
                   }});
    }
  }

  const int64_t rows = 41, classes = 7;
  for (bool from_logits : {false, true})
    for (bool sparse : {false, true})
      for (float smoothing : {0.0f, 0.1f}) {
        if (sparse && smoothing != 0.0f) continue;
        const CrossentropyRows how{from_logits, sparse, smoothing};
        const std::string label = std::string(from_logits ? "logits" : "probabilities") + (sparse ? " sparse" : " dense") +
                                  " smoothing " + std::to_string(smoothing);
        auto inputs = [=] {
          Tensor p = from_logits ? random_tensor({rows, classes}, 1, -4.0f, 4.0f)
                                 : random_tensor({rows, classes}, 1, 0.0f, 1.0f);
          if (!from_logits) p[3] = 0.0f;  // a clipped probability
          Tensor t = sparse ? labels(rows, classes, 2) : distributions(rows, classes, 2);
          return std::pair{p, t};
        };
        c.push_back({"crossentropy_forward", label, [=](Backend& b) {
                       auto [p, t] = inputs();
                       return std::vector<Tensor>{exact(b.crossentropy_forward(p, t, classes, how))};
                     }});
        c.push_back({"crossentropy_backward", label, [=](Backend& b) {
                       auto [p, t] = inputs();
                       Tensor d = Tensor::full({rows, classes}, 99.0f);
                       b.crossentropy_backward(d, p, t, classes, how);
                       return std::vector<Tensor>{d};
                     }});
      }
  for (float bad : {0.0f, 2.5f, -1.0f, 7.0f})
    c.push_back({"first_invalid_label", "label 23 = " + std::to_string(bad), [=](Backend& b) {
                   Tensor t = labels(rows, classes, 2);
                   if (bad != 0.0f) t[23] = bad;
                   const InvalidLabel found = b.first_invalid_label(t, classes);
                   return std::vector<Tensor>{scalar(double(found.row)), exact(found.label)};
                 }});
  c.push_back({"binary_hits", "", [=](Backend& b) {
                 return std::vector<Tensor>{
                     scalar(b.binary_hits(probabilities(1001, 1), random_tensor({1001}, 2, 0.0f, 1.0f), 0.3f))};
               }});
  for (bool sparse : {false, true})
    c.push_back({"argmax_hits", sparse ? "sparse" : "dense", [=](Backend& b) {
                   Tensor p = random_tensor({rows, classes}, 1);
                   Tensor t = sparse ? labels(rows, classes, 1) : random_tensor({rows, classes}, 3);
                   return std::vector<Tensor>{scalar(b.argmax_hits(p, t, classes, sparse))};
                 }});
  add_layer_op_cases(c);
  add_join_and_normalize_op_cases(c);
  add_recurrent_op_cases(c);
  return c;
}

using testing::ThreadCount;

void expect_bitwise(const std::vector<Tensor>& want, const std::vector<Tensor>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].shape(), got[k].shape()) << what << ", output " << k;
    if (std::memcmp(want[k].data(), got[k].data(), size_t(want[k].size()) * sizeof(float)) == 0) continue;
    for (int64_t i = 0; i < want[k].size(); ++i)
      if (std::memcmp(&want[k].data()[i], &got[k].data()[i], sizeof(float)) != 0) {
        ADD_FAILURE() << what << ", output " << k << " element " << i << ": reference " << want[k][i] << ", got "
                      << got[k][i];
        break;
      }
  }
}

void expect_close(const std::vector<Tensor>& want, const std::vector<Tensor>& got, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].shape(), got[k].shape()) << what << ", output " << k;
    for (int64_t i = 0; i < want[k].size(); ++i) {
      const double r = want[k][i], f = got[k][i];
      if (!(std::abs(r - f) <= tolerance * (1.0 + std::abs(r)))) {
        ADD_FAILURE() << what << ", output " << k << " element " << i << ": reference " << r << ", got " << f;
        break;
      }
    }
  }
}

TEST(Ops, EveryOpHasCases) {
  std::set<std::string> covered;
  for (const OpCase& c : cases()) covered.insert(c.op);
  for (const std::string& op : Backend::op_names())
    EXPECT_TRUE(covered.count(op)) << op << " is an op of the backend but has no case in test_ops.cpp";
  for (const std::string& op : covered)
    EXPECT_NE(std::find(Backend::op_names().begin(), Backend::op_names().end(), op), Backend::op_names().end())
        << op << " has cases but is not in Backend::op_names()";
}

TEST(Ops, CpuBackendMatchesTheReferenceOnOneAndTwoThreads) {
  EXPECT_EQ(&backend(), &cpu_backend());
  for (const OpCase& c : cases()) {
    const std::string what = c.op + " " + c.label;
    const std::vector<Tensor> want = c.run(reference_backend());
    for (int threads : {1, 2}) {
      ThreadCount count(threads);
      const std::vector<Tensor> got = c.run(cpu_backend());
      const std::string where = what + " on " + std::to_string(threads) + " thread(s)";
      if (c.tolerance == 0.0) expect_bitwise(want, got, where);
      else expect_close(want, got, c.tolerance, where);
    }
  }
}

TEST(Ops, EqualComparesShapesAndBits) {
  Backend& b = reference_backend();
  Tensor x = random_tensor({6}, 1), other = x;
  EXPECT_TRUE(b.equal(x, other));
  other[5] = std::nextafter(other[5], 2.0f);
  EXPECT_FALSE(b.equal(x, other));
  EXPECT_FALSE(b.equal(x, x.reshaped({2, 3})));
  Tensor zero({1}), negative_zero = Tensor::full({1}, -0.0f);
  EXPECT_FALSE(b.equal(zero, negative_zero));
}

// The reference is the specification; a few values by hand keep it honest where the Keras fixtures of
// test_losses_optimizers.cpp do not reach (the clip edges).
TEST(Ops, ReferenceAtTheCrossentropyClip) {
  Backend& b = reference_backend();
  Tensor p({3}, std::vector<float>{0.0f, 1.0f, 0.5f}), t({3}, std::vector<float>{1.0f, 0.0f, 1.0f});
  Tensor d({3});
  b.pointwise_loss_backward(PointwiseLoss::binary_crossentropy, d, p, t, 0.0f);
  EXPECT_EQ(d[0], 0.0f);  // clipped: no gradient, as in TensorFlow
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_FLOAT_EQ(d[2], float(-2.0 / 3.0));
  const double sum = b.pointwise_loss_forward(PointwiseLoss::binary_crossentropy, p, t, 0.0f);
  const float eps = float(1e-7);
  EXPECT_NEAR(sum, -std::log(double(eps)) - std::log(double(1.0f - (1.0f - eps))) - std::log(0.5), 1e-9);
  const InvalidLabel none = b.first_invalid_label(Tensor({2}, std::vector<float>{0.0f, 2.0f}), 3);
  EXPECT_EQ(none.row, -1);
}

}  // namespace
}  // namespace seqnet
