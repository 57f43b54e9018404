// Losses and optimizers against values computed by Keras 3 (tests/fixtures/core_keras.json).
#include <gtest/gtest.h>

#include "fixtures.h"
#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;

namespace {
Shape shape_of(const nlohmann::json& j) { return j.get<Shape>(); }
}  // namespace

TEST(Optimizers, KerasGoldenSingleSteps) {
  // From Keras's own optimizer tests: var [1, 2, 3, 4], grad [1, 6, 7, 2].
  auto step = [](OptimizerPtr opt) {
    Param p{"w", Tensor({4}, std::vector<float>{1, 2, 3, 4}), Tensor({4}, std::vector<float>{1, 6, 7, 2})};
    opt->apply({&p});
    return p.value;
  };
  expect_tensor_near(step(optimizers::RMSprop({.learning_rate = 0.5f})), Tensor({4}, std::vector<float>{-0.5811f, 0.4189f, 1.4189f, 2.4189f}), 1e-4, "RMSprop");
  expect_tensor_near(step(optimizers::Adam({.learning_rate = 0.5f})), Tensor({4}, std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f}), 1e-4, "Adam");
}

TEST(Optimizers, MatchKerasOverFiveSteps) {
  auto fx = load_fixture("core_keras.json")["optimizers"];
  std::map<std::string, OptimizerPtr> cases = {
      {"sgd", optimizers::SGD({.learning_rate = 0.5f})},
      {"sgd_momentum", optimizers::SGD({.learning_rate = 0.1f, .momentum = 0.9f})},
      {"sgd_nesterov", optimizers::SGD({.learning_rate = 0.1f, .momentum = 0.9f, .nesterov = true})},
      {"rmsprop", optimizers::RMSprop({.learning_rate = 0.5f})},
      {"rmsprop_centered_momentum", optimizers::RMSprop({.learning_rate = 0.1f, .momentum = 0.5f, .centered = true})},
      {"adam", optimizers::Adam({.learning_rate = 0.5f})},
      {"adam_amsgrad", optimizers::Adam({.learning_rate = 0.1f, .amsgrad = true})},
      {"adamw", optimizers::AdamW({.learning_rate = 0.5f})},
      {"adagrad", optimizers::Adagrad({.learning_rate = 0.5f})},
      {"adam_clipnorm", optimizers::Adam({.learning_rate = 0.1f, .clip = {.clipnorm = 1.0f}})},
      {"sgd_clipvalue", optimizers::SGD({.learning_rate = 0.1f, .clip = {.clipvalue = 2.0f}})},
      {"sgd_global_clipnorm", optimizers::SGD({.learning_rate = 0.1f, .clip = {.global_clipnorm = 3.0f}})},
  };
  for (auto& [name, opt] : cases) {
    SCOPED_TRACE(name);
    const auto& c = fx.at(name);
    Param p{"w", Tensor({4}, std::vector<float>{1, 2, 3, 4}), Tensor({4})};
    for (size_t s = 0; s < c["grads"].size(); ++s) {
      p.grad = tensor_from_json(c["grads"][s], {4});
      opt->apply({&p});
      expect_tensor_near(p.value, tensor_from_json(c["values"][s], {4}), 2e-5, name + " step " + std::to_string(s + 1));
    }
    EXPECT_EQ(opt->iterations(), 5);
  }
}

TEST(Optimizers, OnlyOneClipAtATimeAndNamesResolve) {
  EXPECT_THROW(optimizers::SGD({.clip = {.clipnorm = 1.0f, .clipvalue = 1.0f}}), Error);
  EXPECT_EQ(optimizers::get("rmsprop")->name(), "RMSprop");
  EXPECT_EQ(optimizers::get("Adam")->learning_rate(), 0.001f);
  EXPECT_THROW(optimizers::get("adamax9"), Error);
}

