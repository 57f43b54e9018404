// Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D: shapes against a
// direct reference, gradients, masks, configs, errors, and parity with Keras (tests/fixtures/conv_pooling.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <functional>
#include <nlohmann/json.hpp>

#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;

namespace {

// The Keras output length (ops/operation_utils.py).
int64_t keras_conv_length(const std::string& padding, int64_t L, int64_t k, int64_t s, int64_t d) {
  if (padding == "valid") return (L - d * (k - 1) - 1) / s + 1;
  return (L - 1) / s + 1;
}

// A direct convolution, written from the definition: out[b,t,f] = bias[f] + sum_{j,c} x[b, t*s + j*d - pad, c] * W[j,c,f].
Tensor reference_conv(const Tensor& x, const Tensor& w, const Tensor* bias, const std::string& padding, int64_t s,
                      int64_t d) {
  const int64_t B = x.dim(0), L = x.dim(1), C = x.dim(2), K = w.dim(0), F = w.dim(2);
  const int64_t Lout = keras_conv_length(padding, L, K, s, d);
  int64_t pad = 0;
  if (padding == "causal") pad = d * (K - 1);
  if (padding == "same") pad = std::max<int64_t>((Lout - 1) * s + d * (K - 1) + 1 - L, 0) / 2;
  Tensor y({B, Lout, F});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Lout; ++t)
      for (int64_t f = 0; f < F; ++f) {
        double acc = bias ? (*bias)[f] : 0.0;
        for (int64_t j = 0; j < K; ++j) {
          const int64_t p = t * s + j * d - pad;
          if (p < 0 || p >= L) continue;
          for (int64_t c = 0; c < C; ++c) acc += double(x[(b * L + p) * C + c]) * w[(j * C + c) * F + f];
        }
        y[(b * Lout + t) * F + f] = float(acc);
      }
  return y;
}

// Distinct values at least 2/n apart, so no finite-difference step can change which value is the maximum.
Tensor distinct_tensor(const Shape& shape, uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  auto perm = rng.permutation(t.size());
  for (int64_t i = 0; i < t.size(); ++i) t[i] = -1.0f + 2.0f * float(perm[size_t(i)]) / float(t.size());
  return t;
}

Tensor run(Layer& layer, const Tensor& x, const Tensor* mask = nullptr) {
  if (!layer.built()) {
    Rng rng(3);
    layer.build(x.shape(), rng);
  }
  RunContext ctx;
  ctx.mask = mask;
  return layer.call(x, ctx);
}

