// Layer graphs (Keras's functional models): Keras-made fixtures of non-chain models (tests/fixtures/
// make_graph_fixtures.py) loaded from .keras and .h5 and run forward and backward; gradients through fan-out,
// shared layers and recurrent states; configs read and written; fit with several inputs and outputs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fmt/format.h>

#include "fixtures.h"
#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;
namespace fs = std::filesystem;

namespace {

const char* kGraphModels[] = {"enc_dec_states", "residual_conv", "two_input",   "two_output", "shared_embedding",
                              "merges",         "addition_rnn",  "shared_lstm", "nested",     "bidirectional_states"};

// Central differences of `loss` at about `samples` evenly spaced elements of v (n values) against `analytic`.
void expect_gradient_matches(const std::function<double()>& loss, float* v, int64_t n, const Tensor& analytic,
                             const std::string& what, int64_t samples) {
  for (int64_t i = 0; i < n; i += std::max<int64_t>(1, n / samples)) {
    const float keep = v[i];
    v[i] = keep + 1e-3f;
    const double up = loss();
    v[i] = keep - 1e-3f;
    const double down = loss();
    v[i] = keep;
    const double numeric = (up - down) / 2e-3;
    EXPECT_NEAR(analytic[i], numeric, 2e-3 + 2e-2 * std::abs(numeric)) << what << " element " << i;
  }
}

// A layer by name, in the model or in a model nested in it.
LayerPtr find_layer(const Model& m, const std::string& name) {
  for (const auto& l : m.layers()) {
    if (l->name() == name) return l;
    if (auto* nested = dynamic_cast<NestedModel*>(l.get()))
      if (LayerPtr inner = find_layer(*nested->model(), name)) return inner;
  }
  return nullptr;
}

Tensor fixture_tensor(const nlohmann::json& t) {
  Shape shape = t.at("shape").get<Shape>();
  if (t.value("dtype", std::string("float32")) == "int32") {
    std::vector<int32_t> ids;
    for (const auto& v : t.at("data")) ids.push_back(int32_t(v.get<double>()));
    return Tensor(shape, std::move(ids));
  }
  return tensor_from_json(t.at("data"), shape);
}

std::vector<Tensor> fixture_list(const nlohmann::json& list) {
  std::vector<Tensor> out;
  for (const auto& t : list) out.push_back(fixture_tensor(t));
  return out;
}

std::string model_file(const std::string& name, const std::string& ext) {
  return std::string(SEQNET_FIXTURE_DIR) + "/model_files/graph_" + name + ext;
}

// Predictions and the gradients of sum_k sum(cotangent_k * output_k) w.r.t. every weight, as Keras computed them.
void expect_like_keras(Model& m, const nlohmann::json& f, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(m.input_names(), f.at("input_names").get<std::vector<std::string>>());
  ASSERT_EQ(m.output_names(), f.at("output_names").get<std::vector<std::string>>());
  std::vector<Tensor> x = fixture_list(f.at("inputs")), want = fixture_list(f.at("outputs"));
  std::vector<Tensor> got = m.predict(x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) expect_tensor_near(got[k], want[k], 1e-5, "output " + std::to_string(k));
  m.zero_grads();
  m.forward(x, {.training = false});
  m.backward(fixture_list(f.at("cotangents")));
  int checked = 0;
  for (const auto& [key, g] : f.at("grads").items()) {
    const auto slash = key.find('/');
    LayerPtr layer = find_layer(m, key.substr(0, slash));
    ASSERT_NE(layer, nullptr) << key;
    Param* p = layer->find_param(key.substr(slash + 1));
    if (auto* bi = dynamic_cast<Bidirectional*>(layer.get())) {  // "encoder/forward_lstm/lstm_cell/kernel" (a path)
      const std::string rest = key.substr(slash + 1), sub = rest.substr(0, rest.find('/'));
      RNN& direction = bi->forward_layer().name() == sub ? bi->forward_layer() : bi->backward_layer();
      EXPECT_EQ(direction.name(), sub) << key;
      p = direction.find_param(rest.substr(rest.rfind('/') + 1));
    }
    ASSERT_NE(p, nullptr) << key;
    expect_tensor_near(p->grad, fixture_tensor(g), 1e-5, "gradient of " + key);
    ++checked;
  }
  EXPECT_EQ(checked, int(m.trainable_params().size())) << "every trainable weight has a Keras gradient";
}

}  // namespace

