// Sequential and functional models: summary, configs, fit / evaluate / predict, errors, determinism.
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <functional>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;

namespace {
std::string rstrip_lines(const std::string& s) {
  std::string out, line;
  for (char c : s) {
    if (c == '\n') {
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
      line.clear();
    } else {
      line += c;
    }
  }
  out += line;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// "Does token 3 occur in the sequence?" — a small sequence task a Dense stack can learn.
std::pair<Tensor, Tensor> token_task(int64_t n, uint64_t seed) {
  Rng rng(seed);
  Tensor x({n, 10}, DType::int32), y({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    bool has = false;
    for (int t = 0; t < 10; ++t) {
      int32_t id = int32_t(rng.randint(1, 10));
      if (rng.uniform() < 0.5f && id == 3) id = 4;  // make "3 present" about as common as absent
      x.idata()[i * 10 + t] = id;
      has |= id == 3;
    }
    y[i] = has ? 1.0f : 0.0f;
  }
  return {x, y};
}

std::unique_ptr<Sequential> token_model() {
  auto m = std::make_unique<Sequential>();
  m->add(layers::Embedding(10, 8, {.input_length = 10}));
  m->add(layers::Flatten());
  m->add(layers::Dense(32, {.activation = "relu"}));
  m->add(layers::Dense(1, {.activation = "sigmoid"}));
  return m;
}
}  // namespace

TEST(Summary, MatchesKerasTextForKerasConfigs) {
  auto fx = load_fixture("core_keras.json")["models"];
  for (auto& [name, m] : fx.items()) {
    SCOPED_TRACE(name);
    auto model = model_from_json(m["json"].get<std::string>());
    EXPECT_EQ(model->count_params(), m["count_params"].get<int64_t>());
    EXPECT_EQ(rstrip_lines(model->summary_string()), rstrip_lines(m["summary"].get<std::string>()));
  }
}

TEST(Config, ToJsonRoundTripKeepsArchitecture) {
  auto fx = load_fixture("core_keras.json")["models"];
  for (auto& [name, m] : fx.items()) {
    SCOPED_TRACE(name);
    auto a = model_from_json(m["json"].get<std::string>());
    auto b = model_from_json(a->to_json());
    EXPECT_EQ(a->summary_string(), b->summary_string());
    EXPECT_EQ(a->to_json(), b->to_json());
  }
}

TEST(Config, Keras2FlavourWithBatchInputShape) {
  const char* keras2 = R"({"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
    {"class_name": "Embedding", "config": {"name": "embedding_1", "trainable": true, "batch_input_shape": [null, 500],
      "dtype": "float32", "input_dim": 10000, "output_dim": 32, "embeddings_initializer": {"class_name": "RandomUniform",
      "config": {"minval": -0.05, "maxval": 0.05, "seed": null}}, "mask_zero": false, "input_length": 500}},
    {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": true, "data_format": "channels_last"}},
    {"class_name": "Dense", "config": {"name": "dense_1", "trainable": true, "units": 1, "activation": "sigmoid",
      "use_bias": true, "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
      "distribution": "uniform", "seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}},
      "kernel_regularizer": null}}]}, "keras_version": "2.2.4", "backend": "tensorflow"})";
  auto model = model_from_json(keras2);
  EXPECT_EQ(model->output_shape(), (Shape{-1, 1}));
  EXPECT_EQ(model->count_params(), 320000 + 16001);
  EXPECT_EQ(model->get_layer("flatten_1")->output_shape(), (Shape{-1, 16000}));
}

TEST(Config, UnknownLayerAndOptionAreNamed) {
  const char* unknown = R"({"class_name": "Sequential", "config": {"layers": [
    {"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3]}},
    {"class_name": "Wobble", "config": {"name": "w"}}]}})";
  try {
    model_from_json(unknown);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown layer class 'Wobble' (layer 'w')"), std::string::npos) << e.what();
  }
  const char* reg = R"({"class_name": "Sequential", "config": {"layers": [
    {"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3],
     "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}}}]}})";
  EXPECT_THROW(model_from_json(reg), Error);
  EXPECT_THROW(model_from_json("{not json"), Error);
}