void expect_error_containing(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

// ---- Conv1D ----

TEST(Conv1D, EveryPaddingStrideDilationMatchesTheDirectConvolution) {
  int combos = 0;
  for (const char* padding : {"valid", "same", "causal"})
    for (int64_t s : {1, 2, 3})
      for (int64_t d : {1, 2, 3})
        for (int64_t k : {1, 2, 3, 4})
          for (int64_t L : {7, 8, 12}) {
            if (s > 1 && d > 1) continue;
            if (std::string(padding) == "valid" && L < d * (k - 1) + 1) continue;
            SCOPED_TRACE(fmt::format("padding={} strides={} dilation={} k={} L={}", padding, s, d, k, L));
            Conv1D conv(3, k, {.strides = s, .padding = padding, .dilation_rate = d});
            Rng rng(5);
            const Shape out = conv.build({-1, L, 2}, rng);
            const int64_t Lout = keras_conv_length(padding, L, k, s, d);
            EXPECT_EQ(out, (Shape{-1, Lout, 3}));
            EXPECT_EQ(conv.output_length(L), Lout);
            conv.params()[1]->value = random_tensor({3}, 9);
            Tensor x = random_tensor({2, L, 2}, 7);
            Tensor y = run(conv, x);
            ASSERT_EQ(y.shape(), (Shape{2, Lout, 3}));
            expect_tensor_near(y, reference_conv(x, conv.params()[0]->value, &conv.params()[1]->value, padding, s, d),
                               1e-5, "conv vs direct");
            ++combos;
          }
  EXPECT_GT(combos, 100);
}

TEST(Conv1D, WideInputsTakeTheDirectShiftedGemmPath) {
  // Stride 1 and dilation 1 run one GEMM over an overlapping-row view of the input (no im2col):
  // forward against the definition for every padding.
  for (const char* padding : {"valid", "same", "causal"})
    for (int64_t k : {2, 3, 4}) {
      SCOPED_TRACE(fmt::format("padding={} k={}", padding, k));
      Conv1D conv(5, k, {.padding = padding});
      Rng rng(5);
      conv.build({-1, 9, 32}, rng);
      conv.params()[1]->value = random_tensor({5}, 9);
      Tensor x = random_tensor({3, 9, 32}, 7);
      expect_tensor_near(run(conv, x),
                         reference_conv(x, conv.params()[0]->value, &conv.params()[1]->value, padding, 1, 1), 1e-5,
                         "direct conv vs definition");  // its gradients: test_layer_harness.cpp
    }
}

TEST(Conv1D, KerasParamCountsAndWeightLayout) {
  Conv1D a(32, 7), b(32, 7);
  Rng rng(1);
  EXPECT_EQ(a.build({-1, 500, 128}, rng), (Shape{-1, 494, 32}));
  EXPECT_EQ(a.count_params(), 28704);
  EXPECT_EQ(b.build({-1, 98, 32}, rng), (Shape{-1, 92, 32}));
  EXPECT_EQ(b.count_params(), 7200);
  ASSERT_EQ(a.params().size(), 2u);
  EXPECT_EQ(a.params()[0]->name, "kernel");
  EXPECT_EQ(a.params()[0]->value.shape(), (Shape{7, 128, 32}));
  EXPECT_EQ(a.params()[1]->name, "bias");
  EXPECT_EQ(a.params()[1]->value.shape(), (Shape{32}));
  // glorot_uniform with Keras's fans for a (k, in, out) kernel: limit sqrt(6 / (k*in + k*out)).
  const float limit = std::sqrt(6.0f / (7 * 128 + 7 * 32));
  float hi = 0;
  for (int64_t i = 0; i < a.params()[0]->value.size(); ++i) hi = std::max(hi, std::fabs(a.params()[0]->value[i]));
  EXPECT_LE(hi, limit);
  EXPECT_GT(hi, 0.95f * limit);
  Conv1D nb(4, 3, {.use_bias = false});
  nb.build({-1, 10, 2}, rng);
  EXPECT_EQ(nb.count_params(), 24);
}

TEST(Conv1D, UnknownLengthBuildsAndRunsOnAnyLongEnoughInput) {
  Conv1D conv(2, 3, {.strides = 2});
  Rng rng(1);
  EXPECT_EQ(conv.build({-1, -1, 4}, rng), (Shape{-1, -1, 2}));
  EXPECT_EQ(run(conv, random_tensor({1, 9, 4}, 1)).shape(), (Shape{1, 4, 2}));
  EXPECT_EQ(run(conv, random_tensor({3, 4, 4}, 2)).shape(), (Shape{3, 1, 2}));
  expect_error_containing([&] { run(conv, random_tensor({1, 2, 4}, 3)); }, "too short");
}

TEST(Conv1D, ReluGradientAwayFromTheKink) {
  Conv1D conv(3, 2, {.activation = "relu"});
  Rng rng(1);
  conv.build({-1, 6, 2}, rng);
  // An input whose pre-activations all keep 0.02 from zero, so no finite difference straddles the kink.
  Tensor x;
  for (uint64_t seed = 1; seed < 1000 && x.empty(); ++seed) {
    Tensor cand = random_tensor({2, 6, 2}, seed);
    Tensor z = reference_conv(cand, conv.params()[0]->value, &conv.params()[1]->value, "valid", 1, 1);
    bool ok = true;
    for (int64_t i = 0; i < z.size(); ++i) ok = ok && std::fabs(z[i]) > 0.02f;
    if (ok) x = cand;
  }
  ASSERT_FALSE(x.empty());
  expect_gradients_match(conv, x, {.step = 1e-3});
}

TEST(Conv1D, LargeInputGoesThroughSeveralChunks) {
  // 4 * 300 rows of 7 * 128 floats is more than one 4 MiB col chunk.
  Conv1D conv(8, 7, {.padding = "same"});
  Tensor x = random_tensor({4, 300, 128}, 8);
  Tensor y = run(conv, x);
  expect_tensor_near(y, reference_conv(x, conv.params()[0]->value, &conv.params()[1]->value, "same", 1, 1), 1e-4,
                     "chunked conv vs direct");
  // Backward: compare with a layer that sees the same data one sample at a time (single chunk each).
  Tensor dy = random_tensor(y.shape(), 9);
  for (Param* p : conv.params()) p->grad.fill(0.0f);
  Tensor dx = conv.backward(dy);
  Conv1D one(8, 7, {.padding = "same"});
  Rng rng(1);
  one.build({-1, 300, 128}, rng);
  one.params()[0]->value = conv.params()[0]->value;
  one.params()[1]->value = conv.params()[1]->value;
  Tensor dx_ref(x.shape());
  for (int64_t b = 0; b < 4; ++b) {
    run(one, x.slice_rows(b, b + 1));
    Tensor d = one.backward(dy.slice_rows(b, b + 1));
    std::copy(d.data(), d.data() + d.size(), dx_ref.data() + b * d.size());
  }
  expect_tensor_near(dx, dx_ref, 1e-4, "input gradient");
  expect_tensor_near(conv.params()[0]->grad, one.params()[0]->grad, 2e-3, "kernel gradient");
  expect_tensor_near(conv.params()[1]->grad, one.params()[1]->grad, 2e-3, "bias gradient");
}

TEST(Conv1D, OneSampleSplitsItsRowsOverThreadsWithTheSameResult) {
  // A batch smaller than the thread count splits each sample's rows over the threads (batch-1 prediction);
  // the values must be exactly those of one thread, and match the reference convolution.
  const int before = num_threads();
  Conv1D conv(32, 7, {.activation = "relu"});
  Rng rng(3);
  conv.build({-1, 500, 128}, rng);
  Tensor x = random_tensor({1, 500, 128}, 4);
  Tensor y[2];
  for (int threads = 1; threads <= 2; ++threads) {
    set_num_threads(threads);
    y[threads - 1] = run(conv, x);
  }
  set_num_threads(before);
  ASSERT_EQ(y[0].shape(), y[1].shape());
  for (int64_t i = 0; i < y[0].size(); ++i) ASSERT_EQ(y[0][i], y[1][i]) << "value " << i;
  Tensor ref = reference_conv(x, conv.params()[0]->value, &conv.params()[1]->value, "valid", 1, 1);
  for (int64_t i = 0; i < ref.size(); ++i) ref[i] = std::max(ref[i], 0.0f);
  expect_tensor_near(y[0], ref, 1e-4, "batch-1 conv vs reference");
}

TEST(Conv1D, IsALogitsLayerAndDropsTheMask) {
  auto l = layers::Conv1D(1, 3, {.activation = "sigmoid"});
  auto* logits = dynamic_cast<LogitsLayer*>(l.get());
  ASSERT_NE(logits, nullptr);
  EXPECT_EQ(logits->output_activation(), Activation::sigmoid);
  Tensor x = random_tensor({2, 5, 2}, 3);
  Tensor m = Tensor::full({2, 5}, 1.0f);
  Tensor y = run(*l, x);
  const Tensor& z = logits->logits();
  for (int64_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], 1.0f / (1.0f + std::exp(-z[i])), 1e-6);
  EXPECT_FALSE(l->compute_mask(x, &m).has_value());
}

