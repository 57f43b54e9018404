// SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed: Keras's golden outputs, shapes, parameter
// counts, and finite-difference gradient checks for every option.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <functional>
#include <nlohmann/json.hpp>

#include "gradcheck.h"
#include "kernels/dispatch.h"
#include "seqnet/seqnet.h"
#include "seqnet/testing.h"

using namespace seqnet;
using namespace seqnet::testing;

namespace {

Tensor arange(Shape shape) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = float(i);
  return t;
}

RecurrentOptions constant_init(RecurrentOptions o = {}) {
  o.kernel_initializer = Initializer::constant(0.01f);
  o.recurrent_initializer = Initializer::constant(0.02f);
  o.bias_initializer = Initializer::constant(0.03f);
  return o;
}

Tensor run(Layer& l, const Tensor& x, const Tensor* mask = nullptr, bool training = false) {
  if (!l.built()) {
    Rng rng(3);
    Shape s = x.shape();
    s[0] = -1;
    l.build(s, rng);
  }
  Rng rng(5);
  RunContext ctx;
  ctx.training = training;
  ctx.rng = &rng;
  ctx.mask = mask;
  return l.call(x, ctx);
}

// Each row of `y` (B, u) equals rows[b] in every unit.
void expect_rows(const Tensor& y, std::vector<float> rows, const std::string& what) {
  Tensor expected(y.shape());
  const int64_t u = y.dim(-1);
  for (int64_t i = 0; i < y.size(); ++i) expected[i] = rows[i / u];
  expect_tensor_near(y, expected, 1e-5, what);
}

}  // namespace

// ---- Keras's own golden outputs (keras-semantics.md 2.12) ----

TEST(RecurrentGolden, LSTM) {
  LSTM fwd(3, constant_init());
  expect_rows(run(fwd, arange({3, 6, 4})), {0.6288687f, 0.86899155f, 0.9460773f}, "LSTM(3)");
  LSTM bwd(3, constant_init({.go_backwards = true}));
  expect_rows(run(bwd, arange({3, 6, 4})), {0.35622165f, 0.74789524f, 0.8872726f}, "LSTM(3, go_backwards)");
}

TEST(RecurrentGolden, GRU) {
  GRU fwd(3, constant_init());
  expect_rows(run(fwd, arange({3, 6, 4})), {0.5217289f, 0.6371659f, 0.39384964f}, "GRU(3)");
  GRU bwd(3, constant_init({.go_backwards = true}));
  expect_rows(run(bwd, arange({3, 6, 4})), {0.24406259f, 0.611516f, 0.3928808f}, "GRU(3, go_backwards)");
}

TEST(RecurrentGolden, SimpleRNN) {
  SimpleRNN l(4, constant_init());
  expect_rows(run(l, arange({2, 3, 4})), {0.405432f, 0.73605347f}, "SimpleRNN(4)");
}

TEST(RecurrentGolden, BidirectionalSimpleRNN) {
  auto inner = std::make_shared<SimpleRNN>(2, constant_init());
  Bidirectional concat(inner);
  Tensor y = run(concat, arange({2, 3, 4}));
  expect_tensor_near(y, Tensor({2, 4}, std::vector<float>{0.39687276f, 0.39687276f, 0.10004295f, 0.10004295f, 0.7237238f, 0.7237238f,
                                        0.53391594f, 0.53391594f}),
                     1e-5, "Bidirectional concat");
  Bidirectional ave(inner, {.merge_mode = "ave"});
  expect_tensor_near(run(ave, arange({2, 3, 4})), Tensor({2, 2}, std::vector<float>{0.24845785f, 0.24845785f, 0.6288199f, 0.6288199f}),
                     1e-5, "Bidirectional ave");
}

TEST(Recurrent, BidirectionalBackwardRefusesAGradientOfAnotherShape) {
  auto inner = std::make_shared<SimpleRNN>(2, constant_init());
  Bidirectional concat(inner);
  run(concat, arange({2, 3, 4}));  // output (2, 4)
  try {
    concat.backward(Tensor({2, 3}));
    FAIL() << "a (2, 3) gradient for a (2, 4) output was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2, 3)"), std::string::npos) << e.what();
  }
}

// ---- Weights, shapes, parameter counts ----

TEST(Recurrent, KerasWeightLayoutsAndParamCounts) {
  Rng rng(1);
  LSTM lstm(32);
  EXPECT_EQ(lstm.build({-1, 10, 32}, rng), (Shape{-1, 32}));
  EXPECT_EQ(lstm.count_params(), 8320);
  auto ps = lstm.params();
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps[0]->name, "kernel");
  EXPECT_EQ(ps[0]->value.shape(), (Shape{32, 128}));
  EXPECT_EQ(ps[1]->name, "recurrent_kernel");
  EXPECT_EQ(ps[1]->value.shape(), (Shape{32, 128}));
  EXPECT_EQ(ps[2]->name, "bias");
  for (int j = 0; j < 128; ++j) EXPECT_EQ(ps[2]->value[j], (j >= 32 && j < 64) ? 1.0f : 0.0f) << j;

  GRU gru(32);
  gru.build({-1, 5, 14}, rng);
  EXPECT_EQ(gru.count_params(), 4608);
  EXPECT_EQ(gru.params()[2]->value.shape(), (Shape{2, 96}));
  GRU gru2(32, {.reset_after = false});
  gru2.build({-1, 5, 14}, rng);
  EXPECT_EQ(gru2.count_params(), 4512);
  EXPECT_EQ(gru2.params()[2]->value.shape(), (Shape{96}));

  SimpleRNN srnn(32, {.return_sequences = true});
  EXPECT_EQ(srnn.build({-1, 7, 32}, rng), (Shape{-1, 7, 32}));
  EXPECT_EQ(srnn.count_params(), 2080);
  LSTM nobias(4, {.use_bias = false});
  nobias.build({-1, 3, 2}, rng);
  EXPECT_EQ(nobias.count_params(), 4 * 4 * (2 + 4));
}

TEST(Recurrent, RecurrentKernelIsOneOrthogonalMatrix) {
  Rng rng(2);
  LSTM lstm(8);
  lstm.build({-1, 3, 5}, rng);
  const Tensor& R = lstm.params()[1]->value;  // (8, 32): rows orthonormal
  for (int a = 0; a < 8; ++a)
    for (int b = 0; b < 8; ++b) {
      double dot = 0;
      for (int j = 0; j < 32; ++j) dot += double(R[a * 32 + j]) * R[b * 32 + j];
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5);
    }
}

TEST(Recurrent, EmbeddingPlusRecurrentParamCounts) {
  Sequential lstm_model({layers::Embedding(500, 16), layers::LSTM(8), layers::Dense(1, {.activation = "sigmoid"})});
  lstm_model.build({20}, DType::int32);
  EXPECT_EQ(lstm_model.count_params(), 8809);
  Sequential gru_model({layers::Embedding(500, 16), layers::GRU(8), layers::Dense(1, {.activation = "sigmoid"})});
  gru_model.build({20}, DType::int32);
  EXPECT_EQ(gru_model.count_params(), 8633);
}