// Inputs the fuzzer (tests/fuzz/fuzz_model_files.cpp) found escaping as JSON-library exceptions or as a
// pure virtual call: each must be a seqnet::Error that says what is wrong.
TEST(Config, MalformedConfigsAreErrorsNotCrashes) {
  auto message = [](const std::string& json) {
    try {
      model_from_json(json);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("0").find("not a JSON object"), std::string::npos);
  EXPECT_NE(message("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(message(R"({"class_name": "Sequential", "config": 1e999})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message(R"({"class_name": 5, "config": {}})").find("malformed Keras config"), std::string::npos);
  EXPECT_NE(message(R"({"class_name": "Sequential", "config": {"layers": [
    {"class_name": "Dense", "config": {"name": "d", "units": "two"}}]}})").find(
                "layer 'd': config key 'units': expected a whole number, got \"two\""),
            std::string::npos);
  // A recurrent layer's option check runs while the layer is being constructed.
  const std::string lstm = message(R"({"class_name": "Sequential", "config": {"layers": [
    {"class_name": "LSTM", "config": {"name": "l", "units": -3, "batch_input_shape": [null, 4, 2]}}]}})");
  EXPECT_NE(lstm.find("layer 'l' (LSTM) in the model config"), std::string::npos) << lstm;
  EXPECT_NE(lstm.find("units must be positive, got -3"), std::string::npos) << lstm;
  EXPECT_EQ(lstm.find("'lstm'"), std::string::npos) << "the default name, not the config's: " << lstm;
  // 4 gates of 2^62 units: the weights' width overflowed int64 before any tensor could refuse it (the fuzzer).
  const std::string huge = message(R"({"class_name": "Sequential", "config": {"layers": [
    {"class_name": "LSTM", "config": {"name": "l", "units": 4611686018427387904, "batch_input_shape": [null, 4, 2]}}]}})");
  EXPECT_NE(huge.find("units = 4611686018427387904 is too large: 4 gates of it overflow a tensor's size"),
            std::string::npos) << huge;
  // Sizes past int64 from a layer's options or a declared input shape (signed overflow before): an error.
  const auto sequential = [&](const char* batch_shape, const char* layer) {
    return message(fmt::format(R"({{"class_name": "Sequential", "config": {{"layers": [
      {{"class_name": "InputLayer", "config": {{"batch_shape": {}, "name": "x"}}}}, {}]}}}})", batch_shape, layer));
  };
  const std::string big = "4611686018427387904", biggest = "9223372036854775807";
  const std::vector<std::array<std::string, 3>> past_int64 = {
      {"[null, 100, 3]", R"({"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "dilation_rate": )" + big + "}}",
       "layer 'c' (Conv1D) in the model config: the size 4611686018427387904 x 2 is past int64"},
      {"[null, 100, 3]", R"({"class_name": "ZeroPadding1D", "config": {"name": "z", "padding": [)" + biggest + ", 1]}}",
       "layer 'z' (ZeroPadding1D) in the model config: the size 9223372036854775807 + 1 is past int64"},
      {"[null, " + big + ", 3]", R"({"class_name": "UpSampling1D", "config": {"name": "u", "size": 4}})",
       "layer 'u' (UpSampling1D): the size 4611686018427387904 x 4 is past int64"},
      {"[null, " + big + ", " + big + "]", R"({"class_name": "Flatten", "config": {"name": "f"}})",
       "layer 'f' (Flatten): the size 4611686018427387904 x 4611686018427387904 is past int64"},
      {"[null, 5, 3]", R"({"class_name": "Cropping1D", "config": {"name": "c", "cropping": [)" + biggest + ", " + biggest + "]}}",
       "layer 'c' (Cropping1D) in the model config: the size 9223372036854775807 + 9223372036854775807 is past int64"},
      {"[null, 5, 3]", R"({"class_name": "Reshape", "config": {"name": "r", "target_shape": [)" + big + ", 4, -1]}}",
       "layer 'r' (Reshape): the size 4611686018427387904 x 4 is past int64"},
  };
  for (const auto& [batch_shape, layer, expected] : past_int64) {
    const std::string got = sequential(batch_shape.c_str(), layer.c_str());
    EXPECT_NE(got.find(expected), std::string::npos) << got;
  }
}
TEST(Fit, LearnsASequenceTask) {
  set_random_seed(3);
  auto [x, y] = token_task(2000, 1);
  auto [xt, yt] = token_task(500, 2);
  auto model = token_model();
  model->compile({.optimizer = optimizers::Adam({.learning_rate = 0.01f}), .loss = "binary_crossentropy", .metrics = {"acc"}});
  History h = model->fit(x, y, {.batch_size = 32, .epochs = 8, .verbose = 0, .validation_split = 0.2f});
  ASSERT_EQ(h.epoch.size(), 8u);
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  EXPECT_TRUE(h.contains("val_acc"));
  Logs test = model->evaluate(xt, yt);
  EXPECT_GE(*test.get("acc"), 0.95) << "test accuracy";
  Tensor pred = model->predict(xt, 64);
  EXPECT_EQ(pred.shape(), (Shape{500, 1}));
}

TEST(Fit, SameSeedGivesBitwiseIdenticalWeights) {
  auto train = [] {
    set_random_seed(11);
    auto [x, y] = token_task(300, 5);
    auto model = token_model();
    model->compile({.optimizer = "rmsprop", .loss = "binary_crossentropy"});
    model->fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    std::vector<float> w;
    for (Param* p : model->params()) w.insert(w.end(), p->value.data(), p->value.data() + p->value.size());
    return w;
  };
  EXPECT_EQ(train(), train());
}

