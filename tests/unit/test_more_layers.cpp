// Permute, Cropping1D, ZeroPadding1D, UpSampling1D, SpatialDropout1D, GaussianNoise, LayerNormalization and Dot:
// Keras parity from tests/fixtures/more_layers.json (made by make_layer_parity_fixtures.py: configs, outputs,
// masks, and LayerNormalization's and Dot's gradients), the training-mode statistics of the noise layers, the
// errors Keras raises, and the layers in whole models. Options, shapes and finite-difference gradients of every
// layer are the layer harness's (test_layer_harness.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <tuple>

#include "fixtures.h"
#include "gradcheck.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::testing;

namespace {

Tensor fixture_tensor(const nlohmann::json& t) { return tensor_from_json(t.at("data"), t.at("shape").get<Shape>()); }

// The fixture script's mask: sequence b keeps its first steps - (b % 3) steps.
Tensor fixture_mask(const Tensor& x) {
  const int64_t B = x.dim(0), T = x.dim(1);
  Tensor m({B, T});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) m[b * T + t] = t < T - (b % 3) ? 1.0f : 0.0f;
  return m;
}

Shape symbolic(Shape s) {
  s[0] = -1;
  return s;
}

}  // namespace

// Each case: built from Keras's config, given Keras's weights, the same output (and mask, and gradients) as Keras
// in inference mode; get_config writes back what Keras wrote.
TEST(MoreLayersKeras, EveryCaseMatchesKeras) {
  const auto fixture = load_fixture("more_layers.json");
  ASSERT_GE(fixture.at("cases").size(), 30u);
  for (const auto& c : fixture.at("cases")) {
    const std::string name = c.at("name"), cls = c.at("class_name");
    SCOPED_TRACE(name + " (" + cls + ")");
    const Json& config = c.at("config");
    LayerPtr layer;
    ASSERT_NO_THROW(layer = layer_from_config(cls, config));

    // The config: every key Keras wrote, with its value, and nothing else (the dtype policy aside: seqnet's
    // files write it as Keras does, get_config as a name).
    Json ours = layer->get_config(), keras = config;
    ours.erase("dtype");
    keras.erase("dtype");
    EXPECT_EQ(ours, keras);

    std::vector<Tensor> xs;
    std::vector<Shape> shapes;
    for (const auto& t : c.at("inputs")) {
      xs.push_back(fixture_tensor(t));
      shapes.push_back(symbolic(xs.back().shape()));
    }
    Rng init(1);
    layer->build_multi(shapes, init);
    for (const auto& [wname, w] : c.at("weights").items()) {
      Param* p = layer->find_param(wname);
      ASSERT_NE(p, nullptr) << "no weight " << wname;
      const Tensor v = fixture_tensor(w);
      ASSERT_EQ(p->value.shape(), v.shape()) << wname;
      p->value = v;
    }
    EXPECT_EQ(layer->params().size(), c.at("weights").size()) << "the same weights as Keras";

    std::vector<const Tensor*> ptrs;
    for (const auto& x : xs) ptrs.push_back(&x);
    for (Param* p : layer->params()) p->grad.fill(0.0f);
    RunContext ctx;  // inference
    const std::vector<Tensor> ys = xs.size() == 1 ? std::vector<Tensor>{layer->call(xs[0], ctx)} : layer->call_multi(ptrs, ctx);
    ASSERT_EQ(ys.size(), 1u);
    const Tensor want = fixture_tensor(c.at("output"));
    ASSERT_EQ(ys[0].shape(), want.shape());
    expect_tensor_near(ys[0], want, 1e-5, "output");
    // The shape build promised, the batch axis aside.
    const Shape built = layer->output_shapes()[0];
    ASSERT_EQ(built.size(), want.shape().size());
    for (size_t a = 1; a < built.size(); ++a) EXPECT_EQ(built[a], want.shape()[a]) << "axis " << a;

    if (c.contains("output_mask")) {
      std::vector<Tensor> masks;
      std::vector<const Tensor*> mask_ptrs;
      for (const auto& x : xs) masks.push_back(x.rank() == 3 ? fixture_mask(x) : Tensor());
      for (const auto& m : masks) mask_ptrs.push_back(m.empty() ? nullptr : &m);
      if (!c.at("input_mask").is_null()) expect_tensor_near(masks[0], fixture_tensor(c.at("input_mask")), 0, "input mask");
      const auto out_masks = layer->compute_masks(ptrs, mask_ptrs);
      ASSERT_EQ(out_masks.size(), 1u);
      if (c.at("output_mask").is_null()) {
        EXPECT_FALSE(out_masks[0].has_value()) << "Keras passes no mask on";
      } else {
        ASSERT_TRUE(out_masks[0].has_value()) << "Keras passes a mask on";
        expect_tensor_near(*out_masks[0], fixture_tensor(c.at("output_mask")), 0, "output mask");
      }
    }

    if (c.contains("cotangent")) {
      const std::vector<Tensor> dxs = layer->backward_multi({fixture_tensor(c.at("cotangent"))});
      ASSERT_EQ(dxs.size(), xs.size());
      for (size_t i = 0; i < xs.size(); ++i)
        expect_tensor_near(dxs[i], fixture_tensor(c.at("input_grads")[i]), 1e-5, fmt::format("gradient of input {}", i));
      int checked = 0;
      for (const auto& [wname, g] : c.at("weight_grads").items()) {
        expect_tensor_near(layer->find_param(wname)->grad, fixture_tensor(g), 1e-5, "gradient of " + wname);
        ++checked;
      }
      EXPECT_EQ(checked, int(layer->params().size()));
    }
  }
}