TEST(Recurrent, AsymmetricBidirectionalShapeAndCount) {
  Rng rng(1);
  Bidirectional bi(layers::LSTM(24, {.return_sequences = true}),
                   {.backward_layer = layers::GRU(16, {.return_sequences = true, .go_backwards = true})});
  EXPECT_EQ(bi.build({-1, 5, 32}, rng), (Shape{-1, 5, 40}));  // Keras would report 48 (keras#23688)
  EXPECT_EQ(bi.count_params(), 7872);
  Bidirectional sym(layers::LSTM(24, {.return_sequences = true}),
                    {.backward_layer = layers::GRU(24, {.return_sequences = true, .go_backwards = true})});
  EXPECT_EQ(sym.build({-1, 5, 40}, rng), (Shape{-1, 5, 48}));
  EXPECT_EQ(sym.count_params(), 10992);
  EXPECT_EQ(bi.forward_layer().name().rfind("forward_lstm", 0), 0u);
}

TEST(Recurrent, BidirectionalRejectsMismatchedBackwardLayer) {
  EXPECT_THROW(Bidirectional(layers::LSTM(4), {.backward_layer = layers::GRU(4)}), Error);  // same go_backwards
  EXPECT_THROW(Bidirectional(layers::LSTM(4), {.backward_layer = layers::GRU(4, {.return_sequences = true,
                                                                               .go_backwards = true})}),
               Error);
  Rng rng(1);
  Bidirectional bad(layers::LSTM(4), {.merge_mode = "sum", .backward_layer = layers::GRU(3, {.go_backwards = true})});
  EXPECT_THROW(bad.build({-1, 3, 2}, rng), Error);
  EXPECT_THROW(Bidirectional(layers::LSTM(4), {.merge_mode = "first"}), Error);
}

TEST(Recurrent, WrongRankIsAClearError) {
  LSTM l(3, {.name = "enc"});
  Rng rng(1);
  try {
    l.build({-1, 5}, rng);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'enc' (LSTM): expects input of rank 3"), std::string::npos) << e.what();
  }
}

// ---- go_backwards, return_sequences, masks ----

TEST(Recurrent, GoBackwardsEqualsForwardOnReversedInputAndStaysReversed) {
  Tensor x = random_tensor({2, 5, 3}, 4);
  Tensor xr(x.shape());
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 5; ++t)
      for (int j = 0; j < 3; ++j) xr[(b * 5 + t) * 3 + j] = x[(b * 5 + 4 - t) * 3 + j];
  GRU f(4, {.return_sequences = true});
  GRU g(4, {.return_sequences = true, .go_backwards = true});
  run(f, x);
  run(g, x);
  g.params()[0]->value = f.params()[0]->value;
  g.params()[1]->value = f.params()[1]->value;
  g.params()[2]->value = f.params()[2]->value;
  // Keras: output[:, 0] belongs to the last input step, i.e. the sequence is not flipped back.
  expect_tensor_near(run(g, x), run(f, xr), 1e-6, "go_backwards vs reversed input");
}

TEST(Recurrent, MaskedStepsCarryOutputAndState) {
  // Right padding: the output at a masked step is the previous output; the final output is the last
  // valid step's.
  Tensor x = random_tensor({2, 5, 3}, 6);
  Tensor mask({2, 5}, std::vector<float>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1});
  LSTM l(4, {.return_sequences = true});
  Tensor y = run(l, x, &mask);
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(y[(0 * 5 + 3) * 4 + j], y[(0 * 5 + 2) * 4 + j]);
    EXPECT_EQ(y[(0 * 5 + 4) * 4 + j], y[(0 * 5 + 2) * 4 + j]);
  }
  // Same as running the unpadded prefix.
  LSTM last(4);
  run(last, x);
  for (int k = 0; k < 3; ++k) last.params()[k]->value = l.params()[k]->value;
  Tensor prefix({1, 3, 3});
  std::copy_n(x.data(), 9, prefix.data());
  LSTM shortl(4);
  run(shortl, prefix);
  for (int k = 0; k < 3; ++k) shortl.params()[k]->value = l.params()[k]->value;
  Tensor y_short = run(shortl, prefix);
  Tensor y_last = run(last, x, &mask);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(y_last[j], y_short[j], 1e-6);
  // compute_mask: only with return_sequences.
  EXPECT_TRUE(l.compute_mask(x, &mask).has_value());
  EXPECT_FALSE(last.compute_mask(x, &mask).has_value());
}

TEST(Recurrent, GoBackwardsWithRightPaddingSkipsPadding) {
  // Keras's example: SimpleRNN with cumulative-sum weights over [1,2,3,0,0] backwards gives [0,0,6,5,4]? We
  // check the property: a backward pass over a right-padded sequence starts at the last valid step.
  Tensor x({1, 5, 1}, std::vector<float>{1, 2, 3, 0, 0});
  Tensor mask({1, 5}, std::vector<float>{1, 1, 1, 0, 0});
  SimpleRNN l(1, {.activation = "linear", .use_bias = false, .kernel_initializer = "ones",
                  .recurrent_initializer = "ones", .return_sequences = true, .go_backwards = true});
  Tensor y = run(l, x, &mask);
  expect_tensor_near(y, Tensor({1, 5, 1}, std::vector<float>{0, 0, 3, 5, 6}), 1e-6, "backward cumulative sum");
}

// Gradients of every recurrent option, width and wrapper: test_layer_harness.cpp.

TEST(Recurrent, DropoutMasksAreFixedPerSequenceAndOffInInference) {
  Tensor x = random_tensor({2, 6, 3}, 23);
  LSTM l(4, {.dropout = 0.5f, .recurrent_dropout = 0.5f, .return_sequences = true});
  Tensor y_inf = run(l, x);
  Tensor y_inf2 = run(l, x);
  expect_tensor_near(y_inf, y_inf2, 0, "inference is deterministic");
  // Per-gate masks (4, B, in) and (4, B, u): a mask of ones everywhere equals no dropout.
  seqnet::testing::set_dropout_masks(l, Tensor::full({4, 2, 3}, 1.0f), Tensor::full({4, 2, 4}, 1.0f));
  expect_tensor_near(run(l, x, nullptr, true), y_inf, 1e-6, "all-ones masks");
  // Zeroing one input feature in every gate mask equals zeroing that feature of the input at every step.
  Tensor m = Tensor::full({4, 2, 3}, 1.0f);
  for (int g = 0; g < 4; ++g)
    for (int b = 0; b < 2; ++b) m[(g * 2 + b) * 3 + 1] = 0.0f;
  seqnet::testing::set_dropout_masks(l, m, Tensor::full({4, 2, 4}, 1.0f));
  Tensor x0 = x;
  for (int i = 0; i < 12; ++i) x0[i * 3 + 1] = 0.0f;
  expect_tensor_near(run(l, x, nullptr, true), run(l, x0), 1e-6, "a dropped feature at every step");
  seqnet::testing::set_dropout_masks(l, {}, {});
  Tensor y_tr = run(l, x, nullptr, true);
  double diff = 0;
  for (int64_t i = 0; i < y_tr.size(); ++i) diff += std::fabs(y_tr[i] - y_inf[i]);
  EXPECT_GT(diff, 1e-3) << "training with dropout should differ from inference";
}