TEST(Fit, FunctionalModelTrainsWithBatchSource) {
  set_random_seed(5);
  auto in = Input({4});
  auto out = in | layers::Dense(8, {.activation = "tanh"}) | layers::Dense(1);
  Model model(in, out, "regressor");
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.02f}), .loss = "mse", .metrics = {"mae"}});
  struct Linear : BatchSource {
    Rng rng{9};
    std::pair<Tensor, Tensor> next_batch() override {
      Tensor x({16, 4}), y({16, 1});
      for (int i = 0; i < 16; ++i) {
        float s = 0;
        for (int j = 0; j < 4; ++j) s += (x[i * 4 + j] = rng.uniform(-1, 1)) * float(j + 1) * 0.25f;
        y[i] = s;
      }
      return {x, y};
    }
  } train, val;
  History h = model.fit(train, {.epochs = 10, .verbose = 0, .steps_per_epoch = 50, .validation_source = &val, .validation_steps = 5});
  EXPECT_LT(h["val_loss"].back(), 0.02);
  EXPECT_LT(h["mae"].back(), h["mae"].front());
}

TEST(Fit, ClearErrorsForBadInput) {
  auto model = token_model();
  model->compile({.loss = "binary_crossentropy"});
  auto [x, y] = token_task(10, 1);
  try {
    model->fit(x, y.slice_rows(0, 9), {.verbose = 0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x has 10 samples but y has 9"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model->fit(x.slice_rows(0, 0), y.slice_rows(0, 0), {.verbose = 0}), Error);
  try {
    model->predict(Tensor({2, 12}, DType::int32));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected input shape (None, 10), got (2, 12)"), std::string::npos) << e.what();
  }
  Sequential uncompiled;
  uncompiled.add(layers::Dense(1, {.input_shape = Shape{3}}));
  EXPECT_THROW(uncompiled.fit(Tensor({4, 3}), Tensor({4, 1}), {.verbose = 0}), Error);
}

TEST(Fit, NanLossStopsTraining) {
  Sequential model;
  model.add(layers::Dense(1, {.input_shape = Shape{2}}));
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 1e30f}), .loss = "mse"});
  Tensor x = Tensor::full({64, 2}, 1e20f), y({64, 1});
  ::testing::internal::CaptureStdout();
  History h = model.fit(x, y, {.batch_size = 8, .epochs = 5, .verbose = 0});
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("Invalid loss, terminating training"), std::string::npos) << out;
  EXPECT_EQ(h.epoch.size(), 1u);
  EXPECT_TRUE(model.stop_training);
}

TEST(Fit, ProgressLogLooksLikeKeras) {
  set_random_seed(1);
  auto [x, y] = token_task(64, 1);
  auto model = token_model();
  model->compile({.loss = "binary_crossentropy", .metrics = {"acc"}});
  ::testing::internal::CaptureStdout();
  model->fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 1, .validation_data = std::make_pair(x, y)});
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("Epoch 1/2\n4/4 [==============================] - "), std::string::npos) << out;
  EXPECT_NE(out.find("s/step - loss: "), std::string::npos) << out;
  EXPECT_NE(out.find(" - acc: "), std::string::npos) << out;
  EXPECT_NE(out.find(" - val_loss: "), std::string::npos) << out;
  EXPECT_NE(out.find(" - val_acc: "), std::string::npos) << out;
  EXPECT_NE(out.find("Epoch 2/2\n"), std::string::npos) << out;
}

TEST(Model, DropoutIsTheIdentityInInferenceAndAppliedInTraining) {
  // In inference a model's outputs are those of the same model without its Dropout layers (the last layer
  // included); in training the masks apply.
  set_random_seed(5);
  Sequential with;
  with.add(Input({6}));
  with.add(layers::Dense(8, {.activation = "relu"}));
  with.add(layers::Dropout(0.5f));
  with.add(layers::Dense(3));
  with.add(layers::Dropout(0.3f));  // the last layer too: the model returns the previous output
  Sequential without;
  without.add(Input({6}));
  without.add(layers::Dense(8, {.activation = "relu"}));
  without.add(layers::Dense(3));
  without.set_weights(with.get_weights());
  Tensor x = random_tensor({5, 6}, 3);
  Tensor a = with.forward(x), b = without.forward(x);
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]);
  Tensor t = with.forward(x, {.training = true});
  bool differs = false;
  for (int64_t i = 0; i < t.size(); ++i) differs = differs || t[i] != b[i];
  EXPECT_TRUE(differs) << "training mode must apply the dropout masks";
}