// Keras's int forms are read as the pairs Keras writes.
TEST(MoreLayersConfig, IntFormsReadAsPairs) {
  EXPECT_EQ(layer_from_config("Cropping1D", {{"name", "c"}, {"cropping", 2}})->get_config()["cropping"], Json::array({2, 2}));
  EXPECT_EQ(layer_from_config("ZeroPadding1D", {{"name", "z"}, {"padding", 3}})->get_config()["padding"], Json::array({3, 3}));
  EXPECT_EQ(layer_from_config("Dot", {{"name", "d"}, {"axes", 1}})->get_config()["axes"], Json(1));
  // A SpatialDropout1D config carries no trainable key: Keras's __init__ takes none and would refuse it.
  EXPECT_FALSE(layer_from_config("SpatialDropout1D", {{"name", "s"}, {"rate", 0.2}})->get_config().contains("trainable"));
  // LayerNormalization keeps the axis's form: -1 as an unbuilt Keras layer writes it, [-1] as a built one.
  EXPECT_EQ(layer_from_config("LayerNormalization", {{"name", "l"}})->get_config()["axis"], Json(-1));
  EXPECT_EQ(layer_from_config("LayerNormalization", {{"name", "l"}, {"axis", {-1}}})->get_config()["axis"], Json::array({-1}));
  EXPECT_EQ(layers::LayerNormalization()->get_config()["epsilon"], Json(1e-3));
}