// Recurrent dropout is one mask per gate on h_prev (Keras's implementation 1): dropping unit j of h in
// gate k's mask equals zeroing row j of gate k's block of the recurrent kernel.
TEST(Recurrent, RecurrentDropoutMaskDropsOneGatesRecurrentRow) {
  Tensor x = random_tensor({2, 6, 3}, 24);
  const int64_t u = 4, B = 2, j = 1;
  std::vector<std::shared_ptr<RNN>> layers = {
      std::make_shared<SimpleRNN>(u, RecurrentOptions{.recurrent_dropout = 0.5f, .return_sequences = true}),
      std::make_shared<LSTM>(u, RecurrentOptions{.recurrent_dropout = 0.5f, .return_sequences = true}),
      std::make_shared<GRU>(u, RecurrentOptions{.recurrent_dropout = 0.5f, .return_sequences = true}),
      std::make_shared<GRU>(u, RecurrentOptions{.reset_after = false, .recurrent_dropout = 0.5f, .return_sequences = true}),
  };
  for (auto& l : layers) {
    SCOPED_TRACE(l->class_name());
    run(*l, x);  // builds the weights
    const int G = static_cast<int>(l->params()[1]->value.dim(1) / u);
    const Tensor kernel = l->params()[1]->value;
    for (int k = 0; k < G; ++k) {
      SCOPED_TRACE(k);
      Tensor m = Tensor::full({G, B, u}, 1.0f);
      for (int64_t b = 0; b < B; ++b) m[(k * B + b) * u + j] = 0.0f;
      seqnet::testing::set_dropout_masks(*l, {}, m);
      Tensor dropped = run(*l, x, nullptr, true);
      seqnet::testing::set_dropout_masks(*l, {}, {});
      Tensor& R = l->params()[1]->value;
      for (int64_t c = 0; c < u; ++c) R[j * G * u + k * u + c] = 0.0f;
      expect_tensor_near(dropped, run(*l, x), 1e-6, "masked row");
      R = kernel;
    }
  }
}

// predict / evaluate run forward with keep_for_backward = false: two state slots and one step of cell cache.
// The outputs and final states must be exactly those of a forward that keeps everything.
TEST(Recurrent, InferenceWithoutKeptActivationsGivesTheSameOutputs) {
  Tensor x = random_tensor({5, 7, 3}, 25);
  Tensor mask({5, 7}, std::vector<float>(35, 1.0f));
  for (int i : {5, 6, 13, 34}) mask[i] = 0.0f;
  for (bool seq : {false, true})
    for (bool back : {false, true}) {
      std::vector<std::shared_ptr<RNN>> layers = {
          std::make_shared<SimpleRNN>(4, RecurrentOptions{.return_sequences = seq, .go_backwards = back}),
          std::make_shared<LSTM>(4, RecurrentOptions{.return_sequences = seq, .go_backwards = back}),
          std::make_shared<GRU>(4, RecurrentOptions{.return_sequences = seq, .go_backwards = back}),
          std::make_shared<GRU>(4, RecurrentOptions{.reset_after = false, .return_sequences = seq, .go_backwards = back}),
      };
      for (auto& l : layers) {
        SCOPED_TRACE(l->class_name() + (seq ? " seq" : "") + (back ? " backwards" : ""));
        Tensor kept = run(*l, x, &mask);
        std::vector<Tensor> kept_states = l->final_states();
        RunContext ctx;
        ctx.mask = &mask;
        ctx.keep_for_backward = false;
        Tensor lean = l->call(x, ctx);
        expect_tensor_near(lean, kept, 0, "outputs");
        for (size_t k = 0; k < kept_states.size(); ++k) expect_tensor_near(l->final_states()[k], kept_states[k], 0, "state");
        try {
          l->backward(Tensor::full(lean.shape(), 1.0f));
          ADD_FAILURE() << "backward after a lean forward must fail";
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("keep_for_backward"), std::string::npos) << e.what();
        }
      }
    }
}

TEST(Recurrent, BidirectionalFlipsBackwardSequenceIntoTimeOrder) {
  Tensor x = random_tensor({1, 4, 2}, 32);
  auto fwd = layers::GRU(3, {.return_sequences = true});
  Bidirectional bi(fwd);
  Tensor y = run(bi, x);
  // The backward half at time t equals a go_backwards GRU's output at step T-1-t.
  GRU back(3, {.return_sequences = true, .go_backwards = true});
  run(back, x);
  auto ps = bi.params();
  for (int k = 0; k < 3; ++k) back.params()[k]->value = ps[3 + k]->value;
  Tensor yb = run(back, x);
  for (int t = 0; t < 4; ++t)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(y[t * 6 + 3 + j], yb[(3 - t) * 3 + j], 1e-6);
}

TEST(Recurrent, TimeDistributedDense) {
  TimeDistributed td(layers::Dense(2, {.activation = "tanh"}));
  Rng rng(1);
  EXPECT_EQ(td.build({-1, 5, 3}, rng), (Shape{-1, 5, 2}));
  EXPECT_EQ(td.count_params(), 8);
  Tensor mask({2, 5}, std::vector<float>{1, 1, 0, 0, 0, 1, 1, 1, 1, 1});
  Tensor x = random_tensor({2, 5, 3}, 42);
  auto m = td.compute_mask(x, &mask);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->shape(), (Shape{2, 5}));
}

TEST(Recurrent, StackedInSequentialWithEmbeddingMask) {
  Sequential model({layers::Embedding(20, 4, {.mask_zero = true}), layers::LSTM(5, {.return_sequences = true}),
                    layers::Bidirectional(layers::GRU(3, {.return_sequences = true})),
                    layers::TimeDistributed(layers::Dense(1))});
  model.build({6}, DType::int32);
  EXPECT_EQ(model.output_shape(), (Shape{-1, 6, 1}));
  Tensor ids = Tensor::ints({2, 6}, {3, 4, 5, 0, 0, 0, 7, 8, 9, 10, 11, 12});
  Tensor y = model.forward(ids);
  EXPECT_EQ(y.shape(), (Shape{2, 6, 1}));
  model.zero_grads();
  model.backward(Tensor::full({2, 6, 1}, 1.0f));
}

// ---- State: initial_state, return_state, stateful ----

TEST(Recurrent, InitialStateFinalStatesAndTheirGradients) {
  Tensor x = random_tensor({2, 3, 4}, 51);
  LSTM l(3, {.return_state = true});
  run(l, x);
  ASSERT_EQ(l.final_states().size(), 2u);
  std::vector<Tensor> init = {random_tensor({2, 3}, 52), random_tensor({2, 3}, 53)};
  l.set_initial_state(init);
  Tensor y = run(l, x);
  expect_tensor_near(y, l.final_states()[0], 0, "output is h");
  // d/d(initial h) by finite differences.
  l.backward(Tensor::full({2, 3}, 1.0f));
  const Tensor dh0 = l.initial_state_grads()[0];
  for (int i = 0; i < 6; ++i) {
    auto s = init;
    s[0][i] += 1e-2f;
    l.set_initial_state(s);
    double up = 0;
    Tensor yu = run(l, x);
    for (int k = 0; k < 6; ++k) up += yu[k];
    s[0][i] -= 2e-2f;
    l.set_initial_state(s);
    double down = 0;
    Tensor yd = run(l, x);
    for (int k = 0; k < 6; ++k) down += yd[k];
    EXPECT_NEAR(dh0[i], (up - down) / 2e-2, 2e-3);
  }
}