TEST(GraphKerasFixtures, EveryModelPredictsAndBackpropagatesAsKeras) {
  const auto fixtures = load_fixture("model_files/graph_predictions.json");
  for (const char* name : kGraphModels)
    for (const char* ext : {".keras", ".h5"}) {
      std::unique_ptr<Model> m;
      ASSERT_NO_THROW(m = load_model(model_file(name, ext))) << name << ext;
      expect_like_keras(*m, fixtures.at(name), std::string(name) + ext);
    }
}

// seqnet's own files of the same models: read back by seqnet (here) and by Keras
// (`make_graph_fixtures.py --check-seqnet DIR` with the files this test leaves in SEQNET_EXPORT_DIR).
TEST(GraphKerasFixtures, SeqnetWritesGraphFilesItReadsBack) {
  const auto fixtures = load_fixture("model_files/graph_predictions.json");
  const char* env = std::getenv("SEQNET_EXPORT_DIR");
  const fs::path dir = env ? fs::path(env) : temp_dir("graph_files");
  fs::create_directories(dir);
  for (const char* name : kGraphModels) {
    auto m = load_model(model_file(name, ".keras"));
    for (const char* ext : {".keras", ".h5"}) {
      const std::string path = (dir / (std::string("graph_") + name + ext)).string();
      m->save(path);
      auto back = load_model(path);
      expect_like_keras(*back, fixtures.at(name), std::string("seqnet's ") + name + ext);
      EXPECT_EQ(back->to_json(), m->to_json()) << name << ext;
    }
  }
  if (!env) fs::remove_all(dir);
}

// ---- Building graphs in C++ ----

TEST(Graph, SharedLayerCallsKeepTheirOwnActivationsAndSumGradients) {
  clear_session();
  auto a = Input({5, 3}, {.name = "a"}), b = Input({5, 3}, {.name = "b"});
  auto lstm = layers::LSTM(4);
  auto sum = apply_layer(layers::Add(), {apply_layer(lstm, a), apply_layer(lstm, b)});
  auto out = apply_layer(layers::Dense(1), sum);
  Model m({a, b}, {out});
  EXPECT_EQ(m.layers().size(), 3u);  // the LSTM once
  EXPECT_EQ(m.count_params(), lstm->count_params() + 5);
  Tensor xa = random_tensor({2, 5, 3}, 1), xb = random_tensor({2, 5, 3}, 2);
  m.zero_grads();
  m.forward({xa, xb}, {.training = false});
  m.backward({Tensor::full({2, 1}, 1.0f)});
  Tensor g = lstm->params()[0]->grad;
  // The kernel gradient is the sum of the two calls' gradients: run each alone through a one-input model.
  auto x1 = Input({5, 3});
  auto dense = m.get_layer(m.layers()[2]->name());
  Model alone({x1}, {apply_layer(dense, apply_layer(lstm, x1))});
  m.zero_grads();
  alone.forward(xa);
  alone.backward(Tensor::full({2, 1}, 1.0f));
  Tensor ga = lstm->params()[0]->grad;
  m.zero_grads();
  alone.forward(xb);
  alone.backward(Tensor::full({2, 1}, 1.0f));
  Tensor gb = lstm->params()[0]->grad;
  for (int64_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], ga[i] + gb[i], 1e-5) << i;
}

