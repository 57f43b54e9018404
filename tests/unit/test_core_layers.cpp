// Dense, Embedding, Flatten, Reshape, Dropout, Activation: shapes, values and errors (their gradients are in
// the layer harness, test_layer_harness.cpp).
#include <gtest/gtest.h>

#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;

TEST(Dense, ActsOnLastAxisOf3DInput) {
  Dense d(2, {.activation = "sigmoid"});
  Rng rng(1);
  EXPECT_EQ(d.build({-1, 7, 3}, rng), (Shape{-1, 7, 2}));
  // Row t of the output depends only on row t of the input: compare with a 2-D call.
  Tensor x = random_tensor({2, 7, 3}, 3);
  RunContext ctx;
  Tensor y = d.call(x, ctx);
  Dense d2(2, {.activation = "sigmoid"});
  d2.build({-1, 3}, rng);
  d2.params()[0]->value = d.params()[0]->value;
  d2.params()[1]->value = d.params()[1]->value;
  Tensor y2 = d2.call(x.reshaped({14, 3}), ctx);
  expect_tensor_near(y.reshaped({14, 2}), y2, 1e-6, "3-D Dense vs row-wise Dense");
}

TEST(Dense, InferenceKeepsNothingForBackwardAndBackwardSaysSo) {
  // predict / evaluate run with keep_for_backward = false: no copy of the input or the output is kept,
  // the outputs are those of a training-mode call, and a backward afterwards is a clear error, never a
  // gradient from a stale earlier batch.
  for (const char* act : {"linear", "relu", "sigmoid"}) {
    SCOPED_TRACE(act);
    Dense d(4, {.activation = act, .name = "head"});
    Rng rng(1);
    d.build({-1, 3}, rng);
    Tensor x = random_tensor({2, 3}, 5), other = random_tensor({2, 3}, 6);
    RunContext keep;
    Tensor y = d.call(x, keep);
    d.backward(random_tensor({2, 4}, 7));  // a training call first: the layer holds x
    RunContext lean;
    lean.keep_for_backward = false;
    Tensor y_lean = d.call(x, lean);
    for (int64_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], y_lean[i]);
    d.call(other, lean);
    try {
      d.backward(random_tensor({2, 4}, 7));
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("layer 'head' (Dense): backward without a forward that kept"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Dense, KerasParamCount) {
  Dense d(1);
  Rng rng(1);
  d.build({-1, 32}, rng);
  EXPECT_EQ(d.count_params(), 33);
}

TEST(Dense, WrongInputWidthIsAClearError) {
  Dense d(4, {.name = "proj"});
  Rng rng(1);
  d.build({-1, 3}, rng);
  RunContext ctx;
  try {
    d.call(Tensor({2, 5}), ctx);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'proj' (Dense): expected input shape (None, 3), got (2, 5)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Embedding, LookupGradientAndMask) {
  Embedding e(10, 3, {.mask_zero = true});
  Tensor ids = Tensor::ints({2, 4}, {1, 2, 0, 9, 3, 3, 0, 0});
  Rng rng(1);
  EXPECT_EQ(e.build({-1, 4}, rng), (Shape{-1, 4, 3}));
  RunContext ctx;
  Tensor y = e.call(ids, ctx);
  const Tensor& table = e.params()[0]->value;
  for (int j = 0; j < 3; ++j) EXPECT_EQ(y.data()[3 * 3 + j], table.data()[9 * 3 + j]);
  auto mask = e.compute_mask(ids, nullptr);
  ASSERT_TRUE(mask.has_value());
  EXPECT_EQ(mask->shape(), (Shape{2, 4}));
  EXPECT_EQ((*mask)[2], 0.0f);
  EXPECT_EQ((*mask)[0], 1.0f);
}

TEST(Embedding, UniformDefaultInitAndOutOfRangeId) {
  Embedding e(1000, 8, {.name = "emb"});
  Rng rng(3);
  e.build({-1, 5}, rng);
  const Tensor& w = e.params()[0]->value;
  float lo = 1, hi = -1;
  for (int64_t i = 0; i < w.size(); ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  EXPECT_GE(lo, -0.05f);
  EXPECT_LT(hi, 0.05f);
  EXPECT_LT(lo, -0.04f);
  EXPECT_GT(hi, 0.04f);
  RunContext ctx;
  try {
    e.call(Tensor::ints({1, 5}, {1, 2, 1000, 3, 4}), ctx);
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("id 1000 at flat position 2 is out of range"), std::string::npos) << err.what();
  }
  // A float id beyond int32 is named as it is (its conversion to int would be undefined: 2^31 came out
  // as -2147483648).
  try {
    e.call(Tensor({1, 5}, std::vector<float>{1, 2, 2147483648.0f, 3, 4}), ctx);
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("id 2147483648 at flat position 2 is out of range"), std::string::npos)
        << err.what();
  }
}

TEST(Flatten, ShapeAndGradient) {
  Flatten f;
  Rng rng(1);
  EXPECT_EQ(f.build({-1, 4, 3}, rng), (Shape{-1, 12}));
}

TEST(Reshape, InfersMinusOne) {
  Reshape r({-1, 2});
  Rng rng(1);
  EXPECT_EQ(r.build({-1, 6}, rng), (Shape{-1, 3, 2}));
  Reshape bad({4});
  EXPECT_THROW(bad.build({-1, 6}, rng), Error);
}

TEST(Dropout, InvertedScalingTrainingOnly) {
  Dropout d(0.25f);
  Rng rng(1);
  d.build({-1, 1000}, rng);
  Tensor x = Tensor::full({4, 1000}, 1.0f);
  RunContext infer;
  Tensor y = d.call(x, infer);
  expect_tensor_near(y, x, 0.0, "inference is the identity");
  Rng mask_rng(5);
  RunContext train{.training = true, .rng = &mask_rng};
  y = d.call(x, train);
  int zeros = 0;
  for (int64_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0.0f) ++zeros;
    else EXPECT_FLOAT_EQ(y[i], 1.0f / 0.75f);
  }
  EXPECT_NEAR(zeros / 4000.0, 0.25, 0.03);
}

TEST(Dropout, AnInputGivenUpPassesThroughWithoutACopyOutsideTraining) {
  Dropout d(0.5f);
  Rng rng(1);
  d.build({-1, 8}, rng);
  Tensor x = Tensor::full({3, 8}, 2.0f);
  const float* storage = x.data();
  RunContext infer;
  Tensor y = d.call(std::move(x), infer);
  EXPECT_EQ(y.data(), storage);
  expect_tensor_near(y, Tensor::full({3, 8}, 2.0f), 0.0, "inference is the identity");
  // In training the consuming call still draws its mask, and backward applies it.
  Rng mask_rng(5);
  RunContext train{.training = true, .rng = &mask_rng};
  Tensor z = d.call(Tensor::full({3, 8}, 2.0f), train);
  const Tensor dx = d.backward(Tensor::full({3, 8}, 1.0f));
  for (int64_t i = 0; i < z.size(); ++i) EXPECT_FLOAT_EQ(z[i], dx[i] * 2.0f) << i;
  EXPECT_THROW(d.call(Tensor::full({3, 9}, 1.0f), infer), Error);  // the same shape checks as call(const&)
}

TEST(Activations, KerasValues) {
  auto f = [](const char* name, float x) {
    float y;
    activation_forward(activation_from_name(name), &x, &y, 1, 1);
    return y;
  };
  EXPECT_FLOAT_EQ(f("hard_sigmoid", 1.2f), 1.2f / 6 + 0.5f);  // Keras 3, not Keras 2's 0.2x + 0.5
  EXPECT_FLOAT_EQ(f("hard_sigmoid", 4.0f), 1.0f);
  EXPECT_NEAR(f("gelu", 1.0f), 0.8413447f, 1e-6);              // exact erf form
  EXPECT_NEAR(f("selu", -1.0f), -1.1113307f, 1e-6);
  EXPECT_NEAR(f("swish", 1.0f), 0.7310586f, 1e-6);
  EXPECT_NEAR(f("softplus", 0.0f), 0.6931472f, 1e-6);
  EXPECT_THROW(activation_from_name("relu6x"), Error);
}