TEST(Recurrent, StatefulCarriesStateAcrossCalls) {
  Tensor x = random_tensor({2, 6, 3}, 61);
  Tensor a({2, 3, 3}), b({2, 3, 3});
  for (int bb = 0; bb < 2; ++bb)
    for (int t = 0; t < 3; ++t)
      for (int j = 0; j < 3; ++j) {
        a[(bb * 3 + t) * 3 + j] = x[(bb * 6 + t) * 3 + j];
        b[(bb * 3 + t) * 3 + j] = x[(bb * 6 + t + 3) * 3 + j];
      }
  GRU whole(4);
  Rng rng(1);
  whole.build({2, 6, 3}, rng);
  GRU st(4, {.stateful = true});
  st.build({2, 3, 3}, rng);
  for (int k = 0; k < 3; ++k) st.params()[k]->value = whole.params()[k]->value;
  Tensor y_whole = run(whole, x);
  run(st, a);
  expect_tensor_near(run(st, b), y_whole, 1e-6, "two stateful halves = one whole sequence");
  st.reset_states();
  Tensor y_fresh = run(st, b);
  GRU plain(4);
  plain.build({2, 3, 3}, rng);
  for (int k = 0; k < 3; ++k) plain.params()[k]->value = whole.params()[k]->value;
  expect_tensor_near(y_fresh, run(plain, b), 1e-6, "after reset_states");
  EXPECT_THROW(GRU(4, {.stateful = true}).build({-1, 3, 3}, rng), Error);
}

// ---- Keras JSON round trip ----

TEST(RecurrentConfig, RoundTripThroughLayerFromConfig) {
  std::vector<LayerPtr> ls = {
      layers::LSTM(7, {.recurrent_activation = "hard_sigmoid", .unit_forget_bias = false, .dropout = 0.25f,
                       .return_sequences = true, .go_backwards = true}),
      layers::GRU(5, {.reset_after = false, .recurrent_dropout = 0.1f, .stateful = true}),
      layers::SimpleRNN(3, {.activation = "relu", .use_bias = false}),
      layers::Bidirectional(layers::LSTM(4, {.return_sequences = true}),
                            {.merge_mode = "sum", .backward_layer = layers::LSTM(4, {.return_sequences = true,
                                                                                      .go_backwards = true})}),
      layers::TimeDistributed(layers::Dense(1)),
  };
  for (const auto& l : ls) {
    SCOPED_TRACE(l->class_name());
    Json c = l->get_config();
    LayerPtr back = layer_from_config(l->class_name(), c);
    EXPECT_EQ(back->get_config().dump(), c.dump());
  }
}

// The hybrid model of the seed notes (issue 3): shapes and Keras's parameter counts, built from C++
// and again from its own Keras JSON.
TEST(RecurrentModel, HybridConvBidirectionalModel) {
  SymbolicTensor in = Input({20, 6});
  auto x = apply_layer(layers::Conv1D(32, 10, {.activation = "swish"}), in);
  x = apply_layer(layers::MaxPooling1D(2), x);
  x = apply_layer(layers::Bidirectional(layers::LSTM(24, {.return_sequences = true}),
                                        {.backward_layer = layers::GRU(16, {.return_sequences = true, .go_backwards = true})}),
                  x);
  EXPECT_EQ(x.shape(), (Shape{-1, 5, 40}));
  x = apply_layer(layers::Bidirectional(layers::LSTM(24, {.return_sequences = true}),
                                        {.backward_layer = layers::GRU(24, {.return_sequences = true, .go_backwards = true})}),
                  x);
  EXPECT_EQ(x.shape(), (Shape{-1, 5, 48}));
  x = apply_layer(layers::Flatten(), x);
  x = apply_layer(layers::Dense(256, {.activation = "swish"}), x);
  auto out = apply_layer(layers::Dense(1, {.activation = "relu"}), x);
  Model model(in, out);
  EXPECT_EQ(model.count_params(), 82769);
  std::vector<int64_t> counts;
  for (const auto& l : model.layers()) counts.push_back(l->count_params());
  EXPECT_EQ(counts, (std::vector<int64_t>{1952, 0, 7872, 10992, 0, 61696, 257}));

  auto again = model_from_json(model.to_json());
  EXPECT_EQ(again->count_params(), 82769);
  EXPECT_EQ(again->output_shape(), (Shape{-1, 1}));
  Tensor xin = random_tensor({3, 20, 6}, 71);
  EXPECT_EQ(again->forward(xin).shape(), (Shape{3, 1}));
}

// ---- Wrappers share their inner layers' weights ----

TEST(Recurrent, WrappersShareInnerWeights) {
  Rng rng(1);
  auto dense = layers::Dense(2);
  TimeDistributed td(dense);
  td.build({-1, 4, 3}, rng);
  auto ps = td.params();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0], dense->params()[0]);  // the same Param object, not a copy
  EXPECT_EQ(td.find_param("bias"), dense->params()[1]);
  // A change through the wrapper is the inner layer's weight, and the inner gradient is the wrapper's.
  ps[0]->value.fill(0.5f);
  EXPECT_EQ(dense->params()[0]->value[0], 0.5f);
  Tensor x = random_tensor({2, 4, 3}, 81);
  run(td, x);
  for (Param* p : ps) p->grad.fill(0.0f);
  td.backward(Tensor::full({2, 4, 2}, 1.0f));
  EXPECT_EQ(dense->params()[1]->grad[0], 8.0f);  // sum over 2*4 rows

  Bidirectional bi(layers::LSTM(3), {.backward_layer = layers::GRU(2, {.go_backwards = true})});
  bi.build({-1, 4, 3}, rng);
  auto bps = bi.params();
  auto fps = bi.forward_layer().params();
  auto kps = bi.backward_layer().params();
  ASSERT_EQ(bps.size(), fps.size() + kps.size());
  for (size_t k = 0; k < fps.size(); ++k) EXPECT_EQ(bps[k], fps[k]);
  for (size_t k = 0; k < kps.size(); ++k) EXPECT_EQ(bps[fps.size() + k], kps[k]);
  EXPECT_EQ(bi.count_params(), bi.forward_layer().count_params() + bi.backward_layer().count_params());
  const Bidirectional& cbi = bi;
  EXPECT_EQ(cbi.params().size(), bps.size());
}

TEST(RecurrentModel, TrainingUpdatesWrappedLayers) {
  auto dense = layers::Dense(1);
  auto lstm = layers::LSTM(3, {.return_sequences = true});
  Sequential model({layers::Bidirectional(lstm), layers::TimeDistributed(dense)});
  model.build({5, 2});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  auto bi = std::dynamic_pointer_cast<Bidirectional>(model.layers()[0]);
  Tensor k_before = bi->forward_layer().params()[0]->value;
  Tensor d_before = dense->params()[0]->value;
  model.train_on_batch(random_tensor({4, 5, 2}, 82), random_tensor({4, 5, 1}, 83));
  double dk = 0, dd = 0;
  for (int64_t i = 0; i < k_before.size(); ++i) dk += std::fabs(bi->forward_layer().params()[0]->value[i] - k_before[i]);
  for (int64_t i = 0; i < d_before.size(); ++i) dd += std::fabs(dense->params()[0]->value[i] - d_before[i]);
  EXPECT_GT(dk, 0.0);
  EXPECT_GT(dd, 0.0);
}

// ---- Masking ----