// Finite differences through the whole graph: fan-out (one tensor read by three layers), a shared Dense,
// an encoder's states as a decoder's initial_state, Concatenate and RepeatVector.
TEST(Graph, GradientsThroughFanOutSharedLayersAndStates) {
  clear_session();
  auto enc_in = Input({4, 3}, {.name = "enc"}), dec_in = Input({3, 2}, {.name = "dec"});
  auto enc = call_layer(layers::LSTM(5, {.return_state = true}), enc_in);
  auto dec = call_layer(layers::LSTM(5, {.return_sequences = true}), dec_in, {.initial_state = {enc[1], enc[2]}});
  auto shared = layers::Dense(5, {.activation = "tanh"});
  auto h = apply_layer(shared, enc[0]);  // fan-out: enc[0] feeds the Dense and the RepeatVector
  auto rep = apply_layer(layers::RepeatVector(3), enc[0]);
  auto joined = apply_layer(layers::Concatenate(), {dec[0], rep, apply_layer(layers::RepeatVector(3), apply_layer(shared, h))});
  auto out = apply_layer(layers::Dense(2), joined);
  Model m({enc_in, dec_in}, {out, h});
  std::vector<Tensor> x{random_tensor({2, 4, 3}, 5), random_tensor({2, 3, 2}, 6)};
  std::vector<Tensor> w{random_tensor({2, 3, 2}, 7), random_tensor({2, 5}, 8)};
  auto loss = [&]() {
    auto y = m.forward(x, {.training = false});
    double l = 0;
    for (size_t k = 0; k < y.size(); ++k)
      for (int64_t i = 0; i < y[k].size(); ++i) l += double(w[k][i]) * y[k][i];
    return l;
  };
  m.zero_grads();
  loss();
  std::vector<Tensor> dx = m.backward(w);
  auto check = [&](float* v, int64_t n, const Tensor& analytic, const std::string& what) {
    expect_gradient_matches(loss, v, n, analytic, what, 16);
  };
  check(x[0].data(), x[0].size(), dx[0], "encoder input");
  check(x[1].data(), x[1].size(), dx[1], "decoder input");
  for (Param* p : m.trainable_params()) {
    Tensor analytic = p->grad;
    check(p->value.data(), p->value.size(), analytic, p->name);
  }
}

TEST(Graph, SummaryHasKerasConnectedToColumn) {
  clear_session();
  auto text = Input({10}, {.dtype = DType::int32, .name = "text"}), numbers = Input({3}, {.name = "numbers"});
  auto t = apply_layer(layers::LSTM(5), apply_layer(layers::Embedding(20, 4), text));
  auto n = apply_layer(layers::Dense(4), numbers);
  auto out = apply_layer(layers::Dense(1, {.activation = "sigmoid"}), apply_layer(layers::Concatenate(), {t, n}));
  Model m({text, numbers}, {out}, "two_inputs");
  const std::string s = m.summary_string();
  EXPECT_NE(s.find("Connected to"), std::string::npos) << s;
  EXPECT_NE(s.find("lstm[0][0], dense[0][0]"), std::string::npos) << s;
  EXPECT_NE(s.find("text[0][0]"), std::string::npos) << s;
  // Keras's order: by depth from the inputs, so text's branch and numbers' interleave.
  std::vector<std::string> names;
  for (const auto& l : m.layers()) names.push_back(l->name());
  EXPECT_EQ(names, (std::vector<std::string>{"embedding", "lstm", "dense", "concatenate", "dense_1"}));
}

