// Every layer in the registry, over grids of its options, through the one harness
// (tests/support/layer_harness.h): config round trip, output shape, finite-difference gradients, and
// 1-vs-2-thread bitwise equality. A layer's own test file keeps what is particular to it (Keras parity from
// fixtures, masks worked out by hand, errors).
#include <gtest/gtest.h>

#include <set>

#include "io/layer_registry.h"
#include "layer_harness.h"

using namespace seqnet;
using namespace seqnet::testing;

namespace {

// A recurrent layer's config: 3 units unless given, biases drawn so that they matter.
Json rnn(Json config) {
  if (!config.contains("units")) config["units"] = 3;
  config["bias_initializer"] = {{"class_name", "RandomUniform"}, {"config", {{"minval", -0.5}, {"maxval", 0.5}, {"seed", nullptr}}}};
  return config;
}

std::vector<LayerCase> cases() {
  std::vector<LayerCase> c;
  // Core
  // Every smooth activation (relu and hard_sigmoid have kinks: Activation below keeps its inputs away from them).
  for (const char* act : {"linear", "sigmoid", "tanh", "softmax", "silu", "gelu", "elu", "selu", "softplus", "softsign",
                          "exponential"}) {
    for (bool bias : {true, false}) {
      // selu's slope jumps at 0, where one pre-activation of this case lands within the finite-difference step;
      // its no-bias case checks it.
      if (bias && std::string(act) == "selu") continue;
      LayerCase d{"Dense", {{"units", 4}, {"activation", act}, {"use_bias", bias}}, {3, 5}};
      // selu's slope jumps at 0: inputs in [-0.5, 0.5) from a seed whose pre-activations keep clear of it.
      d.make_input = [](const Shape& shape, uint64_t seed) { return random_tensor(shape, seed + 8, -0.5f, 0.5f); };
      c.push_back(d);
    }
  }
  c.push_back({"Dense", {{"units", 2}, {"use_bias", false}}, {2, 6, 3}});
  c.push_back({"Embedding", {{"input_dim", 10}, {"output_dim", 3}}, {2, 5}, true});
  c.push_back({"Embedding", {{"input_dim", 10}, {"output_dim", 4}, {"mask_zero", true}}, {2, 5}, true});
  c.push_back({"Flatten", Json::object(), {2, 4, 3}});
  c.push_back({"Reshape", {{"target_shape", {3, 4}}}, {2, 12}});
  c.push_back({"Reshape", {{"target_shape", {-1, 2}}}, {2, 6}});
  {
    LayerCase d{"Dropout", {{"rate", 0.25}}, {3, 8}};
    d.grad.training = true;  // the harness redraws the same mask from its seed at every call
    c.push_back(d);
  }
  for (const char* act : {"relu", "sigmoid", "tanh", "softmax", "silu", "gelu", "elu", "selu", "softplus", "softsign",
                          "hard_sigmoid", "exponential", "linear"}) {
    LayerCase a{"Activation", {{"activation", act}}, {3, 4}};
    // |x| in [0.1, 2), alternating signs: away from the kinks at 0 (relu) and ±3 (hard_sigmoid).
    a.make_input = [](const Shape& shape, uint64_t seed) {
      Tensor x = random_tensor(shape, seed, 0.1f, 2.0f);
      for (int64_t i = 0; i < x.size(); i += 2) x[i] = -x[i];
      return x;
    };
    c.push_back(a);
  }
  // Convolution and pooling
  struct ConvCase {
    int k, strides, dilation;
    const char* padding;
    const char* activation;
    bool use_bias;
  };
  for (const ConvCase& k : std::vector<ConvCase>{{3, 1, 1, "valid", "linear", true},   {3, 1, 1, "same", "linear", true},
                                                 {4, 1, 1, "same", "linear", true},    {3, 1, 1, "causal", "linear", true},
                                                 {3, 2, 1, "valid", "linear", true},   {4, 2, 1, "same", "linear", true},
                                                 {3, 3, 1, "causal", "linear", true},  {3, 1, 2, "valid", "linear", true},
                                                 {3, 1, 2, "same", "linear", true},    {2, 1, 3, "causal", "linear", true},
                                                 {1, 1, 1, "valid", "linear", true},   {3, 1, 1, "valid", "tanh", false},
                                                 {2, 1, 1, "valid", "sigmoid", true},  {2, 1, 1, "valid", "softmax", true}}) {
    LayerCase conv{"Conv1D",
                   {{"filters", 3}, {"kernel_size", {k.k}}, {"strides", {k.strides}}, {"dilation_rate", {k.dilation}},
                    {"padding", k.padding}, {"activation", k.activation}, {"use_bias", k.use_bias}},
                   {2, 9, 2}};
    conv.grad.max_checks_per_tensor = 64;
    c.push_back(conv);
  }
  for (const char* padding : {"valid", "same", "causal"})  // wide inputs: the direct shifted-GEMM path
    for (int k : {2, 3, 4}) {
      LayerCase wide{"Conv1D", {{"filters", 5}, {"kernel_size", {k}}, {"padding", padding}}, {2, 9, 32}};
      wide.grad.max_checks_per_tensor = 64;
      c.push_back(wide);
    }
  struct PoolCase {
    int pool, strides;
    const char* padding;
  };
  for (const char* cls : {"MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D"})
    for (const PoolCase& k : std::vector<PoolCase>{{2, 2, "valid"}, {3, 2, "valid"}, {3, 1, "valid"}, {3, 3, "same"},
                                                   {4, 2, "same"}, {2, 3, "same"}, {5, 1, "same"}}) {
      LayerCase pool{cls, {{"pool_size", {k.pool}}, {"strides", {k.strides}}, {"padding", k.padding}}, {2, 11, 3}};
      pool.grad.max_checks_per_tensor = 66;
      c.push_back(pool);
    }
  for (const char* cls : {"GlobalMaxPooling1D", "GlobalMaxPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D"}) {
    c.push_back({cls, Json::object(), {2, 6, 3}});
    c.push_back({cls, {{"keepdims", true}}, {2, 6, 3}});
  }
  {
    LayerCase g{"GlobalAveragePooling1D", Json::object(), {3, 5, 2}};
    g.masked = true;
    c.push_back(g);
  }
  // Recurrent: every option of the loop, for each cell (GRU in both reset modes).
  const Json gru_before = {{"reset_after", false}};
  for (const auto& [cls, extra] : std::vector<std::pair<const char*, Json>>{
           {"SimpleRNN", Json::object()}, {"LSTM", Json::object()}, {"GRU", Json::object()}, {"GRU", gru_before}}) {
    auto with = [&, extra = extra, cls = cls](Json o) {
      for (const auto& [k, v] : extra.items()) o[k] = v;
      if (std::string(cls) == "SimpleRNN") o.erase("recurrent_activation");  // Keras's SimpleRNN has none
      return rnn(o);
    };
    struct Option {
      Json config;
      bool masked;
    };
    for (const Option& o : std::vector<Option>{
             {Json::object(), false},
             {{{"return_sequences", true}}, false},
             {{{"go_backwards", true}}, false},
             {{{"return_sequences", true}, {"go_backwards", true}}, false},
             {{{"use_bias", false}, {"return_sequences", true}}, false},
             {{{"return_sequences", true}}, true},
             {{{"go_backwards", true}}, true},
             {{{"return_sequences", true}, {"go_backwards", true}, {"zero_output_for_mask", true}}, true},
             {{{"activation", "softsign"}, {"recurrent_activation", "tanh"}, {"return_sequences", true}}, false}}) {
      LayerCase r{cls, with(o.config), {3, 4, 5}};
      r.masked = o.masked;
      c.push_back(r);
    }
    // Dropout masks are drawn from the harness's freshly seeded Rng at every call: fixed across the
    // finite differences.
    for (double rd : {0.0, 0.4}) {
      LayerCase d{cls, with({{"dropout", 0.3}, {"recurrent_dropout", rd}, {"return_sequences", std::string(cls) != "LSTM"}}),
                  {3, 4, 5}};
      d.grad.training = true;
      c.push_back(d);
    }
  }
  // The fused steps' compile-time-width kernels: 8 units (the IMDB models, also with recurrent dropout),
  // 16, 24, 32 and 64 (the hybrid model, the weather GRUs), with and without a carried cell gradient.
  for (const char* cls : {"LSTM", "GRU"})
    for (bool seq : {false, true}) {
      c.push_back({cls, rnn({{"units", 8}, {"return_sequences", seq}}), {3, 5, 4}});
      LayerCase rd{cls, rnn({{"units", 8}, {"return_sequences", seq}, {"recurrent_dropout", 0.4}}), {3, 5, 4}};
      rd.grad.training = true;
      c.push_back(rd);
      for (int units : {16, 24, 32, 64}) {
        LayerCase w{cls, rnn({{"units", units}, {"return_sequences", seq}}), {2, 3, 3}};
        w.grad.max_checks_per_tensor = 24;
        c.push_back(w);
      }
    }
  // Keras 2's hard_sigmoid (0.2x + 0.5), as legacy files use it.
  c.push_back({"LSTM", rnn({{"recurrent_activation", "hard_sigmoid_keras2"}, {"return_sequences", true}}), {2, 4, 3}});
  c.push_back({"GRU", rnn({{"recurrent_activation", "hard_sigmoid_keras2"}, {"reset_after", false}}), {2, 4, 3}});
  // Bidirectional: every merge mode, an LSTM forward and a GRU backward, with and without a mask; and
  // layers of different widths.
  for (const char* merge : {"concat", "sum", "mul", "ave"})
    for (bool seq : {false, true})
      for (bool masked : {false, true}) {
        LayerCase bi{"Bidirectional",
                     {{"layer", {{"class_name", "LSTM"}, {"config", rnn({{"name", "lstm"}, {"return_sequences", seq}})}}},
                      {"backward_layer",
                       {{"class_name", "GRU"},
                        {"config", {{"name", "gru"}, {"units", 3}, {"return_sequences", seq}, {"go_backwards", true}}}}},
                      {"merge_mode", merge}},
                     {2, 4, 3}};
        bi.masked = masked;
        c.push_back(bi);
      }
  c.push_back({"Bidirectional",
               {{"layer", {{"class_name", "SimpleRNN"}, {"config", {{"name", "rnn"}, {"units", 4}, {"return_sequences", true}}}}},
                {"backward_layer",
                 {{"class_name", "GRU"},
                  {"config", {{"name", "gru"}, {"units", 2}, {"reset_after", false}, {"return_sequences", true}, {"go_backwards", true}}}}}},
               {2, 4, 3}});
  c.push_back({"TimeDistributed", {{"layer", {{"class_name", "Dense"}, {"config", {{"name", "d"}, {"units", 2}, {"activation", "tanh"}}}}}},
               {2, 5, 3}});
  c.push_back({"Masking", {{"mask_value", 0.0}}, {3, 4, 2}});
  c.push_back({"Masking", {{"mask_value", 0.5}}, {2, 4, 3}});
  // Preprocessing
  c.push_back({"Normalization", {{"axis", {-1}}, {"mean", {1.0, -2.0, 0.5}}, {"variance", {4.0, 0.25, 1.0}}, {"invert", false}}, {2, 4, 3}});
  c.push_back({"Normalization", {{"axis", {-1}}, {"mean", {1.0, -2.0, 0.5}}, {"variance", {4.0, 0.25, 1.0}}, {"invert", true}}, {2, 4, 3}});
  c.push_back({"Normalization", {{"axis", {-1}}, {"mean", nullptr}, {"variance", nullptr}, {"invert", false}}, {2, 3}});
  // Merges: two and three inputs; Maximum and Minimum on inputs far apart (no ties within the step).
  for (const char* cls : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
    LayerCase m{cls, Json::object(), {2, 3, 4}};
    m.extra_inputs = {{2, 3, 4}};
    c.push_back(m);
    if (std::string(cls) != "Subtract") {
      LayerCase three{cls, Json::object(), {2, 5}};
      three.extra_inputs = {{2, 5}, {2, 5}};
      c.push_back(three);
    }
  }
  for (int axis : {-1, 1, 2}) {
    LayerCase cat{"Concatenate", {{"axis", axis}}, {2, 3, 4}};
    cat.extra_inputs = {axis == 1 ? Shape{2, 2, 4} : Shape{2, 3, 2}};
    c.push_back(cat);
  }
  c.push_back({"RepeatVector", {{"n", 3}}, {2, 4}});
  // Recurrent layers in a graph: initial states in, final states out (return_state), gradients through both.
  for (const char* cls : {"SimpleRNN", "LSTM", "GRU"}) {
    const bool lstm = std::string(cls) == "LSTM";
    for (bool seq : {false, true}) {
      LayerCase st{cls, rnn({{"return_state", true}, {"return_sequences", seq}}), {2, 4, 3}};
      st.extra_inputs = lstm ? std::vector<Shape>{{2, 3}, {2, 3}} : std::vector<Shape>{{2, 3}};
      c.push_back(st);
    }
    c.push_back({cls, rnn({{"return_state", true}}), {2, 4, 3}});  // states out, none in
  }
  // Bidirectional with states: the forward layer's then the backward layer's, in and out (an LSTM forward of
  // 3 units, a GRU backward of 2: three states).
  for (bool seq : {false, true})
    for (const char* merge : {"concat", "sum"}) {
      const bool same = std::string(merge) == "sum";
      LayerCase bi{"Bidirectional",
                   {{"layer", {{"class_name", "LSTM"}, {"config", rnn({{"name", "lstm"}, {"return_sequences", seq}, {"return_state", true}})}}},
                    {"backward_layer",
                     {{"class_name", "GRU"},
                      {"config", {{"name", "gru"}, {"units", same ? 3 : 2}, {"return_sequences", seq}, {"return_state", true},
                                  {"go_backwards", true}}}}},
                    {"merge_mode", merge}},
                   {2, 4, 3}};
      bi.extra_inputs = {{2, 3}, {2, 3}, {2, same ? 3 : 2}};
      c.push_back(bi);
    }
  // Reshaping: Permute over ranks 2 to 4 (the identity too); the time-axis layers with every form of their pairs,
  // and masked inputs (the mask is dropped, as Keras drops it).
  c.push_back({"Permute", {{"dims", {2, 1}}}, {2, 4, 3}});
  c.push_back({"Permute", {{"dims", {1, 2}}}, {2, 4, 3}});
  c.push_back({"Permute", {{"dims", {1}}}, {2, 5}});
  c.push_back({"Permute", {{"dims", {3, 1, 2}}}, {2, 3, 4, 2}});
  c.push_back({"Permute", {{"dims", {2, 3, 1}}}, {2, 3, 4, 2}});
  for (const Json& crop : {Json{1, 1}, Json{0, 2}, Json{3, 0}, Json{0, 0}}) {
    c.push_back({"Cropping1D", {{"cropping", crop}}, {2, 6, 3}});
  }
  for (const Json& pad : {Json{1, 1}, Json{2, 0}, Json{0, 3}, Json{0, 0}}) {
    c.push_back({"ZeroPadding1D", {{"padding", pad}, {"data_format", "channels_last"}}, {2, 4, 3}});
  }
  for (int size : {1, 2, 3}) c.push_back({"UpSampling1D", {{"size", size}}, {2, 4, 3}});
  for (const char* cls : {"Permute", "Cropping1D", "ZeroPadding1D", "UpSampling1D"}) {
    LayerCase m{cls, std::string(cls) == "Permute" ? Json{{"dims", {2, 1}}} : Json::object(), {3, 5, 2}};
    m.masked = true;
    c.push_back(m);
  }
  // Regularization: in training the harness redraws the same mask / noise from its seed at every call; in
  // inference both are the identity; a mask passes through.
  for (double rate : {0.0, 0.3, 0.6}) {
    LayerCase d{"SpatialDropout1D", {{"rate", rate}, {"seed", nullptr}}, {3, 4, 5}};
    d.grad.training = true;
    c.push_back(d);
  }
  c.push_back({"SpatialDropout1D", {{"rate", 0.5}, {"seed", 3}}, {2, 4, 3}});  // inference
  for (double stddev : {0.0, 0.2, 1.0}) {
    LayerCase g{"GaussianNoise", {{"stddev", stddev}, {"seed", nullptr}}, {3, 4, 5}};
    g.grad.training = true;
    c.push_back(g);
  }
  c.push_back({"GaussianNoise", {{"stddev", 0.3}, {"seed", 7}}, {2, 6}});  // inference
  for (const char* cls : {"SpatialDropout1D", "GaussianNoise"}) {
    LayerCase m{cls, {{std::string(cls) == "GaussianNoise" ? "stddev" : "rate", 0.25}}, {3, 5, 2}};
    m.masked = true;
    m.grad.training = true;
    c.push_back(m);
  }
  // LayerNormalization: gamma and beta drawn so that they matter; each of center and scale off; ranks 2 to 4.
  const Json gamma_init = {{"class_name", "RandomUniform"}, {"config", {{"minval", 0.5}, {"maxval", 1.5}, {"seed", nullptr}}}};
  const Json beta_init = {{"class_name", "RandomUniform"}, {"config", {{"minval", -0.5}, {"maxval", 0.5}, {"seed", nullptr}}}};
  for (bool center : {true, false})
    for (bool scale : {true, false}) {
      c.push_back({"LayerNormalization",
                   {{"axis", -1}, {"center", center}, {"scale", scale}, {"gamma_initializer", gamma_init},
                    {"beta_initializer", beta_init}},
                   {2, 4, 5}});
    }
  c.push_back({"LayerNormalization", {{"axis", {-1}}, {"epsilon", 1e-5}, {"gamma_initializer", gamma_init}}, {3, 6}});
  c.push_back({"LayerNormalization", {{"epsilon", 0.1}, {"beta_initializer", beta_init}}, {2, 3, 2, 4}});
  {
    LayerCase m{"LayerNormalization", {{"gamma_initializer", gamma_init}}, {3, 5, 4}};
    m.masked = true;
    c.push_back(m);
  }
  // Dot: every axis pairing of rank-3 inputs (a batched matrix product), rank 2, mixed ranks, and normalize.
  struct DotCase {
    Json axes;
    Shape a, b;
    bool normalize;
  };
  for (const DotCase& d : std::vector<DotCase>{{-1, {2, 3, 4}, {2, 5, 4}, false},
                                              {Json{2, 2}, {2, 3, 4}, {2, 5, 4}, false},
                                              {Json{1, 1}, {2, 4, 3}, {2, 4, 5}, false},
                                              {1, {2, 4, 3}, {2, 4, 2}, false},
                                              {Json{2, 1}, {2, 3, 4}, {2, 4, 5}, false},
                                              {Json{1, 2}, {2, 4, 3}, {2, 5, 4}, false},
                                              {Json{-2, -1}, {2, 4, 3}, {2, 5, 4}, false},
                                              {1, {3, 4}, {3, 4}, false},
                                              {Json{1, 2}, {3, 4}, {3, 5, 4}, false},
                                              {Json{2, 1}, {3, 5, 4}, {3, 4}, false},
                                              {1, {3, 4}, {3, 4}, true},
                                              {Json{2, 2}, {2, 3, 4}, {2, 5, 4}, true},
                                              {Json{1, 1}, {2, 4, 3}, {2, 4, 5}, true},
                                              {Json{2, 1}, {2, 3, 4}, {2, 4, 5}, true}}) {
    LayerCase dot{"Dot", {{"axes", d.axes}, {"normalize", d.normalize}}, d.a};
    dot.extra_inputs = {d.b};
    c.push_back(dot);
  }
  return c;
}

}  // namespace

TEST(LayerHarness, EveryRegisteredLayerHasCases) {
  std::set<std::string> covered;
  for (const LayerCase& c : cases()) covered.insert(c.class_name);
  for (const std::string& cls : config::registered_layer_classes())
    EXPECT_TRUE(covered.count(cls)) << cls << " is in the layer registry but has no case in the harness";
}

TEST(LayerHarness, EveryCasePassesEveryCheck) {
  for (const LayerCase& c : cases()) check_layer_case(c);
}