TEST(Masking, ZeroesMaskedStepsAndComputesTheMask) {
  Tensor x = random_tensor({2, 4, 3}, 91);
  for (int j = 0; j < 3; ++j) {
    x[(0 * 4 + 2) * 3 + j] = 0.0f;  // sample 0, step 2: all zero -> masked
    x[(1 * 4 + 0) * 3 + j] = 0.0f;  // sample 1, step 0
  }
  x[(1 * 4 + 1) * 3 + 1] = 0.0f;  // one zero value does not mask its step
  Masking m;
  Tensor y = run(m, x);
  expect_tensor_near(y, x, 0, "masked steps are already 0: y == x");
  auto mask = m.compute_mask(x, nullptr);
  ASSERT_TRUE(mask.has_value());
  expect_tensor_near(*mask, Tensor({2, 4}, std::vector<float>{1, 1, 0, 1, 0, 1, 1, 1}), 0, "mask");

  // Another mask_value: its steps are masked and zeroed in the output.
  Tensor x2 = random_tensor({1, 3, 2}, 92);
  x2[2] = x2[3] = -1.0f;
  Masking m2(-1.0f);
  Tensor y2 = run(m2, x2);
  EXPECT_EQ(y2[2], 0.0f);
  EXPECT_EQ(y2[3], 0.0f);
  EXPECT_EQ(y2[0], x2[0]);
  expect_tensor_near(*m2.compute_mask(x2, nullptr), Tensor({1, 3}, std::vector<float>{1, 0, 1}), 0, "mask -1");
  Tensor dx = m2.backward(Tensor::full({1, 3, 2}, 1.0f));
  expect_tensor_near(dx, Tensor({1, 3, 2}, std::vector<float>{1, 1, 0, 0, 1, 1}), 0, "no gradient at masked steps");

  EXPECT_EQ(layer_from_config("Masking", m2.get_config())->get_config().dump(), m2.get_config().dump());
  Rng rng(1);
  EXPECT_THROW(Masking().build({-1}, rng), Error);
}

TEST(MaskingModel, MaskReachesStackedLSTMsAndPooling) {
  // Masking -> LSTM(return_sequences) -> LSTM: a sample whose padded steps are all zero gives the same
  // output as the unpadded prefix; the same holds through GlobalAveragePooling1D (masked mean).
  auto build = [](bool pooled) {
    set_random_seed(5);
    std::vector<LayerPtr> ls = {layers::Masking(), layers::LSTM(4, {.return_sequences = true})};
    if (pooled) ls.push_back(layers::GlobalAveragePooling1D());
    else ls.push_back(layers::LSTM(3));
    return std::make_unique<Sequential>(ls);
  };
  for (bool pooled : {false, true}) {
    SCOPED_TRACE(pooled ? "pooled" : "stacked");
    auto padded = build(pooled);
    padded->build({6, 2});
    auto plain = build(pooled);
    plain->build({4, 2});
    plain->set_weights(padded->get_weights());
    Tensor x = random_tensor({1, 6, 2}, 94);
    Tensor prefix({1, 4, 2});
    std::copy_n(x.data(), 8, prefix.data());
    for (int i = 8; i < 12; ++i) x[i] = 0.0f;
    expect_tensor_near(padded->forward(x), plain->forward(prefix), 1e-6, "padded vs prefix");
  }
}

TEST(MaskingModel, EmbeddingMaskReachesBidirectional) {
  set_random_seed(6);
  Sequential padded({layers::Embedding(10, 3, {.mask_zero = true}), layers::Bidirectional(layers::GRU(3))});
  padded.build({6}, DType::int32);
  set_random_seed(6);
  Sequential plain({layers::Embedding(10, 3), layers::Bidirectional(layers::GRU(3))});
  plain.build({3}, DType::int32);
  plain.set_weights(padded.get_weights());
  Tensor y = padded.forward(Tensor::ints({1, 6}, {4, 7, 2, 0, 0, 0}));
  // The backward GRU starts at the last valid step, so the padded sequence equals its prefix.
  expect_tensor_near(y, plain.forward(Tensor::ints({1, 3}, {4, 7, 2})), 1e-6, "Embedding mask -> Bidirectional");
}

// ---- Truncated BPTT: fit(..., tbptt_steps = k) ----

namespace {
std::unique_ptr<Model> tbptt_model(bool per_step, float lr, uint64_t seed, bool stateful = false, int64_t batch = -1) {
  set_random_seed(seed);
  SymbolicTensor in = stateful ? Input({-1, 3}, {.batch_size = batch}) : Input({-1, 3});
  auto x = apply_layer(layers::LSTM(4, {.return_sequences = true, .stateful = stateful}), in);
  x = apply_layer(layers::GRU(3, {.return_sequences = per_step, .stateful = stateful}), x);
  auto out = apply_layer(layers::Dense(1), x);
  auto m = std::make_unique<Model>(in, out);
  m->compile({.optimizer = optimizers::SGD({.learning_rate = lr}), .loss = "mse"});
  return m;
}
void expect_same_weights(Model& a, Model& b, double tol) {
  auto wa = a.get_weights(), wb = b.get_weights();
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) expect_tensor_near(wa[i], wb[i], tol, "weight " + std::to_string(i));
}
}  // namespace

TEST(RecurrentTBPTT, ChunksAsLongAsTheSequenceEqualFullBPTT) {
  const int64_t T = 7;
  Tensor x = random_tensor({6, T, 3}, 101);
  for (bool per_step : {true, false}) {
    SCOPED_TRACE(per_step ? "sequence-to-sequence" : "sequence-to-one");
    Tensor y = random_tensor(per_step ? Shape{6, T, 1} : Shape{6, 1}, 102);
    for (int64_t k : {T, T + 5}) {
      auto full = tbptt_model(per_step, 0.1f, 21);
      auto chunked = tbptt_model(per_step, 0.1f, 21);
      auto hf = full->fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0});
      auto hc = chunked->fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .tbptt_steps = k});
      expect_same_weights(*full, *chunked, 0.0);
      EXPECT_EQ(hf["loss"], hc["loss"]);
    }
  }
}

TEST(RecurrentTBPTT, StatesCarryAcrossChunks) {
  // With a learning rate of 1e-20 the weights do not change (w - 1e-20*g rounds to w), so the chunked run must see exactly the
  // outputs of the full sequence: the same loss (sequence-to-sequence: the step-weighted mean of the
  // chunks' losses; sequence-to-one: the last chunk's output, reached through the carried states).
  const int64_t T = 9;
  Tensor x = random_tensor({4, T, 3}, 103);
  for (bool per_step : {true, false}) {
    SCOPED_TRACE(per_step ? "sequence-to-sequence" : "sequence-to-one");
    Tensor y = random_tensor(per_step ? Shape{4, T, 1} : Shape{4, 1}, 104);
    auto full = tbptt_model(per_step, 1e-20f, 22);
    auto chunked = tbptt_model(per_step, 1e-20f, 22);
    auto hf = full->fit(x, y, {.batch_size = 4, .verbose = 0, .shuffle = false});
    for (int64_t k : {1, 2, 4}) {
      SCOPED_TRACE(k);
      auto hc = chunked->fit(x, y, {.batch_size = 4, .verbose = 0, .shuffle = false, .tbptt_steps = k});
      EXPECT_NEAR(hc["loss"][0], hf["loss"][0], 1e-6);
    }
    // The continue-state mode is off again after fit: a plain forward starts from zeros.
    expect_tensor_near(chunked->forward(x), full->forward(x), 1e-6, "forward after tbptt");
  }
}