TEST(Losses, MatchKerasValuesAndGradients) {
  auto fx = load_fixture("core_keras.json")["losses"];
  std::map<std::string, LossPtr> cases = {
      {"mae", losses::get("mae")},
      {"mse", losses::get("mse")},
      {"huber", losses::Huber()},
      {"bce", losses::get("binary_crossentropy")},
      {"bce_clipped", losses::BinaryCrossentropy()},
      {"bce_logits", losses::BinaryCrossentropy({.from_logits = true})},
      {"bce_smoothing", losses::BinaryCrossentropy({.label_smoothing = 0.1f})},
      {"cce", losses::get("categorical_crossentropy")},
      {"cce_logits", losses::CategoricalCrossentropy({.from_logits = true})},
      {"scce", losses::get("sparse_categorical_crossentropy")},
      {"scce_logits", losses::SparseCategoricalCrossentropy({.from_logits = true})},
  };
  for (auto& [name, loss] : cases) {
    SCOPED_TRACE(name);
    const auto& c = fx.at(name);
    Tensor t = tensor_from_json(c["y_true"], shape_of(c["shape_true"]));
    Tensor p = tensor_from_json(c["y_pred"], shape_of(c["shape_pred"]));
    Tensor grad;
    double value = loss->compute(p, t, &grad);
    EXPECT_NEAR(value, c["loss"].get<double>(), 1e-5 * std::max(1.0, std::fabs(c["loss"].get<double>())));
    expect_tensor_near(grad, tensor_from_json(c["grad"], p.shape()), 1e-5, name + " gradient");
  }
}

TEST(Losses, FusedLogitsPathEqualsProbabilityPath) {
  // sigmoid + BCE through the logits equals BCE on the sigmoid's output (away from the clip).
  Tensor z({4, 1}, std::vector<float>{-2.0f, -0.3f, 0.4f, 1.5f});
  Tensor t({4, 1}, std::vector<float>{0, 1, 1, 0});
  Tensor p(z.shape());
  for (int i = 0; i < 4; ++i) p[i] = 1.0f / (1.0f + std::exp(-z[i]));
  auto bce = losses::BinaryCrossentropy();
  ASSERT_TRUE(bce->fuses_with(Activation::sigmoid));
  Tensor gz, gp;
  EXPECT_NEAR(bce->compute_from_logits(z, t, &gz), bce->compute(p, t, &gp), 1e-6);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(gz[i], gp[i] * p[i] * (1 - p[i]), 1e-6);
}

TEST(Losses, ShapeAndLabelErrorsNameTheProblem) {
  Tensor grad;
  try {
    losses::get("mse")->compute(Tensor({4, 1}), Tensor({4, 2}), &grad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("y_true has shape (4, 2) but the model output has shape (4, 1)"), std::string::npos) << e.what();
  }
  Tensor probs = Tensor::full({2, 3}, 1.0f / 3);
  EXPECT_THROW(losses::get("sparse_categorical_crossentropy")->compute(probs, Tensor({2}, std::vector<float>{0, 3}), &grad), Error);
  EXPECT_THROW(losses::get("hinge_of_doom"), Error);
}

TEST(Metrics, AccuracyResolvesLikeKeras) {
  Tensor p({4, 1}, std::vector<float>{0.9f, 0.2f, 0.6f, 0.4f});
  Tensor t({4, 1}, std::vector<float>{1, 0, 0, 0});
  auto acc = metrics::get("acc", "binary_crossentropy", 1);
  acc->update(p, t);
  EXPECT_DOUBLE_EQ(acc->result(), 0.75);
  EXPECT_EQ(acc->name(), "acc");
  auto sparse = metrics::get("accuracy", "sparse_categorical_crossentropy", 3);
  sparse->update(Tensor({2, 3}, std::vector<float>{0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f}), Tensor({2}, std::vector<float>{1, 2}));
  EXPECT_DOUBLE_EQ(sparse->result(), 0.5);
  auto mae = metrics::get("mae", "mse", 1);
  mae->update(Tensor({2, 1}, std::vector<float>{1, 2}), Tensor({2, 1}, std::vector<float>{0, 0}));
  EXPECT_DOUBLE_EQ(mae->result(), 1.5);
}
