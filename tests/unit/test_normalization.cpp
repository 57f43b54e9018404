// Normalization (keras.layers.Normalization): forward by hand (its gradients: test_layer_harness.cpp), adapt()
// as numpy computes it, and Keras parity both ways from fixtures made by real Keras
// (tests/fixtures/make_normalization_fixture.py): an adapted layer whose statistics are weights, one with
// them in its config, and the inverse.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "fixtures.h"
#include "gradcheck.h"
#include "io/hdf5_file.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;
namespace fs = std::filesystem;

namespace {

const Json& fixture() {
  static const Json j = load_fixture("model_files/normalization_predictions.json");
  return j;
}

Tensor tensor_of(const Json& values, const Json& shape) { return tensor_from_json(values, shape.get<Shape>()); }

std::string model_file(const std::string& name) { return std::string(SEQNET_FIXTURE_DIR) + "/model_files/" + name; }

}  // namespace

TEST(Normalization, ForwardAndInverseByHand) {
  NormalizationOptions o;
  o.mean = std::vector<float>{1.0f, -2.0f};
  o.variance = std::vector<float>{4.0f, 0.0f};  // a zero variance divides by epsilon, as in Keras
  Normalization n(o);
  Rng rng(1);
  n.build({-1, 1, 2}, rng);
  EXPECT_EQ(n.params().size(), 0u);  // statistics in the config: no weights
  RunContext ctx;
  Tensor y = n.call(Tensor({1, 1, 2}, std::vector<float>{5.0f, -2.0f}), ctx);
  EXPECT_FLOAT_EQ(y[0], 2.0f);
  EXPECT_FLOAT_EQ(y[1], 0.0f);
  o.invert = true;
  Normalization inv(o);
  inv.build({-1, 2}, rng);
  Tensor back = inv.call(Tensor({1, 2}, std::vector<float>{2.0f, 3.0f}), ctx);
  EXPECT_FLOAT_EQ(back[0], 5.0f);
  EXPECT_FLOAT_EQ(back[1], -2.0f + 3.0f * 1e-7f);
}

TEST(Normalization, AdaptIsNumpysMeanAndPopulationVariance) {
  Tensor x({2, 2, 2}, std::vector<float>{1, 10, 3, 10, 5, 20, 7, 40});
  Normalization n;
  n.adapt(x);
  EXPECT_EQ(n.mean(), (std::vector<float>{4.0f, 20.0f}));
  EXPECT_EQ(n.variance(), (std::vector<float>{5.0f, 150.0f}));
  ASSERT_EQ(n.params().size(), 3u);  // mean, variance, count: Keras's weights, non-trainable
  EXPECT_EQ(n.count_trainable_params(), 0);
  EXPECT_EQ(n.count_params(), 5);
  NormalizationOptions fixed;
  fixed.mean = std::vector<float>{0.0f};
  fixed.variance = std::vector<float>{1.0f};
  EXPECT_THROW(Normalization(fixed).adapt(x), Error);
}

// Keras -> seqnet: the same predictions from raw inputs, from .keras and from legacy .h5.
TEST(Normalization, KerasModelsPredictTheSame) {
  for (const char* name : {"normalization_gru", "normalization_meanvar"}) {
    const Json& m = fixture()["models"][name];
    const Tensor x = tensor_of(m["x"], m["x_shape"]);
    const Tensor want = tensor_of(m["pred"], m["pred_shape"]);
    for (const char* ext : {".keras", ".h5"}) {
      auto model = load_model(model_file(std::string(name) + ext), /*compile=*/false);
      expect_tensor_near(model->predict(x), want, 1e-5, std::string(name) + ext);
      auto* norm = dynamic_cast<Normalization*>(model->layers().front().get());
      ASSERT_NE(norm, nullptr);
      RunContext ctx;
      expect_tensor_near(norm->call(x, ctx), tensor_of(m["normalized"], m["x_shape"]), 1e-5, "the layer alone");
      for (size_t j = 0; j < 3; ++j) {
        EXPECT_FLOAT_EQ(norm->mean()[j], m["mean"][j].get<float>());
        EXPECT_FLOAT_EQ(norm->variance()[j], m["variance"][j].get<float>());
      }
    }
  }
  const Json& inv = fixture()["invert"];
  auto layer = model_from_json(Json{{"class_name", "Sequential"},
                                    {"config", {{"name", "s"}, {"layers", Json::array({
                                        Json{{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 3}}, {"name", "in"}}}},
                                        Json{{"class_name", "Normalization"}, {"config", inv["config"]}}})}}}}.dump());
  expect_tensor_near(layer->predict(tensor_of(inv["x"], Json::array({3, 3}))), tensor_of(inv["y"], Json::array({3, 3})), 1e-4,
                     "invert");
}

// seqnet -> Keras: the saved layer has Keras's config and Keras's weights where Keras reads them (count as
// int32); with SEQNET_EXPORT_DIR set, the files and their expected predictions are left there for
// make_normalization_fixture.py --check-seqnet.
TEST(Normalization, SavedAsKerasSavesIt) {
  const fs::path dir = fs::temp_directory_path() / ("seqnet_norm_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Json& m = fixture()["models"]["normalization_gru"];
  const Tensor x = tensor_of(m["x"], m["x_shape"]);
  auto model = load_model(model_file("normalization_gru.keras"), /*compile=*/false);
  const Tensor want = model->predict(x);
  model->save((dir / "normalization_gru.keras").string());
  model->save((dir / "normalization_gru.h5").string());
  for (const char* ext : {".keras", ".h5"}) {
    auto back = load_model((dir / (std::string("normalization_gru") + ext)).string(), false);
    expect_tensor_near(back->predict(x), want, 0.0, ext);
  }
  const Json config = Json::parse(model->to_json())["config"]["layers"][1]["config"];
  EXPECT_EQ(config["axis"], Json::array({-1}));
  EXPECT_TRUE(config["mean"].is_null());
  EXPECT_EQ(config["invert"], false);
  if (const char* out = std::getenv("SEQNET_EXPORT_DIR")) {
    fs::create_directories(out);
    fs::copy_file(dir / "normalization_gru.keras", fs::path(out) / "normalization_gru.keras",
                  fs::copy_options::overwrite_existing);
    std::ofstream(fs::path(out) / "normalization_gru.expected.json") << Json{{"x", m["x"]}, {"y", m["pred"]}}.dump();
    // Statistics in the config, as seqnet train puts them at a forecaster's input.
    const Json& c = fixture()["models"]["normalization_meanvar"];
    load_model(model_file("normalization_meanvar.keras"), false)->save((fs::path(out) / "normalization_meanvar.keras").string());
    std::ofstream(fs::path(out) / "normalization_meanvar.expected.json") << Json{{"x", c["x"]}, {"y", c["pred"]}}.dump();
  }
  fs::remove_all(dir);
}