TEST(Graph, FitWithTwoInputsAndTwoOutputsLogsKerasNames) {
  clear_session();
  set_random_seed(3);
  auto a = Input({6}, {.name = "a"}), b = Input({4, 2}, {.name = "b"});
  auto h = apply_layer(layers::Concatenate(), {apply_layer(layers::Dense(8, {.activation = "relu"}), a),
                                               apply_layer(layers::GRU(8), b)});
  auto price = apply_layer(layers::Dense(1, {.name = "price"}), h);
  auto kind = apply_layer(layers::Dense(3, {.activation = "softmax", .name = "kind"}), h);
  Model m({a, b}, {price, kind});
  m.compile({.optimizer = "adam",
             .losses = {"mse", "categorical_crossentropy"},
             .loss_weights = {0.5, 1.0},
             .metrics_per_output = {{"mae"}, {"accuracy"}}});
  const int64_t n = 64;
  Tensor xa = random_tensor({n, 6}, 1), xb = random_tensor({n, 4, 2}, 2), yp({n, 1}), yk({n, 3});
  for (int64_t i = 0; i < n; ++i) {
    yp[i] = xa[i * 6] + xb[i * 8];
    yk[i * 3 + (xa[i * 6 + 1] > 0 ? 0 : 2)] = 1.0f;
  }
  History h1 = m.fit(Arrays({xa, xb}, {yp, yk}), {.batch_size = 16, .epochs = 8, .verbose = 0, .validation_split = 0.25f});
  for (const char* key : {"loss", "price_loss", "kind_loss", "price_mae", "kind_accuracy", "val_loss", "val_price_loss",
                          "val_kind_accuracy"})
    EXPECT_TRUE(h1.contains(key)) << key;
  const auto& loss = h1["loss"];
  EXPECT_LT(loss.back(), loss.front());
  // The total is the weighted sum of the outputs' losses.
  Logs e = m.evaluate(Arrays({xa, xb}, {yp, yk}));
  EXPECT_NEAR(*e.get("loss"), 0.5 * *e.get("price_loss") + *e.get("kind_loss"), 1e-5);
  EXPECT_EQ(m.predict({xa, xb}).size(), 2u);
  EXPECT_NE(error_of([&] { m.fit(Arrays({xa}, {yp, yk})); }).find("takes 2 inputs (a, b), got 1"), std::string::npos);
}

// ---- Configs: what was misread before is read as Keras means it; what seqnet lacks is an error ----

TEST(GraphConfigs, OutputIndexAndInitialStateAreHonoured) {
  auto functional = [](const std::string& dense_input, const std::string& extra_layers = "") {
    return fmt::format(R"({{"module": "keras", "class_name": "Functional", "config": {{"name": "m",
      "layers": [
        {{"class_name": "InputLayer", "name": "x", "config": {{"batch_shape": [null, 10, 2], "dtype": "float32", "name": "x"}}, "inbound_nodes": []}},
        {{"class_name": "LSTM", "name": "enc", "config": {{"name": "enc", "units": 3, "return_state": true}},
          "inbound_nodes": [{{"args": [{{"class_name": "__keras_tensor__", "config": {{"shape": [null, 10, 2], "dtype": "float32", "keras_history": ["x", 0, 0]}}}}], "kwargs": {{}}}}]}},
        {}
        {{"class_name": "Dense", "name": "d", "config": {{"name": "d", "units": 1}},
          "inbound_nodes": [{}]}}],
      "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]]}}}})",
                       extra_layers, dense_input);
  };
  const std::string enc_h =
      R"({"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32", "keras_history": ["enc", 0, 1]}}], "kwargs": {}})";
  auto m = model_from_json(functional(enc_h));
  EXPECT_EQ(m->output_shape(), (Shape{-1, 1}));  // Keras: (None, 1); the state h, not the sequence
  const std::string decoder = R"({"class_name": "LSTM", "name": "dec", "config": {"name": "dec", "units": 3, "return_sequences": true},
      "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 10, 2], "dtype": "float32", "keras_history": ["x", 0, 0]}}],
        "kwargs": {"initial_state": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "keras_history": ["enc", 0, 1]}},
                                     {"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "keras_history": ["enc", 0, 2]}}]}}]},)";
  const std::string dec_out =
      R"({"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 10, 3], "dtype": "float32", "keras_history": ["dec", 0, 0]}}], "kwargs": {}})";
  auto ed = model_from_json(functional(dec_out, decoder));
  EXPECT_EQ(ed->count_params(), 2 * (4 * 3 * (2 + 3 + 1)) + 4);  // both LSTMs: the encoder is not dropped
  EXPECT_EQ(ed->output_shape(), (Shape{-1, 10, 1}));
  // Call arguments seqnet does not implement are errors naming them.
  const std::string with_constants =
      R"({"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 10, 3], "dtype": "float32", "keras_history": ["enc", 0, 0]}}], "kwargs": {"constants": [1]}})";
  EXPECT_NE(error_of([&] { model_from_json(functional(with_constants)); }).find("layer 'd' is called with constants"),
            std::string::npos);
  const std::string from_nowhere =
      R"({"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32", "keras_history": ["enc", 0, 7]}}], "kwargs": {}})";
  EXPECT_NE(error_of([&] { model_from_json(functional(from_nowhere)); }).find("reads tensor enc[0][7]"), std::string::npos);
}

