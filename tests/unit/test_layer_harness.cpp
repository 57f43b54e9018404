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

Json rnn(const char* cls, Json config) {
  config["units"] = 3;
  config["bias_initializer"] = {{"class_name", "RandomUniform"}, {"config", {{"minval", -0.5}, {"maxval", 0.5}, {"seed", nullptr}}}};
  return config;
}

std::vector<LayerCase> cases() {
  std::vector<LayerCase> c;
  // Core
  for (const char* act : {"linear", "tanh", "sigmoid", "softmax", "gelu"})
    c.push_back({"Dense", {{"units", 4}, {"activation", act}}, {3, 5}});
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
  for (const char* act : {"tanh", "softmax", "silu", "softplus"}) c.push_back({"Activation", {{"activation", act}}, {3, 5}});
  // Convolution and pooling
  for (const char* padding : {"valid", "same", "causal"})
    for (int strides : {1, 2}) {
      if (strides == 2 && std::string(padding) == "causal") continue;
      c.push_back({"Conv1D", {{"filters", 3}, {"kernel_size", {3}}, {"strides", {strides}}, {"padding", padding}}, {2, 9, 2}});
    }
  c.push_back({"Conv1D", {{"filters", 2}, {"kernel_size", {2}}, {"dilation_rate", {2}}, {"activation", "relu"}, {"padding", "causal"}}, {2, 8, 3}});
  for (const char* cls : {"MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D"})
    for (const char* padding : {"valid", "same"})
      c.push_back({cls, {{"pool_size", {2}}, {"strides", {2}}, {"padding", padding}}, {2, 7, 3}});
  c.push_back({"MaxPooling1D", {{"pool_size", {3}}, {"strides", {1}}}, {2, 7, 3}});
  for (const char* cls : {"GlobalMaxPooling1D", "GlobalMaxPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D"}) {
    c.push_back({cls, Json::object(), {2, 6, 3}});
    c.push_back({cls, {{"keepdims", true}}, {2, 6, 3}});
  }
  {
    LayerCase g{"GlobalAveragePooling1D", Json::object(), {3, 5, 2}};
    g.masked = true;
    c.push_back(g);
  }
  // Recurrent
  for (const char* cls : {"SimpleRNN", "LSTM", "GRU"}) {
    c.push_back({cls, rnn(cls, Json::object()), {3, 4, 5}});
    c.push_back({cls, rnn(cls, {{"return_sequences", true}, {"go_backwards", true}}), {3, 4, 5}});
    c.push_back({cls, rnn(cls, {{"use_bias", false}, {"return_sequences", true}}), {3, 4, 5}});
    LayerCase masked{cls, rnn(cls, {{"return_sequences", true}}), {3, 4, 5}};
    masked.masked = true;
    c.push_back(masked);
    LayerCase drop{cls, rnn(cls, {{"dropout", 0.2}, {"recurrent_dropout", 0.2}}), {3, 4, 5}};
    drop.grad.training = true;
    c.push_back(drop);
  }
  c.push_back({"GRU", rnn("GRU", {{"reset_after", false}, {"return_sequences", true}}), {3, 4, 5}});
  for (const char* merge : {"concat", "sum", "mul", "ave"})
    c.push_back({"Bidirectional", {{"layer", {{"class_name", "LSTM"}, {"config", rnn("LSTM", {{"name", "lstm"}, {"return_sequences", true}})}}},
                                   {"merge_mode", merge}},
                 {2, 4, 3}});
  c.push_back({"Bidirectional", {{"layer", {{"class_name", "GRU"}, {"config", rnn("GRU", {{"name", "gru"}})}}},
                                 {"backward_layer", {{"class_name", "SimpleRNN"}, {"config", rnn("SimpleRNN", {{"name", "rnn"}, {"go_backwards", true}})}}}},
               {2, 4, 3}});
  c.push_back({"TimeDistributed", {{"layer", {{"class_name", "Dense"}, {"config", {{"name", "d"}, {"units", 2}}}}}}, {2, 5, 3}});
  {
    LayerCase m{"Masking", {{"mask_value", 0.0}}, {3, 4, 2}};
    c.push_back(m);
  }
  // Preprocessing
  c.push_back({"Normalization", {{"axis", {-1}}, {"mean", {1.0, -2.0, 0.5}}, {"variance", {4.0, 0.25, 1.0}}, {"invert", false}}, {2, 4, 3}});
  c.push_back({"Normalization", {{"axis", {-1}}, {"mean", {1.0, -2.0, 0.5}}, {"variance", {4.0, 0.25, 1.0}}, {"invert", true}}, {2, 4, 3}});
  c.push_back({"Normalization", {{"axis", {-1}}, {"mean", nullptr}, {"variance", nullptr}, {"invert", false}}, {2, 3}});
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
