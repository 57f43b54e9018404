// Recurrent layers against real Keras 3 (tests/fixtures/rnn.json, made by make_rnn_fixtures.py): each
// case is built from Keras's own config through layer_from_config, given Keras's weights, and must
// match Keras's output, input gradient and weight gradients.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "fixtures.h"
#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;

namespace {
Shape shape_of(const nlohmann::json& j) { return j.get<Shape>(); }

// The keys of a config, recursively (values ignored), to compare with Keras's.
std::set<std::string> keys_of(const nlohmann::json& c, const std::string& prefix = "") {
  std::set<std::string> out;
  for (auto it = c.begin(); it != c.end(); ++it) {
    out.insert(prefix + it.key());
    if ((it.key() == "layer" || it.key() == "backward_layer") && it->is_object() && it->contains("config"))
      for (const auto& k : keys_of((*it)["config"], prefix + it.key() + "."))
        if (k.find("build_config") == std::string::npos) out.insert(k);
  }
  out.erase(prefix + "build_config");
  out.erase(prefix + "layer.quantization_config");  // Dense's key (Keras 3.15), not a recurrent one
  return out;
}
}  // namespace

TEST(RecurrentKeras, FixturesMatchKeras) {
  nlohmann::json fx = load_fixture("rnn.json");
  ASSERT_GE(fx["cases"].size(), 40u);
  for (const auto& c : fx["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    LayerPtr layer = layer_from_config(c["class_name"], c["config"]);
    Shape in_shape = shape_of(c["input_shape"]);
    Shape build_shape = in_shape;
    build_shape[0] = -1;
    Rng rng(1);
    Shape out_shape = layer->build(build_shape, rng);
    Shape want_out = shape_of(c["output_shape"]);
    want_out[0] = -1;
    EXPECT_EQ(out_shape, want_out);

    auto params = layer->params();
    ASSERT_EQ(params.size(), c["weights"].size());
    for (size_t k = 0; k < params.size(); ++k) {
      const auto& w = c["weights"][k];
      ASSERT_EQ(params[k]->value.shape(), shape_of(w["shape"])) << "weight " << k;
      params[k]->value = tensor_from_json(w["values"], shape_of(w["shape"]));
      params[k]->grad.fill(0.0f);
    }
    Tensor x = tensor_from_json(c["input"], in_shape);
    Tensor mask;
    RunContext ctx;
    if (!c["mask"].is_null()) {
      mask = tensor_from_json(c["mask"], {in_shape[0], in_shape[1]});
      ctx.mask = &mask;
    }
    Tensor y = layer->call(x, ctx);
    expect_tensor_near(y, tensor_from_json(c["output"], shape_of(c["output_shape"])), 1e-5, name + " output");

    Tensor dx = layer->backward(tensor_from_json(c["out_weights"], y.shape()));
    expect_tensor_near(dx, tensor_from_json(c["grad_input"], in_shape), 1e-4, name + " input gradient");
    for (size_t k = 0; k < params.size(); ++k)
      expect_tensor_near(params[k]->grad, tensor_from_json(c["grad_weights"][k], params[k]->value.shape()), 1e-4,
                         name + " gradient of " + params[k]->name);

    // Our config has Keras's keys.
    EXPECT_EQ(keys_of(layer->get_config()), keys_of(c["config"]));
  }
}

// Whole Keras models in which a mask flows from layer to layer (tests/fixtures/rnn_masking.json):
// Masking -> LSTM(return_sequences) -> LSTM, Masking -> GRU -> GlobalAveragePooling1D -> Dense,
// Embedding(mask_zero) -> Bidirectional(return_sequences) -> GlobalAveragePooling1D, ... Each model is
// read from Keras's own model.to_json(), given Keras's weights, and must match its output and gradients.
TEST(RecurrentKeras, MaskFlowsThroughModelsAsInKeras) {
  nlohmann::json fx = load_fixture("rnn_masking.json");
  ASSERT_GE(fx["cases"].size(), 5u);
  for (const auto& c : fx["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    auto model = model_from_json(c["model_json"].get<std::string>());
    auto params = model->params();
    ASSERT_EQ(params.size(), c["weights"].size());
    for (size_t k = 0; k < params.size(); ++k) {
      const auto& w = c["weights"][k];
      ASSERT_EQ(params[k]->value.shape(), shape_of(w["shape"])) << "weight " << k;
      params[k]->value = tensor_from_json(w["values"], shape_of(w["shape"]));
    }
    Shape in_shape = shape_of(c["input_shape"]);
    Tensor x = tensor_from_json(c["input"], in_shape);
    if (c["int_input"].get<bool>()) {
      std::vector<int32_t> ids(size_t(x.size()));
      for (int64_t i = 0; i < x.size(); ++i) ids[size_t(i)] = int32_t(x[i]);
      x = Tensor::ints(in_shape, ids);
    }
    Tensor y = model->forward(x, {.training = true});
    expect_tensor_near(y, tensor_from_json(c["output"], shape_of(c["output_shape"])), 1e-5, name + " output");
    model->zero_grads();
    Tensor dx = model->backward(tensor_from_json(c["out_weights"], y.shape()));
    if (!c["grad_input"].is_null())
      expect_tensor_near(dx, tensor_from_json(c["grad_input"], in_shape), 1e-4, name + " input gradient");
    for (size_t k = 0; k < params.size(); ++k)
      expect_tensor_near(params[k]->grad, tensor_from_json(c["grad_weights"][k], params[k]->value.shape()), 1e-4,
                         name + " gradient of " + params[k]->name);
  }
}