// Every field of a config is honoured or refused by name: a model never loads as another one.
TEST(GraphConfigs, EveryUnsupportedFieldIsAnErrorNamingIt) {
  auto model = [](const std::string& input_extra, const std::string& dense_kwargs, const std::string& model_extra,
                  const std::string& dense_extra = "") {
    return fmt::format(R"({{"class_name": "Functional", "config": {{"name": "m", {}
      "layers": [
        {{"class_name": "InputLayer", "name": "x", "config": {{"batch_shape": [null, 4], "dtype": "float32", "name": "x" {}}}, "inbound_nodes": []}},
        {{"class_name": "Dense", "name": "d", "config": {{"name": "d", "units": 2 {}}},
          "inbound_nodes": [{{"args": [{{"class_name": "__keras_tensor__", "config": {{"shape": [null, 4], "dtype": "float32", "keras_history": ["x", 0, 0]}}}}], "kwargs": {{{}}}}}]}}],
      "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]]}}}})",
                       model_extra, input_extra, dense_extra, dense_kwargs);
  };
  EXPECT_NO_THROW(model_from_json(model("", "", "")));
  EXPECT_NO_THROW(model_from_json(model(R"(, "sparse": false, "ragged": false)", R"("training": false, "mask": null)", "")));
  const std::string tensor = R"({"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "keras_history": ["x", 0, 0]}})";
  const std::pair<std::string, std::string> cases[] = {
      {model(R"(, "sparse": true)", "", ""), "InputLayer 'x': sparse = true is not supported"},
      {model(R"(, "ragged": true)", "", ""), "InputLayer 'x': ragged = true is not supported"},
      {model("", R"("mask": )" + tensor, ""), "layer 'd' is called with mask"},
      {model("", R"("constants": [1])", ""), "layer 'd' is called with constants"},
      {model("", "", R"("sharded": true,)"), "has key 'sharded'"},
      {model("", "", "", R"(, "kernel_regularizer": {"class_name": "L2"})"), "option 'kernel_regularizer' = {\"class_name\":\"L2\"} is not supported"},
  };
  for (const auto& [text, want] : cases) {
    const std::string e = error_of([&] { model_from_json(text); });
    EXPECT_NE(e.find(want), std::string::npos) << want << " | got: " << e;
  }
  // Two positional arguments (Keras 3 writes extra call arguments after the input).
  const std::string two_args = R"({"class_name": "Functional", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "name": "x", "config": {"batch_shape": [null, 3, 4], "dtype": "float32", "name": "x"}, "inbound_nodes": []},
      {"class_name": "LSTM", "name": "l", "config": {"name": "l", "units": 2},
        "inbound_nodes": [{"args": [)" + tensor + ", " + tensor + R"(], "kwargs": {}}]}],
      "input_layers": [["x", 0, 0]], "output_layers": [["l", 0, 0]]}})";
  EXPECT_NE(error_of([&] { model_from_json(two_args); }).find("called with 2 positional arguments"), std::string::npos);
  // A nested model's own fields are checked too, and its errors name it.
  const std::string nested = R"({"class_name": "Functional", "config": {"name": "outer", "layers": [
      {"class_name": "InputLayer", "name": "x", "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "x"}, "inbound_nodes": []},
      {"class_name": "Functional", "name": "inner", "config": {"name": "inner", "layers": [], "foo": 1},
        "inbound_nodes": [{"args": [)" + tensor + R"(], "kwargs": {}}]}],
      "input_layers": [["x", 0, 0]], "output_layers": [["inner", 0, 0]]}})";
  EXPECT_NE(error_of([&] { model_from_json(nested); }).find("nested model 'inner' (Functional): the Functional model config has key 'foo'"),
            std::string::npos)
      << error_of([&] { model_from_json(nested); });
  // model.trainable = False freezes every layer, as in Keras.
  auto frozen = model_from_json(model("", "", R"("trainable": false,)"));
  EXPECT_EQ(frozen->count_trainable_params(), 0);
}