TEST(RecurrentTBPTT, GradientsStayWithinAChunk) {
  // One SGD step on chunk [0, k) then one on [k, T): the same as two train_on_batch calls where the
  // second starts from the first's final states (given as initial_state, a constant).
  const int64_t T = 6, k = 3;
  Tensor x = random_tensor({2, T, 3}, 105), y = random_tensor({2, T, 1}, 106);
  auto chunked = tbptt_model(true, 0.05f, 23);
  chunked->fit(x, y, {.batch_size = 2, .verbose = 0, .shuffle = false, .tbptt_steps = k});

  auto manual = tbptt_model(true, 0.05f, 23);
  auto slice = [](const Tensor& t, int64_t t0, int64_t t1) {
    Shape s = t.shape();
    s[1] = t1 - t0;
    Tensor o(s);
    const int64_t inner = t.size() / (t.dim(0) * t.dim(1));
    for (int64_t b = 0; b < t.dim(0); ++b)
      std::copy_n(t.data() + (b * t.dim(1) + t0) * inner, (t1 - t0) * inner, o.data() + b * (t1 - t0) * inner);
    return o;
  };
  manual->train_on_batch(slice(x, 0, k), slice(y, 0, k));
  std::vector<RNN*> rnns;
  for (auto& l : manual->layers())
    if (auto* r = dynamic_cast<RNN*>(l.get())) rnns.push_back(r);
  for (RNN* r : rnns) r->set_initial_state(r->final_states());
  manual->train_on_batch(slice(x, k, T), slice(y, k, T));
  expect_same_weights(*chunked, *manual, 1e-6);
}

TEST(RecurrentTBPTT, StatefulLSTMLearnsAcrossChunkBoundariesOnALongSequence) {
  // One sequence of 6,000 steps, trained in chunks of 25 with state carried between chunks (and
  // between epochs: stateful). Target: the input 2 steps earlier, so the first 2 steps of every chunk
  // need what the previous chunk stored in the state. Memory is that of a 25-step batch.
  const int64_t T = 6000, k = 25, delay = 2;
  Rng rng(7);
  Tensor x({1, T, 1}), y({1, T, 1});
  for (int64_t t = 0; t < T; ++t) x[t] = rng.uniform() < 0.5f ? -1.0f : 1.0f;
  for (int64_t t = delay; t < T; ++t) y[t] = x[t - delay];
  set_random_seed(31);
  SymbolicTensor in = Input({-1, 1}, {.batch_size = 1});
  auto h = apply_layer(layers::LSTM(12, {.return_sequences = true, .stateful = true}), in);
  Model model(in, apply_layer(layers::Dense(1), h));
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01f}), .loss = "mse"});
  auto hist = model.fit(x, y, {.batch_size = 1, .epochs = 4, .verbose = 0, .shuffle = false, .tbptt_steps = k});
  ASSERT_EQ(hist["loss"].size(), 4u);
  EXPECT_LT(hist["loss"].back(), 0.5 * hist["loss"].front());

  // The error at the first steps of each chunk (whose targets lie in the previous chunk) is small.
  auto* lstm = dynamic_cast<RNN*>(model.layers()[0].get());
  lstm->reset_states();
  Tensor pred = model.forward(x);
  double err = 0;
  int64_t n = 0;
  for (int64_t t = k; t < T; t += k)
    for (int64_t d = 0; d < delay; ++d, ++n) err += std::pow(pred[t + d] - y[t + d], 2.0);
  EXPECT_LT(err / double(n), 0.1) << "mean squared error at chunk boundaries (targets have variance 1)";
}

TEST(RecurrentTBPTT, RefusesWhatItCannotCut) {
  Tensor x = random_tensor({2, 6, 3}, 107), y = random_tensor({2, 6, 2}, 108);
  Sequential bi({layers::Bidirectional(layers::LSTM(2, {.return_sequences = true}))});
  bi.build({-1, 3});
  bi.compile({.optimizer = "sgd", .loss = "mse"});
  EXPECT_THROW(bi.fit(x, random_tensor({2, 6, 4}, 109), {.verbose = 0, .tbptt_steps = 2}), Error);
  Sequential fixed({layers::LSTM(2, {.return_sequences = true})});
  fixed.build({6, 3});
  fixed.compile({.optimizer = "sgd", .loss = "mse"});
  EXPECT_THROW(fixed.fit(x, y, {.verbose = 0, .tbptt_steps = 2}), Error);
  EXPECT_NO_THROW(fixed.fit(x, y, {.verbose = 0, .tbptt_steps = 6}));  // one chunk: the whole sequence
  // An unbuilt Sequential is built with an unknown time axis.
  Sequential lazy({layers::LSTM(2, {.return_sequences = true})});
  lazy.compile({.optimizer = "sgd", .loss = "mse"});
  EXPECT_NO_THROW(lazy.fit(x, y, {.verbose = 0, .tbptt_steps = 2}));
  EXPECT_EQ(lazy.input_shape(), (Shape{-1, -1, 3}));
}

// ---- Keras 2's hard_sigmoid ----

TEST(RecurrentKeras2, HardSigmoidIsKeras2sInKeras2Configs) {
  const float x[5] = {-3.0f, -1.0f, 0.0f, 1.0f, 3.0f};
  float y[5], dx[5];
  const float dy[5] = {1, 1, 1, 1, 1};
  activation_forward(Activation::hard_sigmoid_keras2, x, y, 5, 5);
  const float want[5] = {0.0f, 0.3f, 0.5f, 0.7f, 1.0f};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(y[i], want[i], 1e-7) << i;
  activation_backward(Activation::hard_sigmoid_keras2, x, y, dy, dx, 5, 5);
  const float dwant[5] = {0.0f, 0.2f, 0.2f, 0.2f, 0.0f};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(dx[i], dwant[i], 1e-7) << i;
  EXPECT_EQ(activation_from_name("hard_sigmoid_keras2"), Activation::hard_sigmoid_keras2);
  EXPECT_EQ(activation_from_name("hard_sigmoid"), Activation::hard_sigmoid);  // Keras 3's x/6 + 0.5

  // A book-era (Keras 2.2.4) config: LSTM's default recurrent_activation was "hard_sigmoid".
  auto config = [](const std::string& root_extra) {
    return R"({"class_name": "Sequential", )" + root_extra + R"("config": {"name": "s", "layers": [
      {"class_name": "LSTM", "config": {"name": "lstm", "units": 2, "activation": "tanh",
        "recurrent_activation": "hard_sigmoid", "implementation": 1, "return_sequences": true,
        "batch_input_shape": [null, 3, 2]}},
      {"class_name": "Bidirectional", "config": {"name": "bi", "merge_mode": "concat",
        "layer": {"class_name": "GRU", "config": {"name": "gru", "units": 2, "recurrent_activation": "hard_sigmoid",
                                                   "reset_after": false}}}},
      {"class_name": "Dense", "config": {"name": "d", "units": 1, "activation": "hard_sigmoid"}}]}})";
  };
  auto recurrent_acts = [](Model& m) {
    std::vector<std::string> out;
    out.push_back(m.layers()[0]->get_config()["recurrent_activation"]);
    out.push_back(m.layers()[1]->get_config()["layer"]["config"]["recurrent_activation"]);
    out.push_back(m.layers()[2]->get_config()["activation"]);
    return out;
  };
  const std::vector<std::string> k2(3, "hard_sigmoid_keras2"), k3(3, "hard_sigmoid");
  EXPECT_EQ(recurrent_acts(*model_from_json(config(R"("keras_version": "2.2.4", "backend": "tensorflow", )"))), k2);
  EXPECT_EQ(recurrent_acts(*model_from_json(config(""))), k2);  // a legacy .h5 model_config: no version, no module
  // A hand-written config (an experiment file's): no version, no module, Keras 3's batch_shape: Keras 3.
  std::string hand = config("");
  hand.replace(hand.find("batch_input_shape"), std::string("batch_input_shape").size(), "batch_shape");
  EXPECT_EQ(recurrent_acts(*model_from_json(hand)), k3);
  EXPECT_EQ(recurrent_acts(*model_from_json(config(R"("keras_version": "3.6.0", )"))), k3);
  EXPECT_EQ(recurrent_acts(*model_from_json(config(R"("module": "keras", )"))), k3);
  // seqnet's own JSON keeps the Keras 2 activation through a round trip.
  auto m2 = model_from_json(config(R"("keras_version": "2.2.4", )"));
  EXPECT_EQ(recurrent_acts(*model_from_json(m2->to_json())), k2);
}