TEST(Conv1D, ClearErrors) {
  expect_error_containing([] { Conv1D c(4, 3, {.padding = "full", .name = "c1"}); },
                          "layer 'c1' (Conv1D): padding must be 'valid', 'same' or 'causal', got 'full'");
  expect_error_containing([] { Conv1D c(4, 3, {.strides = 2, .dilation_rate = 2}); },
                          "strides > 1 cannot be combined with dilation_rate > 1");
  expect_error_containing([] { Conv1D c(0, 3); }, "filters must be positive");
  expect_error_containing([] { Conv1D c(4, 0); }, "kernel_size must be positive");
  expect_error_containing(
      [] {
        Conv1D c(4, 7, {.name = "short"});
        Rng rng(1);
        c.build({-1, 5, 3}, rng);
      },
      "layer 'short' (Conv1D): input of 5 steps is too short for a 'valid' convolution with kernel_size 7");
  expect_error_containing(
      [] {
        Conv1D c(4, 3, {.dilation_rate = 3});
        Rng rng(1);
        c.build({-1, 6, 3}, rng);
      },
      "needs at least 7 steps");
  expect_error_containing(
      [] {
        Conv1D c(4, 3);
        Rng rng(1);
        c.build({-1, 6}, rng);
      },
      "expects input of rank 3");
  // "same" and "causal" accept any length >= 1.
  Conv1D same(4, 7, {.padding = "same"});
  Rng rng(1);
  EXPECT_EQ(same.build({-1, 2, 3}, rng), (Shape{-1, 2, 4}));
}