// The table Keras 3.15.1 prints for the same file (model.summary() at 76 columns, as in a pipe), copied from it.
TEST(Graph, SummaryTableIsKerasOwn) {
  auto m = load_model(model_file("enc_dec_states", ".keras"));
  const std::string keras = R"(┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ encoder_inputs      │ (None, 5, 3)      │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ decoder_inputs      │ (None, 6, 2)      │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ encoder (LSTM)      │ [(None, 4),       │        128 │ encoder_inputs[0… │
│                     │ (None, 4), (None, │            │                   │
│                     │ 4)]               │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ decoder (LSTM)      │ (None, 6, 4)      │        112 │ decoder_inputs[0… │
│                     │                   │            │ encoder[0][1],    │
│                     │                   │            │ encoder[0][2]     │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ next_token (Dense)  │ (None, 6, 3)      │         15 │ decoder[0][0]     │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
)";
  const std::string s = m->summary_string(76);
  EXPECT_NE(s.find(keras), std::string::npos) << s;
}

// A model inside a model: frozen inner layers stay frozen, and a C++-built nested model trains.
TEST(Graph, NestedModelsKeepTheirLayersTrainableFlags) {
  auto m = load_model(model_file("nested", ".keras"));
  const int64_t all = m->count_trainable_params();
  find_layer(*m, "inner_lstm")->set_trainable(false);
  EXPECT_EQ(m->count_trainable_params(), all - find_layer(*m, "inner_lstm")->count_params());
  for (Param* p : m->trainable_params()) EXPECT_NE(p, find_layer(*m, "inner_lstm")->params()[0]);

  clear_session();
  auto inner_in = Input({4});
  auto inner = std::make_shared<Model>(inner_in, apply_layer(layers::Dense(3, {.activation = "tanh"}), inner_in), "block");
  auto x = Input({4});
  Model outer(x, apply_layer(layers::Dense(1), apply_layer(as_layer(inner), x)));
  EXPECT_EQ(outer.count_params(), inner->count_params() + 4);
  outer.compile({.optimizer = "adam", .loss = "mse"});
  Tensor xs = random_tensor({64, 4}, 1), ys({64, 1});
  for (int64_t i = 0; i < 64; ++i) ys[i] = xs[i * 4] * 0.5f;
  History h = outer.fit(xs, ys, {.batch_size = 16, .epochs = 20, .verbose = 0});
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  auto back = model_from_json(outer.to_json());
  EXPECT_EQ(back->count_params(), outer.count_params());
}