TEST(Recurrent, WholeModelTrainsBitwiseTheSameOnOneAndTwoThreads) {
  // The BLAS never splits a product by itself (seqnet splits rows or columns, never K), so a whole
  // training run, with the parallel paths taken (big GEMMs, Conv1D, shards, both directions, dropout),
  // ends on the same bits whatever the thread count.
  auto train = [](int threads) {
    set_num_threads(threads);
    set_random_seed(7);
    Sequential model;
    // Sizes above the parallel thresholds: the GRU's input projection and gradients split over threads,
    // its two directions run side by side, the LSTM runs in batch shards with dropout masks.
    model.add(Input({100, 12}));
    model.add(layers::Conv1D(32, 5, {.activation = "relu"}));
    model.add(layers::Bidirectional(layers::GRU(32, {.return_sequences = true})));
    model.add(layers::LSTM(24, {.dropout = 0.1f, .recurrent_dropout = 0.2f}));
    model.add(layers::Dense(1));
    model.compile({.optimizer = "adam", .loss = "mse"});
    Tensor x = random_tensor({192, 100, 12}, 3), y = random_tensor({192, 1}, 4);
    model.fit(x, y, {.batch_size = 96, .epochs = 2, .verbose = 0});
    return model.get_weights();
  };
  const int before = num_threads();
  auto one = train(1), two = train(2);
  set_num_threads(before);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i)
    for (int64_t j = 0; j < one[i].size(); ++j) ASSERT_EQ(one[i][j], two[i][j]) << "weight " << i << " value " << j;
}

TEST(Recurrent, WholeModelTrainsBitwiseTheSameWithEveryKernelVariant) {
  // The AVX2 and AVX-512 kernels (src/kernels/isa.h) compute the same bits, so a model trained on an AVX2
  // machine and one trained on an AVX-512 machine end on the same weights. Here each variant this CPU runs
  // trains the book's IMDB LSTM (fused 8-unit kernels, recurrent dropout) and a wider GRU stack.
  auto train = [] {
    set_random_seed(11);
    Sequential model;
    model.add(Input({40}, {.dtype = DType::int32}));
    model.add(layers::Embedding(50, 16));
    model.add(layers::LSTM(8, {.recurrent_dropout = 0.2f, .return_sequences = true}));
    model.add(layers::GRU(13, {.return_sequences = true}));
    model.add(layers::Bidirectional(layers::LSTM(32)));
    model.add(layers::Dense(1, {.activation = "sigmoid"}));
    model.compile({.optimizer = "rmsprop", .loss = "binary_crossentropy"});
    Tensor x({64, 40});
    Rng rng(5);
    for (int64_t i = 0; i < x.size(); ++i) x[i] = float(rng.randint(1, 50));
    Tensor y = random_tensor({64, 1}, 6);
    for (int64_t i = 0; i < y.size(); ++i) y[i] = y[i] > 0 ? 1.0f : 0.0f;
    History h = model.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    return std::make_pair(h["loss"], model.get_weights());
  };
  const std::string before = kernels::active_kernel_variant().name;
  std::vector<std::string> names;
  std::vector<std::pair<std::vector<double>, std::vector<Tensor>>> runs;
  for (const kernels::KernelVariant& v : kernels::kernel_variants()) {
    if (!v.cpu_supports()) continue;
    kernels::select_kernel_variant(v.name);
    names.push_back(v.name);
    runs.push_back(train());
  }
  kernels::select_kernel_variant(before);
  if (runs.size() < 2) GTEST_SKIP() << "only one kernel variant runs on this CPU (" << before << ")";
  for (size_t r = 1; r < runs.size(); ++r) {
    EXPECT_EQ(runs[r].first, runs[0].first) << names[r] << " vs " << names[0] << ": the losses";
    for (size_t i = 0; i < runs[0].second.size(); ++i)
      for (int64_t j = 0; j < runs[0].second[i].size(); ++j)
        ASSERT_EQ(runs[r].second[i][j], runs[0].second[i][j]) << names[r] << " vs " << names[0] << ": weight " << i
                                                              << " value " << j;
  }
}

TEST(Recurrent, TwoThreadsGiveBitwiseTheResultsOfOne) {
  // Bidirectional runs its two directions on two threads, a recurrent layer its batch shards, the direct
  // Conv1D splits samples and weight rows over threads, a large GEMM its rows or columns: none may change a
  // single bit of the outputs or the gradients.
  auto run_layer = [](Layer& l, const Tensor& x, int threads) {
    set_num_threads(threads);
    for (Param* p : l.params()) p->grad.fill(0.0f);
    Rng rng(1);
    RunContext ctx;
    ctx.training = true;
    ctx.rng = &rng;
    std::vector<Tensor> out{l.call(x, ctx)};
    out.push_back(l.backward(random_tensor(out[0].shape(), 9)));
    for (Param* p : l.params()) out.push_back(p->grad);
    return out;
  };
  auto expect_same = [](const std::vector<Tensor>& one, const std::vector<Tensor>& two) {
    ASSERT_EQ(one.size(), two.size());
    for (size_t i = 0; i < one.size(); ++i) {
      ASSERT_EQ(one[i].shape(), two[i].shape());
      for (int64_t j = 0; j < one[i].size(); ++j) ASSERT_EQ(one[i][j], two[i][j]) << "tensor " << i << " value " << j;
    }
  };
  const int before = num_threads();
  {
    Bidirectional bi(layers::GRU(16, {.return_sequences = true}),
                     {.backward_layer = layers::LSTM(8, {.return_sequences = true, .go_backwards = true})});
    Rng rng(3);
    bi.build({-1, 64, 6}, rng);
    Tensor x = random_tensor({64, 64, 6}, 5);  // 64 * 64 steps * 16 units: large enough to run in parallel
    expect_same(run_layer(bi, x, 1), run_layer(bi, x, 2));
  }
  // The time loop splits the batch into one shard of rows per thread: an odd batch, a mask and recurrent
  // dropout (each shard takes its rows of the masks) and input dropout (masked products through the GEMM).
  for (auto make : std::vector<std::function<std::shared_ptr<RNN>()>>{
           [] { return std::make_shared<LSTM>(32, RecurrentOptions{.recurrent_dropout = 0.3f, .return_sequences = true}); },
           [] { return std::make_shared<GRU>(40, RecurrentOptions{.dropout = 0.2f, .recurrent_dropout = 0.3f}); },
           [] { return std::make_shared<SimpleRNN>(64, RecurrentOptions{.go_backwards = true}); }}) {
    auto l = make();
    SCOPED_TRACE(l->class_name());
    Rng rng(3);
    l->build({-1, 80, 5}, rng);
    Tensor x = random_tensor({37, 80, 5}, 6);  // large enough to shard
    expect_same(run_layer(*l, x, 1), run_layer(*l, x, 2));
  }
  {
    // An odd number of steps, enough values to split the batch-major <-> time-major copies over threads:
    // every step must be copied (the last one once was not).
    SimpleRNN l(8, {.return_sequences = true});
    Rng rng(3);
    l.build({-1, 101, 160}, rng);
    Tensor x = random_tensor({64, 101, 160}, 6);
    expect_same(run_layer(l, x, 1), run_layer(l, x, 2));
  }
  {
    Conv1D conv(32, 5, {.padding = "same", .activation = "relu"});
    Rng rng(3);
    conv.build({-1, 50, 48}, rng);
    Tensor x = random_tensor({32, 50, 48}, 5);
    expect_same(run_layer(conv, x, 1), run_layer(conv, x, 2));
  }
  set_num_threads(before);
}