TEST(Conv1D, KerasConfigRoundTrip) {
  Conv1D conv(32, 7, {.strides = 2, .padding = "same", .activation = "relu", .name = "conv_a"});
  Json c = conv.get_config();
  EXPECT_EQ(c["filters"], 32);
  EXPECT_EQ(c["kernel_size"], Json::array({7}));
  EXPECT_EQ(c["strides"], Json::array({2}));
  EXPECT_EQ(c["padding"], "same");
  EXPECT_EQ(c["data_format"], "channels_last");
  EXPECT_EQ(c["dilation_rate"], Json::array({1}));
  EXPECT_EQ(c["groups"], 1);
  EXPECT_EQ(c["activation"], "relu");
  EXPECT_EQ(c["use_bias"], true);
  EXPECT_EQ(c["kernel_initializer"]["class_name"], "GlorotUniform");
  EXPECT_EQ(c["bias_initializer"]["class_name"], "Zeros");
  for (const char* k : {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                        "bias_constraint"})
    EXPECT_TRUE(c.at(k).is_null()) << k;
  LayerPtr back = layer_from_config("Conv1D", c);
  EXPECT_EQ(back->name(), "conv_a");
  EXPECT_EQ(back->get_config(), c);

  // Keras 2 writes plain ints too and may omit groups.
  Json k2 = {{"name", "k2"}, {"filters", 4}, {"kernel_size", 3}, {"strides", 1}, {"padding", "causal"},
             {"dilation_rate", 2}, {"activation", "linear"}, {"use_bias", false}};
  LayerPtr conv2_owner = layer_from_config("Conv1D", k2);  // keeps the layer alive while we look at it
  auto* conv2 = dynamic_cast<Conv1D*>(conv2_owner.get());
  ASSERT_NE(conv2, nullptr);
  EXPECT_EQ(conv2->kernel_size(), 3);
  EXPECT_EQ(conv2->options().dilation_rate, 2);
  EXPECT_EQ(conv2->options().padding, "causal");
  EXPECT_FALSE(conv2->options().use_bias);

  Json grouped = c;
  grouped["groups"] = 2;
  expect_error_containing([&] { layer_from_config("Conv1D", grouped); },
                          "layer 'conv_a' (Conv1D): groups = 2 is not supported");
  Json cf = c;
  cf["data_format"] = "channels_first";
  expect_error_containing([&] { layer_from_config("Conv1D", cf); },
                          "layer 'conv_a' (Conv1D): data_format 'channels_first' is not supported");
  Json bad_pad = c;
  bad_pad["padding"] = "reflect";
  expect_error_containing([&] { layer_from_config("Conv1D", bad_pad); }, "padding must be");
}

// ---- MaxPooling1D / AveragePooling1D ----

TEST(Pooling1D, ShapesForEveryPaddingAndStride) {
  for (const char* padding : {"valid", "same"})
    for (int64_t pool : {1, 2, 3, 5})
      for (int64_t s : {1, 2, 3, 5})
        for (int64_t L : {5, 7, 10}) {
          SCOPED_TRACE(fmt::format("padding={} pool={} strides={} L={}", padding, pool, s, L));
          const int64_t expected = std::string(padding) == "valid" ? (L - pool) / s + 1 : (L - 1) / s + 1;
          MaxPooling1D mp(pool, {.strides = s, .padding = padding});
          AveragePooling1D ap(pool, {.strides = s, .padding = padding});
          Rng rng(1);
          EXPECT_EQ(mp.build({-1, L, 3}, rng), (Shape{-1, expected, 3}));
          EXPECT_EQ(ap.build({-1, L, 3}, rng), (Shape{-1, expected, 3}));
          Tensor x = random_tensor({2, L, 3}, 5);
          EXPECT_EQ(run(mp, x).shape(), (Shape{2, expected, 3}));
          EXPECT_EQ(run(ap, x).shape(), (Shape{2, expected, 3}));
        }
  MaxPooling1D def;
  EXPECT_EQ(def.pool_size(), 2);
  EXPECT_EQ(def.strides(), 2);
  MaxPooling1D five(5);
  EXPECT_EQ(five.strides(), 5);
  Rng rng(1);
  EXPECT_EQ(five.build({-1, 494, 32}, rng), (Shape{-1, 98, 32}));
  EXPECT_EQ(five.count_params(), 0);
}

TEST(Pooling1D, ValuesByHand) {
  // One sample, one channel: x = [1, 5, 2, 4, 3].
  Tensor x({1, 5, 1}, std::vector<float>{1, 5, 2, 4, 3});
  MaxPooling1D mp(2);
  expect_tensor_near(run(mp, x), Tensor({1, 2, 1}, std::vector<float>{5, 4}), 0, "max valid");
  MaxPooling1D mps(2, {.padding = "same"});
  expect_tensor_near(run(mps, x), Tensor({1, 3, 1}, std::vector<float>{5, 4, 3}), 0, "max same");
  AveragePooling1D ap(2, {.padding = "same"});
  // The last window holds only x[4] (its right neighbour is padding): 3/1, not 3/2.
  expect_tensor_near(run(ap, x), Tensor({1, 3, 1}, std::vector<float>{3, 3, 3}), 1e-6, "average same");
  AveragePooling1D ap3(3, {.strides = 1, .padding = "same"});
  // Windows [pad,1,5] [1,5,2] [5,2,4] [2,4,3] [4,3,pad].
  expect_tensor_near(run(ap3, x), Tensor({1, 5, 1}, std::vector<float>{3, 8.0f / 3, 11.0f / 3, 3, 3.5f}), 1e-6,
                     "average same, pool 3");
}