// Keras 2 (tf.keras) writes a call's inputs as [["layer", node, tensor, {kwargs}], ...]: a merge's list, and a
// recurrent layer's initial states after its input.
TEST(GraphConfigs, Keras2NodeListsReadAsKeras3Calls) {
  const std::string keras2 = R"({"class_name": "Functional", "keras_version": "2.15.0", "config": {"name": "k2",
    "layers": [
      {"class_name": "InputLayer", "name": "a", "config": {"batch_input_shape": [null, 5, 3], "dtype": "float32", "name": "a"}, "inbound_nodes": []},
      {"class_name": "InputLayer", "name": "b", "config": {"batch_input_shape": [null, 5, 3], "dtype": "float32", "name": "b"}, "inbound_nodes": []},
      {"class_name": "LSTM", "name": "enc", "config": {"name": "enc", "units": 4, "return_state": true}, "inbound_nodes": [[["a", 0, 0, {}]]]},
      {"class_name": "LSTM", "name": "dec", "config": {"name": "dec", "units": 4},
       "inbound_nodes": [[["b", 0, 0, {}], ["enc", 0, 1, {}], ["enc", 0, 2, {}]]]},
      {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["enc", 0, 0, {}], ["dec", 0, 0, {}]]]},
      {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 1}, "inbound_nodes": [[["add", 0, 0, {}]]]}],
    "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["out", 0, 0]]}})";
  auto m = model_from_json(keras2);
  EXPECT_EQ(m->num_inputs(), 2u);
  EXPECT_EQ(m->output_shape(), (Shape{-1, 1}));
  EXPECT_EQ(m->count_params(), 2 * 4 * 4 * (3 + 4 + 1) + 5);
  // Written back as Keras 3 (initial_state as a call argument), it reads as the same model.
  const std::string k3 = m->to_json();
  EXPECT_NE(k3.find("\"initial_state\""), std::string::npos);
  auto back = model_from_json(k3);
  std::vector<Tensor> x{random_tensor({2, 5, 3}, 1), random_tensor({2, 5, 3}, 2)};
  m->set_weights(m->get_weights());
  back->set_weights(m->get_weights());
  expect_tensor_near(back->predict(x)[0], m->predict(x)[0], 0.0, "the same model");
}

// From a review of the graph: each of these once went wrong.
TEST(Graph, ReviewedCornerCases) {
  clear_session();
  // Only the backward direction's states of a Bidirectional reach the loss: the input still gets its gradient.
  {
    auto x = Input({4, 3});
    auto bi = call_layer(layers::Bidirectional(layers::LSTM(3, {.return_state = true})), x);  // [y, hf, cf, hb, cb]
    Model m({x}, {apply_layer(layers::Dense(1), bi[3])});
    Tensor in = random_tensor({2, 4, 3}, 3);
    m.zero_grads();
    m.forward(in);
    Tensor dx = m.backward(Tensor::full({2, 1}, 1.0f));
    ASSERT_EQ(dx.shape(), in.shape());
    for (int64_t i = 0; i < in.size(); i += 5) {
      Tensor up = in, down = in;
      up[i] += 1e-3f, down[i] -= 1e-3f;
      const double numeric = (m.predict(up)[0] + m.predict(up)[1] - m.predict(down)[0] - m.predict(down)[1]) / 2e-3;
      EXPECT_NEAR(dx[i], numeric, 2e-3 + 2e-2 * std::abs(numeric)) << i;
    }
  }
  // Concatenate checks the axes an unknown input shape left open.
  {
    auto a = Input({-1, 4}), b = Input({-1, 4});
    Model m({a, b}, {apply_layer(layers::Concatenate(), {a, b})});
    EXPECT_NE(error_of([&] { m.predict({random_tensor({2, 5, 4}, 1), random_tensor({2, 3, 4}, 2)}); })
                  .find("inputs must agree on every axis but axis -1"),
              std::string::npos);
  }
  // Merge masks as Keras 3: the OR when every input has one; Multiply refuses masked inputs.
  {
    auto ids = Input({5}, {.dtype = DType::int32});
    auto e1 = apply_layer(layers::Embedding(10, 3, {.mask_zero = true}), ids);
    auto e2 = apply_layer(layers::Embedding(10, 3, {.mask_zero = true}), ids);
    Model product(ids, apply_layer(layers::Multiply(), {e1, e2}));
    Tensor x = Tensor::ints({1, 5}, {1, 2, 0, 0, 3});
    EXPECT_NE(error_of([&] { product.predict(x); }).find("masked inputs are not supported"), std::string::npos);
    auto sum = apply_layer(layers::Add(), {e1, e2});
    auto seq = apply_layer(layers::LSTM(2, {.return_sequences = true}), sum);
    Model added(ids, seq);
    EXPECT_NO_THROW(added.predict(x));
  }
  // A frozen nested model stays frozen through its config.
  {
    auto i = Input({3});
    auto inner = std::make_shared<Model>(i, apply_layer(layers::Dense(2), i), "frozen_block");
    auto nested = as_layer(inner);
    nested->set_trainable(false);
    auto x = Input({3});
    Model outer(x, apply_layer(layers::Dense(1), apply_layer(nested, x)));
    EXPECT_EQ(outer.count_trainable_params(), 3);
    EXPECT_EQ(model_from_json(outer.to_json())->count_trainable_params(), 3);
  }
  // A layer built for a fixed length, called again on an unknown one, runs that call on a twin.
  {
    auto lstm = layers::LSTM(2);
    auto fixed = Input({6, 3});
    apply_layer(lstm, fixed);
    auto any = Input({-1, 3});
    Model m(any, apply_layer(lstm, any));
    EXPECT_EQ(m.predict(random_tensor({2, 9, 3}, 4)).shape(), (Shape{2, 2}));
  }
}