// What Keras refuses, seqnet refuses, naming the layer (and the key, for a config).
TEST(MoreLayersConfig, KerasErrorsAreErrorsNamingTheLayer) {
  auto read = [](const char* cls, Json c) {
    c["name"] = "bad";
    return error_of([&] { layer_from_config(cls, c); });
  };
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos && msg.find("'bad'") != std::string::npos;
  };
  for (const Json& axis : {Json(1), Json(2), Json::array({1}), Json::array({-2, -1}), Json("x")}) {
    const std::string e = read("LayerNormalization", {{"axis", axis}});
    EXPECT_TRUE(has(e, "'axis'")) << e;
  }
  EXPECT_TRUE(has(read("LayerNormalization", {{"rms_scaling", true}}), "rms_scaling"));
  EXPECT_TRUE(has(read("LayerNormalization", {{"gamma_regularizer", "l2"}}), "gamma_regularizer"));
  EXPECT_TRUE(has(read("Permute", {{"dims", {1, 1}}}), "dims"));
  EXPECT_TRUE(has(read("Permute", {{"dims", {0, 1}}}), "dims"));
  EXPECT_TRUE(has(read("Permute", Json::object()), "'dims'"));
  EXPECT_TRUE(has(read("Cropping1D", {{"cropping", {-1, 2}}}), "cropping"));
  EXPECT_TRUE(has(read("Cropping1D", {{"cropping", {1, 2, 3}}}), "'cropping'"));
  EXPECT_TRUE(has(read("ZeroPadding1D", {{"padding", "same"}}), "'padding'"));
  EXPECT_TRUE(has(read("ZeroPadding1D", {{"data_format", "channels_first"}}), "channels_first"));
  EXPECT_TRUE(has(read("UpSampling1D", {{"size", 0}}), "size"));
  EXPECT_TRUE(has(read("UpSampling1D", {{"size", 2.5}}), "'size'"));
  EXPECT_TRUE(has(read("SpatialDropout1D", {{"rate", 1.5}}), "rate"));
  EXPECT_TRUE(has(read("SpatialDropout1D", Json::object()), "'rate'"));
  EXPECT_TRUE(has(read("GaussianNoise", {{"stddev", 1.5}}), "stddev"));
  EXPECT_TRUE(has(read("GaussianNoise", {{"stddev", 0.1}, {"seed", "x"}}), "'seed'"));
  EXPECT_TRUE(has(read("Dot", {{"axes", {1, 2, 3}}}), "'axes'"));
  EXPECT_TRUE(has(read("Dot", Json::object()), "'axes'"));

  // Shapes, at build.
  Rng rng(1);
  auto build = [&](LayerPtr l, std::vector<Shape> shapes) { return error_of([&] { l->build_multi(shapes, rng); }); };
  EXPECT_NE(build(layers::Permute({2, 1}), {{-1, 3, 4, 5}}).find("rank 3"), std::string::npos);
  EXPECT_NE(build(layers::Cropping1D({2, 1}), {{-1, 3, 4}}).find("leaves no step"), std::string::npos);
  EXPECT_NE(build(layers::Cropping1D(), {{-1, 3}}).find("rank 3"), std::string::npos);
  EXPECT_NE(build(layers::UpSampling1D(), {{-1, 3}}).find("rank 3"), std::string::npos);
  EXPECT_NE(build(layers::SpatialDropout1D(0.2), {{-1, 3}}).find("rank 3"), std::string::npos);
  EXPECT_NE(build(layers::LayerNormalization(), {{-1, 3, -1}}).find("known size"), std::string::npos);
  EXPECT_NE(build(layers::Dot(0), {{-1, 3}, {-1, 3}}).find("batch axis"), std::string::npos);
  EXPECT_NE(build(layers::Dot(-1), {{-1, 3}, {-1, 4}}).find("incompatible"), std::string::npos);
  EXPECT_NE(build(layers::Dot(-1), {{-1, 3, 4, 5}, {-1, 5}}).find("rank 2"), std::string::npos);
  EXPECT_NE(build(layers::Dot({1, 3}), {{-1, 3, 4}, {-1, 3, 5}}).find("name no axis"), std::string::npos);
  EXPECT_NE(build(layers::Dot(1), {{-1, 3}}).find("2 inputs"), std::string::npos);
  // A length unknown at build is checked at the call.
  LayerPtr crop = layers::Cropping1D({2, 2});
  crop->build({-1, -1, 2}, rng);
  RunContext ctx;
  EXPECT_NE(error_of([&] { crop->call(Tensor({1, 4, 2}), ctx); }).find("leaves no step"), std::string::npos);
}

// ---- The noise layers in training ----

// Whole channels: each (sample, channel) either zero at every step or scaled by 1/(1 - rate) at every step, about
// `rate` of them dropped; the gradient through the same mask; the identity in inference.
TEST(MoreLayersNoise, SpatialDropout1DDropsWholeChannels) {
  const int64_t B = 100, T = 7, C = 60;
  const double rate = 0.3;
  SpatialDropout1D layer(rate);
  Rng init(1);
  layer.build({-1, T, C}, init);
  const Tensor x = random_tensor({B, T, C}, 3, 0.5f, 1.5f);
  Rng rng(42);
  RunContext train;
  train.training = true;
  train.rng = &rng;
  const Tensor y = layer.call(x, train);
  const Tensor dy = random_tensor({B, T, C}, 4);
  const Tensor dx = layer.backward(dy);
  const float scale = float(1.0 / (1.0 - rate));
  int64_t dropped = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const bool drop = y[(b * T) * C + c] == 0.0f;
      dropped += drop;
      for (int64_t t = 0; t < T; ++t) {
        const int64_t i = (b * T + t) * C + c;
        const float factor = drop ? 0.0f : scale;
        ASSERT_EQ(y[i], x[i] * factor) << "sample " << b << " channel " << c << " step " << t;
        ASSERT_EQ(dx[i], dy[i] * factor) << "sample " << b << " channel " << c << " step " << t;
      }
    }
  // 6000 channel draws: the dropped fraction is within 4.5 standard deviations (0.006) of the rate.
  EXPECT_NEAR(double(dropped) / double(B * C), rate, 0.027);
  // Another call draws another mask.
  const Tensor y2 = layer.call(x, train);
  int64_t differ = 0;
  for (int64_t i = 0; i < y.size(); ++i) differ += y[i] != y2[i];
  EXPECT_GT(differ, 0);

  RunContext infer;  // training = false
  const Tensor yi = layer.call(x, infer);
  for (int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(yi[i], x[i]);
  const Tensor dxi = layer.backward(dy);
  for (int64_t i = 0; i < dy.size(); ++i) ASSERT_EQ(dxi[i], dy[i]);

  // rate 1 drops everything, as Keras's dropout does.
  SpatialDropout1D all(1.0);
  all.build({-1, T, C}, init);
  const Tensor z = all.call(x, train);
  for (int64_t i = 0; i < z.size(); ++i) ASSERT_EQ(z[i], 0.0f);
}