TEST(Pooling1D, InferenceGivesTheTrainingValuesKeepsNoArgmaxAndBackwardSaysSo) {
  // predict / evaluate (keep_for_backward = false) skip the argmax bookkeeping; the maxima are the same,
  // ties and NaN included (the first step of a window wins unless a later one is strictly greater).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x({1, 6, 2}, std::vector<float>{1, nan, 1, 2, 3, 2, nan, 2, 0, 5, 4, 5});
  for (auto o : {Pooling1DOptions{}, Pooling1DOptions{.strides = 1, .padding = "same"}}) {
    MaxPooling1D mp(3, o);
    Rng rng(1);
    mp.build({-1, 6, 2}, rng);
    RunContext train;
    Tensor y = mp.call(x, train);
    RunContext lean;
    lean.keep_for_backward = false;
    Tensor y_lean = mp.call(x, lean);
    ASSERT_EQ(y.shape(), y_lean.shape());
    for (int64_t i = 0; i < y.size(); ++i)
      EXPECT_TRUE(y[i] == y_lean[i] || (std::isnan(y[i]) && std::isnan(y_lean[i]))) << i;
    expect_error_containing([&] { mp.backward(Tensor::full(y.shape(), 1.0f)); },
                            "backward after a forward that did not keep its argmax");
  }
}

TEST(Pooling1D, DropsTheMaskAndReportsClearErrors) {
  MaxPooling1D mp(2);
  Tensor x = random_tensor({1, 4, 2}, 1);
  Tensor m = Tensor::full({1, 4}, 1.0f);
  EXPECT_FALSE(mp.compute_mask(x, &m).has_value());
  EXPECT_FALSE(AveragePooling1D().compute_mask(x, &m).has_value());
  expect_error_containing([] { MaxPooling1D p(2, {.padding = "causal", .name = "p"}); },
                          "layer 'p' (MaxPooling1D): padding must be 'valid' or 'same', got 'causal'");
  expect_error_containing([] { AveragePooling1D p(0); }, "pool_size must be positive");
  expect_error_containing([] { MaxPooling1D p(2, {.strides = 0}); }, "strides must be positive");
  expect_error_containing(
      [] {
        MaxPooling1D p(5);
        Rng rng(1);
        p.build({-1, 4, 3}, rng);
      },
      "input of 4 steps is too short for pool_size 5");
}

TEST(Pooling1D, KerasConfigRoundTrip) {
  MaxPooling1D mp(5, {.name = "pool"});
  Json c = mp.get_config();
  EXPECT_EQ(c["pool_size"], Json::array({5}));
  EXPECT_EQ(c["strides"], Json::array({5}));
  EXPECT_EQ(c["padding"], "valid");
  EXPECT_EQ(c["data_format"], "channels_last");
  EXPECT_EQ(layer_from_config("MaxPooling1D", c)->get_config(), c);
  AveragePooling1D ap(3, {.strides = 2, .padding = "same"});
  Json a = ap.get_config();
  EXPECT_EQ(a["strides"], Json::array({2}));
  EXPECT_EQ(layer_from_config("AveragePooling1D", a)->get_config(), a);
  // strides null means pool_size; Keras 2 ints; the short aliases.
  Json k2 = {{"name", "p2"}, {"pool_size", 4}, {"strides", nullptr}, {"padding", "same"}};
  LayerPtr pool_owner = layer_from_config("MaxPool1D", k2);  // keeps the layer alive while we look at it
  auto* p = dynamic_cast<Pooling1D*>(pool_owner.get());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->pool_size(), 4);
  EXPECT_EQ(p->strides(), 4);
  EXPECT_EQ(p->padding(), "same");
  EXPECT_EQ(layer_from_config("AvgPool1D", k2)->class_name(), "AveragePooling1D");
  Json cf = c;
  cf["data_format"] = "channels_first";
  expect_error_containing([&] { layer_from_config("MaxPooling1D", cf); },
                          "layer 'pool' (MaxPooling1D): data_format 'channels_first' is not supported");
}

// ---- GlobalMaxPooling1D / GlobalAveragePooling1D ----

TEST(GlobalPooling1D, ShapesKeepdimsAndGradients) {
  GlobalMaxPooling1D gm;
  GlobalAveragePooling1D ga;
  GlobalAveragePooling1D gak({.keepdims = true});
  Rng rng(1);
  EXPECT_EQ(gm.build({-1, 92, 32}, rng), (Shape{-1, 32}));
  EXPECT_EQ(ga.build({-1, -1, 32}, rng), (Shape{-1, 32}));
  EXPECT_EQ(gak.build({-1, 7, 3}, rng), (Shape{-1, 1, 3}));
  Tensor x = distinct_tensor({2, 7, 3}, 41);
  GlobalMaxPooling1D gm2;
  GlobalAveragePooling1D ga2;
  Tensor m = Tensor::full({2, 7}, 1.0f);
  EXPECT_FALSE(gm2.compute_mask(x, &m).has_value());
  EXPECT_FALSE(ga2.compute_mask(x, &m).has_value());
}