// ---- Embedding + recurrent layer run as one (RNN::call_on_embedding; the Model fuses the pair) ----

namespace {
void expect_bitwise(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << what << " at " << i;
}
}  // namespace

TEST(EmbeddingRecurrent, FusedPairMatchesTheLayersOneAfterTheOther) {
  struct Case {
    std::string cell;
    RecurrentOptions options;
    int32_t vocab;  // few distinct ids: fused; many: the unfused path
    bool fused;
  };
  auto make = [](const std::string& cell, RecurrentOptions o) -> std::shared_ptr<RNN> {
    if (cell == "lstm") return std::make_shared<LSTM>(6, o);
    if (cell == "gru") return std::make_shared<GRU>(6, o);
    if (cell == "gru_before") {
      o.reset_after = false;
      return std::make_shared<GRU>(6, o);
    }
    return std::make_shared<SimpleRNN>(6, o);
  };
  for (const Case& c : {Case{"lstm", {}, 20, true}, Case{"gru", {.return_sequences = true}, 15, true},
                        Case{"gru_before", {.go_backwards = true}, 25, true},
                        Case{"simple_rnn", {.use_bias = false, .return_sequences = true, .go_backwards = true}, 12, true},
                        Case{"lstm", {.recurrent_dropout = 0.3f}, 20, true},
                        Case{"gru", {.dropout = 0.3f}, 20, false},  // input dropout: rows looked up one by one
                        Case{"lstm", {}, 100000, false}}) {
    SCOPED_TRACE(fmt::format("{} return_sequences {} go_backwards {} vocab {}", c.cell, c.options.return_sequences,
                             c.options.go_backwards, c.vocab));
    for (bool training : {false, true})
      for (bool input_grad : {true, false}) {
        if (!training && !input_grad) continue;
        Rng rng(3);
        Embedding embedding(c.vocab, 5);
        auto layer = make(c.cell, c.options);
        embedding.build({-1, 30}, rng);
        layer->build({-1, 30, 5}, rng);
        const Tensor ids = random_ids(4, 30, c.vocab, 4);
        RunContext ctx;
        ctx.training = training;
        ctx.keep_for_backward = training;
        ctx.input_grad = input_grad;
        Rng masks_a(9), masks_b(9);  // the same dropout masks for both runs
        // One after the other.
        ctx.rng = &masks_a;
        const Tensor x = embedding.call(ids, ctx);
        const Tensor y = layer->call(x, ctx);
        // As one.
        ctx.rng = &masks_b;
        RunContext fused_ctx = ctx;
        Tensor y2;
        if (!training) {
          y2 = layer->call_on_embedding(embedding, ids, fused_ctx);
          expect_bitwise(y2, y, "inference output");  // the same products per row, gathered
          continue;
        }
        const Tensor dy = random_tensor(y.shape(), 5);
        for (Param* p : embedding.params()) p->grad.fill(0.0f);
        for (Param* p : layer->params()) p->grad.fill(0.0f);
        Tensor dx = layer->backward(dy);
        if (input_grad) embedding.backward(dx);
        std::vector<Tensor> want;
        for (Param* p : layer->params()) want.push_back(p->grad);
        const Tensor table_grad = embedding.params()[0]->grad;
        for (Param* p : embedding.params()) p->grad.fill(0.0f);
        for (Param* p : layer->params()) p->grad.fill(0.0f);
        y2 = layer->call_on_embedding(embedding, ids, fused_ctx);
        expect_bitwise(y2, y, "training output");
        Tensor dx2 = layer->backward(dy);
        if (input_grad) {
          EXPECT_EQ(dx2.empty(), c.fused) << "a fused backward has no input gradient; the unfused one has";
        }
        if (!dx2.empty() && input_grad) embedding.backward(dx2);
        const auto ps = layer->params();
        for (size_t i = 0; i < ps.size(); ++i) expect_relative_close(ps[i]->grad, want[i], 1e-5, "gradient of " + ps[i]->name);
        if (input_grad) {
          expect_relative_close(embedding.params()[0]->grad, table_grad, 1e-5, "table gradient");
        } else {
          for (int64_t i = 0; i < embedding.params()[0]->grad.size(); ++i)
            ASSERT_EQ(embedding.params()[0]->grad[i], 0.0f) << "no table gradient without input_grad";
        }
      }
  }
}

TEST(EmbeddingRecurrent, ModelsFuseThePairPredictAsBeforeAndTrainTheSameOnOneAndTwoThreads) {
  // The notes' IMDB LSTM on a small vocabulary, and the same layers run one by one; wide enough that two
  // threads split the steps' rows and the sums of the rows' gradients.
  auto make = [] {
    clear_session();
    set_random_seed(13);
    auto model = std::make_shared<Sequential>();
    model->add(Input({100}, {.dtype = DType::int32}));
    model->add(layers::Embedding(60, 8));
    model->add(layers::LSTM(64));
    model->add(layers::Dense(1, {.activation = "sigmoid"}));
    model->compile({.optimizer = optimizers::RMSprop({.learning_rate = 1e-3f}), .loss = "binary_crossentropy"});
    return model;
  };
  const Tensor ids = random_ids(64, 100, 60, 7);
  Tensor target({64});
  for (int64_t i = 0; i < 64; ++i) target[i] = float(i % 2);
  auto fused = make();
  auto ls = fused->layers();
  auto layer_by_layer = [&](bool training) {
    RunContext ctx;
    ctx.training = training;
    ctx.keep_for_backward = training;
    Tensor a = ids;
    for (const LayerPtr& l : ls) a = l->call(a, ctx);
    return a;
  };
  expect_bitwise(fused->predict(ids), layer_by_layer(false), "predict vs layer by layer");
  const Tensor y = fused->forward(ids, {.training = true});
  fused->zero_grads();
  fused->backward(y);
  std::vector<Tensor> grads_fused;
  for (Param* p : fused->params()) grads_fused.push_back(p->grad);
  const Tensor y_layers = layer_by_layer(true);
  expect_bitwise(y, y_layers, "training forward vs layer by layer");
  fused->zero_grads();
  Tensor g = y_layers;
  for (size_t i = ls.size(); i-- > 0;) g = ls[i]->backward(g);
  const auto ps = fused->params();
  for (size_t i = 0; i < ps.size(); ++i) expect_relative_close(grads_fused[i], ps[i]->grad, 1e-5, "gradient of " + ps[i]->name);
  // Training: bitwise the same on 1 and 2 threads.
  std::vector<std::vector<float>> weights;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    auto m = make();
    m->fit(ids, target, {.batch_size = 64, .epochs = 2, .verbose = 0});
    std::vector<float> all;
    for (const auto& w : m->get_weights()) all.insert(all.end(), w.data(), w.data() + w.size());
    weights.push_back(all);
  }
  set_num_threads(1);
  EXPECT_EQ(weights[0], weights[1]);
}