// Additive N(0, stddev^2) noise in training: mean and standard deviation of y - x; a fresh draw per call; the
// identity gradient; the identity in inference.
TEST(MoreLayersNoise, GaussianNoiseHasTheRightMeanAndStddev) {
  const double stddev = 0.4;
  GaussianNoise layer(stddev);
  Rng init(1);
  layer.build({-1, 200, 500}, init);
  const Tensor x = random_tensor({2, 200, 500}, 5);
  Rng rng(7);
  RunContext train;
  train.training = true;
  train.rng = &rng;
  const Tensor y = layer.call(x, train);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    const double n = double(y[i]) - double(x[i]);
    sum += n;
    sq += n * n;
  }
  const double n = double(x.size()), mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  // 200 000 draws: the mean's standard error is 0.0009, the standard deviation's 0.0006.
  EXPECT_NEAR(mean, 0.0, 0.004);
  EXPECT_NEAR(sd, stddev, 0.003);
  const Tensor dy = random_tensor(x.shape(), 6);
  const Tensor dx = layer.backward(dy);
  for (int64_t i = 0; i < dy.size(); ++i) ASSERT_EQ(dx[i], dy[i]);
  const Tensor y2 = layer.call(x, train);
  int64_t same = 0;
  for (int64_t i = 0; i < y.size(); ++i) same += y[i] == y2[i];
  EXPECT_LT(same, y.size() / 100);

  RunContext infer;
  const Tensor yi = layer.call(x, infer);
  for (int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(yi[i], x[i]);
  EXPECT_EQ(layer.backward(dy).size(), dy.size());
}