TEST(GlobalPooling1D, MaskedMeanAndMaxIgnoresTheMask) {
  Tensor x = random_tensor({3, 5, 2}, 51);
  Tensor m({3, 5}, std::vector<float>{1, 1, 1, 0, 0,   // right-padded
                                      0, 0, 1, 1, 1,   // left-padded
                                      1, 0, 1, 0, 1}); // holes
  GlobalAveragePooling1D ga;
  Tensor y = run(ga, x, &m);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t c = 0; c < 2; ++c) {
      double s = 0, n = 0;
      for (int64_t t = 0; t < 5; ++t) s += x[(b * 5 + t) * 2 + c] * m[b * 5 + t], n += m[b * 5 + t];
      EXPECT_NEAR(y[b * 2 + c], s / n, 1e-6);
    }
  // Masked steps get no gradient.
  Tensor dx = ga.backward(Tensor::full({3, 2}, 1.0f));
  EXPECT_EQ(dx[(0 * 5 + 4) * 2 + 1], 0.0f);
  EXPECT_FLOAT_EQ(dx[(1 * 5 + 2) * 2 + 0], 1.0f / 3);

  // A fully masked row gives 0 (Keras gives 0/0 = NaN).
  Tensor none = Tensor::zeros({3, 5});
  Tensor y0 = run(ga, x, &none);
  for (int64_t i = 0; i < y0.size(); ++i) EXPECT_EQ(y0[i], 0.0f);

  GlobalMaxPooling1D gm;
  expect_tensor_near(run(gm, x, &m), run(gm, x), 0, "max ignores the mask");

  Tensor wrong = Tensor::full({3, 4}, 1.0f);
  expect_error_containing([&] { run(ga, x, &wrong); }, "the input mask has shape (3, 4), expected (3, 5)");
}

TEST(GlobalPooling1D, KerasConfigRoundTrip) {
  GlobalMaxPooling1D gm({.name = "gmp"});
  Json c = gm.get_config();
  EXPECT_EQ(c["data_format"], "channels_last");
  EXPECT_EQ(c["keepdims"], false);
  EXPECT_EQ(layer_from_config("GlobalMaxPooling1D", c)->get_config(), c);
  GlobalAveragePooling1D ga({.keepdims = true});
  Json a = ga.get_config();
  EXPECT_EQ(a["keepdims"], true);
  EXPECT_EQ(layer_from_config("GlobalAveragePooling1D", a)->get_config(), a);
  EXPECT_EQ(layer_from_config("GlobalAvgPool1D", a)->class_name(), "GlobalAveragePooling1D");
  EXPECT_EQ(layer_from_config("GlobalMaxPool1D", c)->class_name(), "GlobalMaxPooling1D");
  Json cf = c;
  cf["data_format"] = "channels_first";
  expect_error_containing([&] { layer_from_config("GlobalMaxPooling1D", cf); },
                          "layer 'gmp' (GlobalMaxPooling1D): data_format 'channels_first' is not supported");
}

// ---- the book's IMDB Conv1D model (Deep Learning with Python, 6.4) ----

TEST(ConvModel, ImdbConv1DModelShapesParamsAndJsonRoundTrip) {
  clear_session();
  auto inputs = Input({500}, {.dtype = DType::int32});
  auto outputs = inputs | layers::Embedding(10000, 128) | layers::Conv1D(32, 7, {.activation = "relu"}) |
                 layers::MaxPooling1D(5) | layers::Conv1D(32, 7, {.activation = "relu"}) |
                 layers::GlobalMaxPooling1D() | layers::Dense(1);
  Model model(inputs, outputs);
  const int64_t expected[] = {1280000, 28704, 0, 7200, 0, 33};
  const Shape shapes[] = {{-1, 500, 128}, {-1, 494, 32}, {-1, 98, 32}, {-1, 92, 32}, {-1, 32}, {-1, 1}};
  auto ls = model.layers();
  ASSERT_EQ(ls.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(ls[i]->count_params(), expected[i]) << ls[i]->name();
    EXPECT_EQ(ls[i]->output_shape(), shapes[i]) << ls[i]->name();
  }
  EXPECT_EQ(model.count_params(), 1315937);
  auto back = model_from_json(model.to_json());
  EXPECT_EQ(back->count_params(), 1315937);
  EXPECT_EQ(back->output_shape(), (Shape{-1, 1}));
  EXPECT_EQ(back->layers()[1]->get_config(), ls[1]->get_config());
}

// ---- Embedding + Conv1D run as one (Conv1D::call_on_embedding; the Model fuses the pair) ----

namespace {
void zero_grads(Layer& layer) {
  for (Param* p : layer.params()) p->grad.fill(0.0f);
}
}  // namespace