TEST(Model, WholeModelGradientCheck) {
  // Backward through a chain equals finite differences of the model's output.
  set_random_seed(2);
  auto in = Input({5, 3});
  auto out = in | layers::Dense(4, {.activation = "tanh"}) | layers::Flatten() | layers::Dense(2);
  Model model(in, out);
  Tensor x = random_tensor({2, 5, 3}, 4);
  Tensor y = model.forward(x);
  Tensor w = random_tensor(y.shape(), 8);
  model.zero_grads();
  Tensor dx = model.backward(w);
  auto objective = [&](const Tensor& input) {
    Tensor o = model.forward(input);
    double s = 0;
    for (int64_t i = 0; i < o.size(); ++i) s += double(o[i]) * w[i];
    return s;
  };
  for (int64_t i = 0; i < x.size(); i += 3) {
    Tensor xp = x, xm = x;
    xp[i] += 1e-3f, xm[i] -= 1e-3f;
    EXPECT_NEAR(dx[i], (objective(xp) - objective(xm)) / 2e-3, 2e-3);
  }
}

TEST(Model, FirstLayerSkipsTheInputGradientOnlyWhenToldAndWeightGradientsStayTheSame) {
  // A training step discards dLoss/dInput, so it runs forward with input_grad = false and the first layer
  // skips that product. The weight gradients must be exactly those of a backward that computed it.
  std::vector<std::pair<std::string, std::function<LayerPtr()>>> firsts = {
      {"Dense", [] { return layers::Dense(4, {.activation = "tanh"}); }},
      {"Conv1D", [] { return layers::Conv1D(3, 2, {.padding = "same", .activation = "relu"}); }},
      {"GRU", [] { return layers::GRU(4, {.return_sequences = true}); }},
      {"LSTM with input dropout", [] { return layers::LSTM(4, {.dropout = 0.3f, .return_sequences = true}); }},
      {"Bidirectional", [] {
         return layers::Bidirectional(layers::LSTM(3, {.return_sequences = true}),
                                      {.backward_layer = layers::GRU(2, {.return_sequences = true, .go_backwards = true})});
       }},
      {"TimeDistributed", [] { return layers::TimeDistributed(layers::Dense(3)); }},
  };
  for (auto& [what, make] : firsts) {
    SCOPED_TRACE(what);
    std::vector<std::vector<float>> grads[2];
    Tensor dx[2];
    for (int wanted = 0; wanted < 2; ++wanted) {
      set_random_seed(5);
      auto in = Input({6, 3});
      auto out = in | make() | layers::Flatten() | layers::Dense(2);
      Model model(in, out);
      Tensor x = random_tensor({4, 6, 3}, 11);
      Tensor y = model.forward(x, {.training = true, .input_grad = wanted == 1});
      model.zero_grads();
      dx[wanted] = model.backward(random_tensor(y.shape(), 12));
      for (Param* p : model.params()) grads[wanted].emplace_back(p->grad.data(), p->grad.data() + p->grad.size());
    }
    EXPECT_TRUE(dx[0].empty()) << "input_grad = false: no input gradient";
    EXPECT_EQ(dx[1].shape(), (Shape{4, 6, 3})) << "input_grad = true: the input gradient";
    ASSERT_EQ(grads[0].size(), grads[1].size());
    for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_EQ(grads[0][i], grads[1][i]) << "param " << i;
  }
}

TEST(Config, AnUnknownLayerKeyIsAnErrorNamingKeyAndLayer) {
  // Keras raises on an unknown argument; ignoring a typo would silently build another model.
  const std::string config = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 2], "name": "x"}},
    {"class_name": "LSTM", "config": {"name": "encoder", "units": 4, "return_sequencse": true}}]}})";
  try {
    model_from_json(config);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'encoder' (LSTM)"), std::string::npos) << m;
    EXPECT_NE(m.find("unknown config key 'return_sequencse' = true"), std::string::npos) << m;
  }
  // Keys Keras writes that change nothing here still load: Keras 2's implementation, a null quantization_config.
  const std::string keras_extras = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 2], "name": "x"}},
    {"class_name": "LSTM", "config": {"name": "encoder", "units": 4, "implementation": 2, "unroll": false}},
    {"class_name": "Dense", "config": {"name": "d", "units": 1, "quantization_config": null}}]}})";
  EXPECT_NO_THROW(model_from_json(keras_extras));
  // ... but not with a value that would change the model.
  std::string quantized = keras_extras;
  quantized.replace(quantized.find("\"quantization_config\": null"), 27, "\"quantization_config\": {\"mode\": \"int8\"}");
  try {
    model_from_json(quantized);
    ADD_FAILURE() << "a quantized Dense was read as a plain one";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown config key 'quantization_config'"), std::string::npos) << e.what();
  }
}