// The noise is the model's: the same seed gives the same noise, bit for bit.
TEST(MoreLayersNoise, SameSeedSameNoise) {
  for (LayerPtr (*make)() : {+[] { return layers::SpatialDropout1D(0.5); }, +[] { return layers::GaussianNoise(0.3); }}) {
    LayerPtr a = make(), b = make();
    Rng init(1);
    a->build({-1, 5, 4}, init);
    b->build({-1, 5, 4}, init);
    const Tensor x = random_tensor({3, 5, 4}, 2);
    Rng r1(9), r2(9);
    RunContext c1, c2;
    c1.training = c2.training = true;
    c1.rng = &r1;
    c2.rng = &r2;
    const Tensor y1 = a->call(x, c1), y2 = b->call(x, c2);
    for (int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(y1[i], y2[i]) << a->class_name();
  }
}

// ---- Threads ----

// Calls big enough to be split over threads (LayerNormalization by rows and by features, Dot by samples) give the
// same bits on one thread and two: outputs, input gradients and weight gradients.
TEST(MoreLayersThreads, LargeCallsAreBitwiseTheSameOnOneAndTwoThreads) {
  struct Run {
    std::vector<Tensor> outs;
  };
  auto run = [](const std::string& cls, const Json& config, const std::vector<Tensor>& xs, int threads) {
    const int before = num_threads();
    set_num_threads(threads);
    LayerPtr l = layer_from_config(cls, config);
    std::vector<Shape> shapes;
    std::vector<const Tensor*> ptrs;
    for (const auto& x : xs) {
      shapes.push_back(symbolic(x.shape()));
      ptrs.push_back(&x);
    }
    Rng init(3);
    l->build_multi(shapes, init);
    RunContext ctx;
    Run r;
    r.outs = l->call_multi(ptrs, ctx);
    for (Tensor& dx : l->backward_multi({random_tensor(r.outs[0].shape(), 8)})) r.outs.push_back(std::move(dx));
    for (Param* p : l->params()) r.outs.push_back(p->grad);
    set_num_threads(before);
    return r;
  };
  const Json gamma_init = {{"class_name", "RandomUniform"}, {"config", {{"minval", 0.5}, {"maxval", 1.5}, {"seed", nullptr}}}};
  const std::vector<std::tuple<std::string, Json, std::vector<Tensor>>> cases = {
      {"LayerNormalization", {{"name", "ln"}, {"gamma_initializer", gamma_init}}, {random_tensor({64, 64, 128}, 1)}},
      {"Dot", {{"name", "dot"}, {"axes", {2, 2}}}, {random_tensor({64, 64, 32}, 2), random_tensor({64, 48, 32}, 3)}},
      {"Dot", {{"name", "dot"}, {"axes", {1, 1}}, {"normalize", true}}, {random_tensor({64, 32, 64}, 4), random_tensor({64, 32, 48}, 5)}},
  };
  for (const auto& [cls, config, xs] : cases) {
    SCOPED_TRACE(cls + " " + config.dump());
    const Run one = run(cls, config, xs, 1), two = run(cls, config, xs, 2);
    ASSERT_EQ(one.outs.size(), two.outs.size());
    for (size_t k = 0; k < one.outs.size(); ++k) {
      ASSERT_EQ(one.outs[k].shape(), two.outs[k].shape()) << "tensor " << k;
      for (int64_t i = 0; i < one.outs[k].size(); ++i)
        ASSERT_EQ(one.outs[k][i], two.outs[k][i]) << "tensor " << k << " element " << i;
    }
  }
}

// ---- In models ----

// Every new layer in a model that trains, reads back from its own config and from its own .keras and .h5 files,
// and predicts the same after. With SEQNET_EXPORT_DIR set, the .keras file and its predictions are left there for
// the other direction: `make_layer_parity_fixtures.py --check-seqnet DIR` (Keras loads it and predicts the same).
TEST(MoreLayersModel, LayersTrainInAModelAndRoundTripThroughItsFiles) {
  clear_session();
  set_random_seed(11);
  auto in = Input({6, 4}, {.name = "series"});
  auto x = apply_layer(layers::LayerNormalization(), in);
  x = apply_layer(layers::SpatialDropout1D(0.2), x);
  x = apply_layer(layers::GaussianNoise(0.1), x);
  x = apply_layer(layers::ZeroPadding1D({1, 2}), x);       // (9, 4)
  x = apply_layer(layers::UpSampling1D(2), x);             // (18, 4)
  x = apply_layer(layers::Cropping1D({3, 1}), x);          // (14, 4)
  auto keys = apply_layer(layers::Permute({2, 1}), x);     // (4, 14)
  auto scores = apply_layer(layers::Dot({2, 2}, {.normalize = true}), {keys, keys});  // (4, 4)
  auto out = apply_layer(layers::Dense(1), apply_layer(layers::Flatten(), scores));
  Model m(in, out, "more_layers");
  m.compile({.optimizer = "adam", .loss = "mse"});
  const Tensor xs = random_tensor({32, 6, 4}, 1);
  Tensor ys({32, 1});
  for (int64_t i = 0; i < 32; ++i) ys[i] = xs[i * 24] - xs[i * 24 + 5];
  History h = m.fit(xs, ys, {.batch_size = 8, .epochs = 3, .verbose = 0});
  for (double l : h["loss"]) EXPECT_TRUE(std::isfinite(l));
  EXPECT_EQ(m.output_shape(), (Shape{-1, 1}));

  const auto back = model_from_json(m.to_json());
  EXPECT_EQ(back->to_json(), m.to_json());
  const auto mine = m.params(), theirs = back->params();
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) theirs[i]->value = mine[i]->value;
  const Tensor want = m.predict(xs);
  expect_tensor_near(back->predict(xs), want, 0, "predictions after a config round trip");

  const auto dir = temp_dir("more_layers");
  for (const char* ext : {".keras", ".h5"}) {
    const std::string path = (dir / (std::string("more_layers") + ext)).string();
    m.save(path);
    std::unique_ptr<Model> loaded;
    ASSERT_NO_THROW(loaded = load_model(path, /*compile=*/false)) << ext;
    expect_tensor_near(loaded->predict(xs), want, 0, std::string("predictions of the model read from ") + ext);
  }
  if (const char* out = std::getenv("SEQNET_EXPORT_DIR")) {
    std::filesystem::create_directories(out);
    std::filesystem::copy_file(dir / "more_layers.keras", std::filesystem::path(out) / "more_layers.keras",
                               std::filesystem::copy_options::overwrite_existing);
    auto flat = [](const Tensor& t) { return Json{{"shape", t.shape()}, {"data", std::vector<float>(t.data(), t.data() + t.size())}}; };
    std::ofstream(std::filesystem::path(out) / "more_layers.expected.json") << Json{{"x", flat(xs)}, {"y", flat(want)}}.dump();
  }
  std::filesystem::remove_all(dir);
}