TEST(EmbeddingConv1D, FusedPairMatchesTheLayersOneAfterTheOther) {
  struct Case {
    Conv1DOptions options;
    int32_t vocab;  // few distinct ids: fused; many: the unfused path
    bool fused;
  };
  for (const Case& c : {Case{{.activation = "relu"}, 20, true}, Case{{.padding = "same"}, 15, true},
                        Case{{.strides = 2, .padding = "causal"}, 25, true},
                        Case{{.padding = "causal", .dilation_rate = 2, .activation = "tanh"}, 30, true},
                        Case{{.activation = "relu"}, 100000, false}}) {
    SCOPED_TRACE(fmt::format("padding {} strides {} dilation {} vocab {}", c.options.padding, c.options.strides,
                             c.options.dilation_rate, c.vocab));
    for (bool input_grad : {true, false}) {
      Rng rng(3);
      Embedding embedding(c.vocab, 12);
      Conv1D conv(7, 3, c.options);
      embedding.build({-1, 40}, rng);
      conv.build({-1, 40, 12}, rng);
      const Tensor ids = random_ids(6, 40, c.vocab, 4);
      RunContext ctx;
      ctx.training = true;
      ctx.input_grad = input_grad;
      // One after the other.
      const Tensor x = embedding.call(ids, ctx);
      const Tensor y = conv.call(x, ctx);
      const Tensor dy = random_tensor(y.shape(), 5);
      zero_grads(embedding);
      zero_grads(conv);
      Tensor dx = conv.backward(dy);
      if (input_grad) embedding.backward(dx);
      const Tensor table_grad = embedding.params()[0]->grad, kernel_grad = conv.params()[0]->grad,
                   bias_grad = conv.params()[1]->grad;
      // As one.
      zero_grads(embedding);
      zero_grads(conv);
      const Tensor y2 = conv.call_on_embedding(embedding, ids, ctx);
      Tensor dx2 = conv.backward(dy);
      if (input_grad) {
        EXPECT_EQ(dx2.empty(), c.fused) << "a fused backward has no input gradient; the unfused one has";
      }
      if (!dx2.empty() && input_grad) embedding.backward(dx2);
      expect_relative_close(y2, y, 1e-5, "output");
      expect_relative_close(conv.params()[0]->grad, kernel_grad, 1e-5, "kernel gradient");
      expect_relative_close(conv.params()[1]->grad, bias_grad, 1e-5, "bias gradient");
      if (input_grad) {
        expect_relative_close(embedding.params()[0]->grad, table_grad, 1e-5, "table gradient");
      } else {
        for (int64_t i = 0; i < embedding.params()[0]->grad.size(); ++i)
          ASSERT_EQ(embedding.params()[0]->grad[i], 0.0f) << "no table gradient without input_grad";
      }
    }
  }
}

TEST(EmbeddingConv1D, ModelsFuseThePairWithTheSameResultsOnOneAndTwoThreads) {
  // The book's IMDB Conv1D model on a small vocabulary (fused) and the same layers run one by one.
  auto make = [] {
    clear_session();
    set_random_seed(11);
    auto inputs = Input({60}, {.dtype = DType::int32});
    auto outputs = inputs | layers::Embedding(50, 16) | layers::Conv1D(8, 5, {.activation = "relu"}) |
                   layers::MaxPooling1D(3) | layers::Conv1D(8, 3, {.activation = "relu"}) |
                   layers::GlobalMaxPooling1D() | layers::Dense(1);
    auto model = std::make_shared<Model>(inputs, outputs);
    model->compile({.optimizer = optimizers::RMSprop(), .loss = "mse"});
    return model;
  };
  const Tensor ids = random_ids(16, 60, 50, 7);
  Tensor target = random_tensor({16, 1}, 8);
  auto fused = make();
  const Tensor y = fused->forward(ids, {.training = true});
  fused->zero_grads();
  fused->backward(y);
  // The same weights, layer by layer.
  auto ls = fused->layers();
  RunContext ctx;
  ctx.training = true;
  std::vector<Tensor> acts{ids};
  for (size_t i = 0; i < ls.size(); ++i) acts.push_back(ls[i]->call(acts.back(), ctx));
  expect_relative_close(acts.back(), y, 1e-5, "model output vs layer by layer");
  std::vector<Tensor> grads_fused;
  for (Param* p : fused->params()) grads_fused.push_back(p->grad);
  fused->zero_grads();
  Tensor g = y;
  for (size_t i = ls.size(); i-- > 0;) g = ls[i]->backward(g);
  const auto ps = fused->params();
  for (size_t i = 0; i < ps.size(); ++i) expect_relative_close(grads_fused[i], ps[i]->grad, 1e-5, "gradient of " + ps[i]->name);
  // Training: bitwise the same on 1 and 2 threads.
  std::vector<std::vector<float>> weights;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    auto m = make();
    m->fit(ids, target, {.batch_size = 8, .epochs = 2, .verbose = 0});
    std::vector<float> all;
    for (const auto& w : m->get_weights()) all.insert(all.end(), w.data(), w.data() + w.size());
    weights.push_back(all);
  }
  set_num_threads(1);
  EXPECT_EQ(weights[0], weights[1]);
}