// Keras's siamese pattern: one model used as a layer on two inputs. Each call keeps its own activations (the
// second runs on a twin of the sub-model whose layers share the first's weights); the weights count once, their
// gradients are the sum of both calls' (finite differences), and the file round-trips.
TEST(Graph, SharedSubModelCalledTwiceSharesItsWeights) {
  clear_session();
  set_random_seed(3);
  auto in = Input({4, 3}, {.name = "seq"});
  auto encoder = std::make_shared<Model>(std::vector<SymbolicTensor>{in},
                                         std::vector<SymbolicTensor>{apply_layer(layers::Dense(2), apply_layer(layers::GRU(3), in))},
                                         "encoder");
  auto shared = as_layer(encoder);
  auto p = Input({4, 3}, {.name = "p"}), q = Input({4, 3}, {.name = "q"});
  auto joined = apply_layer(layers::Concatenate(), {apply_layer(shared, p), apply_layer(shared, q)});
  Model m({p, q}, {apply_layer(layers::Dense(1), joined)});
  EXPECT_EQ(m.count_params(), encoder->count_params() + 5);
  std::vector<Tensor> x{random_tensor({2, 4, 3}, 11), random_tensor({2, 4, 3}, 12)};
  // The two branches are the encoder itself on each input.
  Tensor y = m.forward(x, {.training = false})[0];
  Tensor ep = encoder->predict(x[0]), eq = encoder->predict(x[1]);
  const auto dense = m.layers().back();
  const Tensor& k = dense->params()[0]->value;
  const float b = dense->params()[1]->value[0];
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_NEAR(y[i], ep[i * 2] * k[0] + ep[i * 2 + 1] * k[1] + eq[i * 2] * k[2] + eq[i * 2 + 1] * k[3] + b, 1e-5);
  Tensor w = random_tensor({2, 1}, 13);
  auto loss = [&]() {
    Tensor out = m.forward(x, {.training = false})[0];
    double l = 0;
    for (int64_t i = 0; i < out.size(); ++i) l += double(w[i]) * out[i];
    return l;
  };
  m.zero_grads();
  loss();
  std::vector<Tensor> dx = m.backward(std::vector<Tensor>{w});
  auto check = [&](float* v, int64_t n, const Tensor& analytic, const std::string& what) {
    expect_gradient_matches(loss, v, n, analytic, what, 12);
  };
  check(x[0].data(), x[0].size(), dx[0], "p");
  check(x[1].data(), x[1].size(), dx[1], "q");
  for (Param* prm : m.trainable_params()) {
    Tensor analytic = prm->grad;
    check(prm->value.data(), prm->value.size(), analytic, prm->name);
  }
  // Written as Keras writes it (the sub-model once, called twice) and read back to the same predictions.
  const std::string path = (fs::temp_directory_path() / "seqnet_shared_submodel.keras").string();
  m.compile({.optimizer = "adam", .loss = "mse"});
  m.save(path);
  auto loaded = load_model(path);
  Tensor again = loaded->predict(x, 32)[0];
  for (int64_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(again[i], y[i]);
  fs::remove(path);
}