// Inference calls with unchanged weights project the whole table once and then only gather; the answers stay
// those of the per-batch projection, and a change of either weight (an optimizer step, set_weights) is seen.
TEST(EmbeddingConv1D, InferenceReusesTheTableProjectionOnlyWhileTheWeightsStay) {
  clear_session();
  set_random_seed(12);
  auto inputs = Input({40}, {.dtype = DType::int32});
  auto outputs = inputs | layers::Embedding(30, 8) | layers::Conv1D(6, 3, {.activation = "relu"}) |
                 layers::GlobalMaxPooling1D() | layers::Dense(1);
  Model model(inputs, outputs);
  model.compile({.optimizer = optimizers::RMSprop(), .loss = "mse"});
  const Tensor ids = random_ids(8, 40, 30, 3), other_ids = random_ids(8, 40, 30, 4);
  // Layer by layer: the reference, never cached.
  auto layer_by_layer = [&](const Tensor& x) {
    RunContext ctx;
    Tensor a = x;
    for (const LayerPtr& l : model.layers()) a = l->call(a, ctx);
    return a;
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "initial weights" : "after a training step");
    const Tensor want = layer_by_layer(ids), want_other = layer_by_layer(other_ids);
    for (int call = 0; call < 4; ++call) {  // snapshot, projection of the table, then gathers
      expect_relative_close(model.predict(ids), want, 1e-5, "predict, call " + std::to_string(call));
      expect_relative_close(model.predict(other_ids), want_other, 1e-5, "predict other ids, call " + std::to_string(call));
    }
    model.train_on_batch(ids, random_tensor({8, 1}, 9));
  }
  // A weight set by hand is seen at once.
  std::vector<Tensor> w = model.get_weights();
  w[1] = random_tensor(w[1].shape(), 10);  // the Conv1D kernel
  model.set_weights(w);
  expect_relative_close(model.predict(ids), layer_by_layer(ids), 1e-5, "after set_weights");
  w[0] = random_tensor(w[0].shape(), 11);  // the table
  model.set_weights(w);
  expect_relative_close(model.predict(ids), layer_by_layer(ids), 1e-5, "after set_weights of the table");
}

// ---- parity with Keras 3 (tests/fixtures/make_conv_fixtures.py) ----

TEST(ConvKerasParity, OutputsAndGradientsMatchKeras) {
  const std::string path = std::string(SEQNET_FIXTURE_DIR) + "/conv_pooling.json";
  std::ifstream f(path);
  ASSERT_TRUE(f) << "missing fixture " << path << " (run tests/fixtures/make_conv_fixtures.py)";
  const Json fixture = Json::parse(f);
  auto tensor = [](const Json& j) {
    return Tensor(j.at("shape").get<Shape>(), j.at("values").get<std::vector<float>>());
  };
  int n = 0;
  for (const Json& c : fixture.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    // The layer comes from Keras's own get_config(), so the config reader is checked too.
    LayerPtr layer = layer_from_config(c.at("class_name").get<std::string>(), c.at("config"));
    const Tensor x = tensor(c.at("input"));
    Rng rng(1);
    layer->build(x.shape(), rng);
    for (const auto& [wname, value] : c.at("weights").items()) {
      Param* p = layer->find_param(wname);
      ASSERT_NE(p, nullptr) << "no weight " << wname;
      Tensor v = tensor(value);
      ASSERT_EQ(p->value.shape(), v.shape()) << wname;
      p->value = v;
    }
    EXPECT_EQ(layer->params().size(), c.at("weights").size());
    // get_config writes Keras's keys, with Keras's values for every argument.
    const Json ours = layer->get_config();
    for (const auto& [key, value] : c.at("config").items()) {
      ASSERT_TRUE(ours.contains(key)) << "config key missing: " << key;
      if (key == "dtype" || key.find("initializer") != std::string::npos) continue;
      EXPECT_EQ(ours[key], value) << key;
    }
    EXPECT_EQ(ours.size(), c.at("config").size()) << ours.dump();
    std::optional<Tensor> mask;
    if (c.contains("mask")) mask = tensor(c.at("mask"));
    for (Param* p : layer->params()) p->grad.fill(0.0f);
    const Tensor y = run(*layer, x, mask ? &*mask : nullptr);
    const Tensor expected = tensor(c.at("output"));
    ASSERT_EQ(y.shape(), expected.shape());
    expect_tensor_near(y, expected, 1e-5, name + " output");
    const Tensor dx = layer->backward(tensor(c.at("cotangent")));
    expect_tensor_near(dx, tensor(c.at("grad_input")), 1e-5, name + " input gradient");
    for (const auto& [wname, value] : c.at("grad_weights").items())
      expect_tensor_near(layer->find_param(wname)->grad, tensor(value), 1e-5, name + " gradient of " + wname);
    ++n;
  }
  EXPECT_EQ(n, 28);
}
