// Model files: .keras and legacy .h5 round trips, exact resume, clear errors on damaged input,
// atomic saves under SIGKILL, and a fuzz-style sweep over damaged bytes.
#include <csignal>
#include <functional>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include "seqnet/saving.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("seqnet_save_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::pair<Tensor, Tensor> token_task(int64_t n, uint64_t seed) {
  Rng rng(seed);
  Tensor x({n, 10}, DType::int32), y({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    bool has = false;
    for (int t = 0; t < 10; ++t) {
      int32_t id = int32_t(rng.randint(1, 10));
      x.idata()[i * 10 + t] = id;
      has |= id == 3;
    }
    y[i] = has ? 1.0f : 0.0f;
  }
  return {x, y};
}

// Embedding -> LSTM -> Dropout -> Dense, the shape of the notes' IMDB model, small.
std::unique_ptr<Model> lstm_model(const std::string& optimizer = "rmsprop") {
  auto m = std::make_unique<Sequential>("imdb_small");
  m->add(Input({10}, {.dtype = DType::int32}));
  m->add(layers::Embedding(10, 6));
  m->add(layers::LSTM(5));
  m->add(layers::Dropout(0.25f));
  m->add(layers::Dense(1, {.activation = "sigmoid"}));
  m->compile({.optimizer = optimizer, .loss = "binary_crossentropy", .metrics = {"acc"}});
  return m;
}

std::vector<float> flat_weights(Model& m) {
  std::vector<float> w;
  for (Param* p : m.params()) w.insert(w.end(), p->value.data(), p->value.data() + p->value.size());
  return w;
}

std::map<std::string, std::string> unzip_all(const std::string& bytes) {
  std::map<std::string, std::string> out;
  zip_error_t err;
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
  if (!za) throw std::runtime_error("unzip failed");
  for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) {
    zip_stat_t st;
    zip_stat_index(za, zip_uint64_t(i), 0, &st);
    std::string data(st.size, '\0');
    zip_file_t* f = zip_fopen_index(za, zip_uint64_t(i), 0);
    zip_fread(f, data.data(), st.size);
    zip_fclose(f);
    out[st.name] = data;
  }
  zip_discard(za);
  return out;
}

std::string zip_all(const std::map<std::string, std::string>& files) {
  zip_error_t err;
  zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &err);
  zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &err);
  zip_source_keep(src);
  for (const auto& [name, data] : files)
    zip_file_add(za, name.c_str(), zip_source_buffer(za, data.data(), data.size(), 0), ZIP_FL_OVERWRITE);
  zip_close(za);
  zip_source_open(src);
  zip_source_seek(src, 0, SEEK_END);
  zip_int64_t n = zip_source_tell(src);
  zip_source_seek(src, 0, SEEK_SET);
  std::string out(size_t(n), '\0');
  zip_source_read(src, out.data(), zip_uint64_t(n));
  zip_source_close(src);
  zip_source_free(src);
  return out;
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  if (pos == std::string::npos) throw std::runtime_error("'" + from + "' not found");
  return s.replace(pos, from.size(), to);
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Saving, KerasFileRoundTripKeepsPredictionsAndOptimizerState) {
  set_random_seed(7);
  auto [x, y] = token_task(128, 1);
  auto m = lstm_model("adam");
  m->fit(x, y, {.batch_size = 32, .epochs = 2, .verbose = 0});
  std::string dir = tmpdir("roundtrip");
  m->save(dir + "/m.keras");
  auto r = load_model(dir + "/m.keras");
  ASSERT_TRUE(r->compiled());
  EXPECT_EQ(r->summary_string(), m->summary_string());
  EXPECT_EQ(flat_weights(*r), flat_weights(*m));
  Tensor a = m->predict(x), b = r->predict(x);
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]);
  EXPECT_EQ(r->optimizer()->name(), "Adam");
  EXPECT_EQ(r->optimizer()->iterations(), m->optimizer()->iterations());
  EXPECT_EQ(r->optimizer()->learning_rate(), m->optimizer()->learning_rate());
  auto pm = m->trainable_params(), pr = r->trainable_params();
  for (size_t i = 0; i < pm.size(); ++i) {
    auto& sm = m->optimizer()->slots(pm[i]);
    auto& sr = r->optimizer()->slots(pr[i]);
    ASSERT_EQ(sm.size(), sr.size());
    for (size_t k = 0; k < sm.size(); ++k)
      for (int64_t j = 0; j < sm[k].size(); ++j) ASSERT_EQ(sm[k][j], sr[k][j]);
  }
  EXPECT_EQ(r->epochs_completed, 2);
  EXPECT_EQ(r->metrics().size(), 1u);
  fs::remove_all(dir);
}

TEST(Saving, InterruptedAndResumedTrainingEqualsUninterruptedBitForBit) {
  auto [x, y] = token_task(96, 3);
  set_random_seed(21);
  auto full = lstm_model();
  full->set_seed(5);
  full->fit(x, y, {.batch_size = 16, .epochs = 4, .verbose = 0});

  set_random_seed(21);
  auto first = lstm_model();
  first->set_seed(5);
  std::string dir = tmpdir("resume");
  auto ck = std::make_shared<ModelCheckpoint>(dir + "/ck.keras");
  first->fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0, .callbacks = {ck}});
  first.reset();  // the process "dies"

  auto resumed = load_model(dir + "/ck.keras");
  ASSERT_EQ(resumed->epochs_completed, 2);
  resumed->fit(x, y, {.batch_size = 16, .epochs = 4, .verbose = 0, .initial_epoch = resumed->epochs_completed});
  EXPECT_EQ(flat_weights(*resumed), flat_weights(*full));
  EXPECT_EQ(resumed->optimizer()->iterations(), full->optimizer()->iterations());
  fs::remove_all(dir);
}

TEST(Saving, WeightsFilesAndLegacyH5RoundTrip) {
  set_random_seed(8);
  auto [x, y] = token_task(64, 2);
  auto m = lstm_model();
  m->fit(x, y, {.batch_size = 32, .epochs = 1, .verbose = 0});
  std::string dir = tmpdir("weights");
  m->save_weights(dir + "/w.weights.h5");
  set_random_seed(99);
  auto other = lstm_model();
  other->load_weights(dir + "/w.weights.h5");
  EXPECT_EQ(flat_weights(*other), flat_weights(*m));
  EXPECT_THROW(m->save_weights(dir + "/w.h5"), Error);

  m->save(dir + "/legacy.h5");
  auto legacy = load_model(dir + "/legacy.h5");
  EXPECT_TRUE(legacy->compiled());
  EXPECT_EQ(flat_weights(*legacy), flat_weights(*m));
  set_random_seed(98);
  auto third = lstm_model();
  third->load_weights(dir + "/legacy.h5");  // legacy weights, by layer name
  EXPECT_EQ(flat_weights(*third), flat_weights(*m));
  EXPECT_THROW(m->save(dir + "/m.txt"), Error);
  fs::remove_all(dir);
}

TEST(Saving, FunctionalAndBidirectionalModelsRoundTrip) {
  set_random_seed(4);
  auto in = Input({7, 3});
  auto out = in | layers::Conv1D(4, 3) |
             layers::Bidirectional(layers::LSTM(3, {.return_sequences = true}),
                                   {.backward_layer = layers::GRU(2, {.return_sequences = true, .go_backwards = true})}) |
             layers::GRU(3, {.reset_after = false}) | layers::Dense(2) | layers::Dense(1);
  Model m(in, out, "func");
  m.compile({.optimizer = "adam", .loss = "mse"});
  Tensor x({4, 7, 3}), y({4, 1});
  Rng r(1);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = r.uniform(-1, 1);
  m.fit(x, y, {.batch_size = 2, .epochs = 1, .verbose = 0});
  auto back = model_from_keras_bytes(model_to_keras_bytes(m));
  Tensor a = m.predict(x), b = back->predict(x);
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]);
}

TEST(SavingErrors, NameTheFileLayerAndWeight) {
  set_random_seed(1);
  auto m = lstm_model();
  std::string bytes = model_to_keras_bytes(*m);

  std::string e = error_of([&] { model_from_keras_bytes(bytes.substr(0, bytes.size() / 2), true, "cut.keras"); });
  EXPECT_NE(e.find("cut.keras"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;

  auto files = unzip_all(bytes);
  auto bad = files;
  bad["config.json"] = replace_once(files["config.json"], "\"units\":1,", "\"units\":2,");
  e = error_of([&] { model_from_keras_bytes(zip_all(bad), true, "shape.keras"); });
  EXPECT_NE(e.find("layer 'dense"), std::string::npos) << e;
  EXPECT_NE(e.find("weight 'kernel' has shape (5, 1) in the file"), std::string::npos) << e;

  bad = files;
  bad["config.json"] = replace_once(files["config.json"], "\"class_name\":\"LSTM\"", "\"class_name\":\"ConvLSTM9D\"");
  e = error_of([&] { model_from_keras_bytes(zip_all(bad), true, "unsupported.keras"); });
  EXPECT_NE(e.find("unknown layer class 'ConvLSTM9D'"), std::string::npos) << e;

  bad = files;
  bad.erase("model.weights.h5");
  e = error_of([&] { model_from_keras_bytes(zip_all(bad), true, "noweights.keras"); });
  EXPECT_NE(e.find("model.weights.h5"), std::string::npos) << e;

  // A weights file without the Dense bias, loaded into a model that has one.
  std::string dir = tmpdir("errors");
  auto nobias = std::make_unique<Sequential>("imdb_small");
  nobias->add(Input({10}, {.dtype = DType::int32}));
  nobias->add(layers::Embedding(10, 6));
  nobias->add(layers::LSTM(5));
  nobias->add(layers::Dropout(0.25f));
  nobias->add(layers::Dense(1, {.activation = "sigmoid", .use_bias = false}));
  nobias->save_weights(dir + "/nobias.weights.h5");
  e = error_of([&] { m->load_weights(dir + "/nobias.weights.h5"); });
  EXPECT_NE(e.find("(Dense) expects 2 weights (kernel, bias)"), std::string::npos) << e;
  nobias->save(dir + "/nobias.h5");
  e = error_of([&] { m->load_weights(dir + "/nobias.h5"); });
  EXPECT_NE(e.find("expects 2 weights (kernel, bias)"), std::string::npos) << e;
  e = error_of([&] { load_model(dir + "/does-not-exist.keras"); });
  EXPECT_NE(e.find("does-not-exist.keras"), std::string::npos) << e;
  fs::remove_all(dir);
}

TEST(SavingAtomic, KillDuringSaveLeavesTheLastCheckpointLoadable) {
  // A model big enough (4 MB of weights) that a save takes a while; the child rewrites the same path
  // in a loop with weights all equal to its iteration, and is killed at varying moments.
  auto make = [] {
    auto m = std::make_unique<Sequential>("big");
    m->add(Input({1000}));
    m->add(layers::Dense(1000));
    return m;
  };
  std::string dir = tmpdir("kill");
  std::string path = dir + "/ck.keras";
  auto m = make();
  for (Param* p : m->params()) p->value.fill(-1.0f);
  m->save(path);
  for (int round = 0; round < 4; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0;; ++i) {
        for (Param* p : m->params()) p->value.fill(float(i));
        m->save(path);
      }
      _exit(0);
    }
    usleep(useconds_t(20000 + 37000 * round));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    auto loaded = load_model(path);
    auto w = flat_weights(*loaded);
    ASSERT_EQ(w.size(), 1001000u);
    for (float v : w) ASSERT_EQ(v, w[0]) << "a checkpoint mixes two saves";
  }
  fs::remove_all(dir);
}

TEST(SavingFuzz, DamagedBytesThrowErrorsNeverCrash) {
  set_random_seed(2);
  auto m = lstm_model();
  std::string keras = model_to_keras_bytes(*m);
  int errors = 0, loaded = 0;
  auto attempt = [&](const std::string& bytes) {
    try {
      model_from_keras_bytes(bytes, true, "fuzz.keras");
      ++loaded;
    } catch (const Error&) {
      ++errors;
    }
  };
  for (size_t cut = 0; cut < keras.size(); cut += std::max<size_t>(1, keras.size() / 97)) attempt(keras.substr(0, cut));
  Rng r(17);
  for (int i = 0; i < 300; ++i) {
    std::string b = keras;
    int flips = 1 + int(r.randint(0, 4));
    for (int k = 0; k < flips; ++k) b[size_t(r.randint(0, int64_t(b.size())))] ^= char(1 << r.randint(0, 8));
    attempt(b);
  }
  EXPECT_GT(errors, 100);

  // The JSON config: truncated and damaged texts inside an otherwise valid archive.
  auto files = unzip_all(keras);
  const std::string cfg = files["config.json"];
  for (size_t cut = 0; cut < cfg.size(); cut += std::max<size_t>(1, cfg.size() / 61)) {
    auto f = files;
    f["config.json"] = cfg.substr(0, cut);
    attempt(zip_all(f));
  }
  for (int i = 0; i < 200; ++i) {
    auto f = files;
    std::string c = cfg;
    c[size_t(r.randint(0, int64_t(c.size())))] = "{}[]\":,0a-9 "[r.randint(0, 12)];
    f["config.json"] = c;
    attempt(zip_all(f));
  }
  // Truncated legacy HDF5.
  std::string dir = tmpdir("fuzz");
  m->save(dir + "/m.h5");
  std::string h5 = read_file_bytes(dir + "/m.h5");
  for (size_t cut = 0; cut < h5.size(); cut += std::max<size_t>(1, h5.size() / 53)) {
    try {
      model_from_h5_bytes(h5.substr(0, cut));
      ++loaded;
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(loaded, 0);
  fs::remove_all(dir);
}

namespace {
struct KerasFixture {
  std::string name;
  Tensor x, pred;
};

std::vector<KerasFixture> keras_fixtures() {
  auto j = nlohmann::json::parse(read_file_bytes(std::string(SEQNET_FIXTURE_DIR) + "/model_files/predictions.json"));
  std::vector<KerasFixture> out;
  for (auto& [name, e] : j["models"].items()) {
    KerasFixture f;
    f.name = name;
    Shape xs = e["x_shape"].get<Shape>(), ps = e["pred_shape"].get<Shape>();
    auto xf = e["x"].flatten();
    std::vector<float> xv;
    std::function<void(const nlohmann::json&)> flat = [&](const nlohmann::json& v) {
      if (v.is_array())
        for (auto& c : v) flat(c);
      else
        xv.push_back(v.get<float>());
    };
    flat(e["x"]);
    if (e["x_dtype"] == "int32") {
      std::vector<int32_t> iv(xv.begin(), xv.end());
      f.x = Tensor(xs, iv);
    } else {
      f.x = Tensor(xs, xv);
    }
    xv.clear();
    flat(e["pred"]);
    f.pred = Tensor(ps, xv);
    out.push_back(std::move(f));
  }
  return out;
}
}  // namespace

TEST(KerasFiles, KerasAndLegacyH5FromKerasPredictTheSame) {
  auto fixtures = keras_fixtures();
  ASSERT_GE(fixtures.size(), 8u);
  for (auto& f : fixtures)
    for (const char* ext : {".keras", ".h5"}) {
      SCOPED_TRACE(f.name + ext);
      std::unique_ptr<Model> m;
      ASSERT_NO_THROW(m = load_model(std::string(SEQNET_FIXTURE_DIR) + "/model_files/" + f.name + ext));
      EXPECT_TRUE(m->compiled());
      Tensor p = m->predict(f.x);
      ASSERT_EQ(p.shape(), f.pred.shape());
      for (int64_t i = 0; i < p.size(); ++i) ASSERT_NEAR(p[i], f.pred[i], 1e-5) << i;
    }
}

TEST(KerasFiles, KerasOptimizerStateIsRead) {
  auto m = load_model(std::string(SEQNET_FIXTURE_DIR) + "/model_files/gru.keras");
  EXPECT_EQ(m->optimizer()->name(), "Adam");
  EXPECT_EQ(m->optimizer()->iterations(), 2);  // 8 samples, batch 4, one epoch
  auto ps = m->trainable_params();
  EXPECT_EQ(m->optimizer()->slots(ps[0]).size(), 2u);
  float norm = 0;
  for (int64_t i = 0; i < ps[0]->value.size(); ++i) norm += std::abs(m->optimizer()->slots(ps[0])[0][i]);
  EXPECT_GT(norm, 0.0f);
}

// With SEQNET_EXPORT_DIR set: re-saves every Keras fixture with seqnet, for
// `make_model_files.py --check-seqnet DIR` (Keras loads seqnet's files and compares predictions).
TEST(KerasFiles, SeqnetWritesKerasFilesForKeras) {
  const char* dir = std::getenv("SEQNET_EXPORT_DIR");
  if (!dir) GTEST_SKIP() << "set SEQNET_EXPORT_DIR to export seqnet-written .keras files";
  fs::create_directories(dir);
  fs::copy_file(std::string(SEQNET_FIXTURE_DIR) + "/model_files/predictions.json", std::string(dir) + "/predictions.json",
                fs::copy_options::overwrite_existing);
  for (auto& f : keras_fixtures()) {
    auto m = load_model(std::string(SEQNET_FIXTURE_DIR) + "/model_files/" + f.name + ".keras");
    m->save(std::string(dir) + "/" + f.name + ".keras");
  }
}

TEST(Saving, BitRotInAWeightsFileIsAnErrorNeverAnotherModel) {
  // seqnet writes every array with a Fletcher-32 checksum: a flipped bit anywhere in the file either makes
  // the file unreadable (a clear error) or leaves the model exactly as saved — never silently other weights.
  set_random_seed(4);
  auto m = lstm_model();
  std::string dir = tmpdir("bitrot");
  const std::string path = dir + "/w.weights.h5";
  m->save_weights(path);
  const std::string bytes = read_file_bytes(path);
  const auto want = flat_weights(*m);
  Rng rng(9);
  int errors = 0, same = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string damaged = bytes;
    const auto at = size_t(rng.randint(0, int64_t(damaged.size())));
    damaged[at] = char(damaged[at] ^ (1 << rng.randint(0, 8)));
    write_file_atomic(path, damaged);
    set_random_seed(4);
    auto r = lstm_model();
    try {
      r->load_weights(path);
    } catch (const Error&) {
      ++errors;
      continue;
    }
    const auto got = flat_weights(*r);
    size_t first = 0;
    while (first < got.size() && got[first] == want[first]) ++first;
    ASSERT_EQ(got, want) << "a flip at byte " << at << " of " << bytes.size() << " silently changed the weights from value "
                         << first << ": " << (first < got.size() ? got[first] : 0.0f) << " vs " << (first < want.size() ? want[first] : 0.0f);
    ++same;
  }
  EXPECT_GT(errors, 0);
  EXPECT_EQ(errors + same, 200);
  fs::remove_all(dir);
}


// A stateful model keeps its fixed batch size through its config: seqnet reads its own .keras files back.
TEST(KerasConfigs, StatefulModelsKeepTheirBatchSize) {
  const std::string keras3 = R"({"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [4, 10, 2], "dtype": "float32", "name": "x"}},
      {"class_name": "LSTM", "config": {"name": "lstm", "units": 3, "stateful": true}}]}})";
  const std::string keras2 = R"({"class_name": "Sequential", "keras_version": "2.2.4", "config": {"name": "s", "layers": [
      {"class_name": "LSTM", "config": {"name": "lstm", "units": 3, "stateful": true, "batch_input_shape": [4, 10, 2]}}]}})";
  for (const std::string& text : {keras3, keras2}) {
    auto m = model_from_json(text);
    EXPECT_EQ(m->input_shape(), (Shape{4, 10, 2}));
    const std::string dir = tmpdir("stateful");
    m->save(dir + "/s.keras");
    auto back = load_model(dir + "/s.keras", false);
    EXPECT_EQ(back->input_shape(), (Shape{4, 10, 2}));
    EXPECT_EQ(Json::parse(back->to_json())["config"]["layers"][0]["config"]["batch_shape"], Json::parse("[4, 10, 2]"));
  }
}

// Only a stateful model keeps a file's fixed batch size: any other runs on every batch size, as in Keras.
TEST(KerasConfigs, AFixedBatchSizeBindsOnlyStatefulModels) {
  auto m = model_from_json(R"({"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [32, 10, 2], "dtype": "float32", "name": "x"}},
      {"class_name": "LSTM", "config": {"name": "lstm", "units": 3}}]}})");
  EXPECT_EQ(m->predict(Tensor({5, 10, 2})).shape(), (Shape{5, 3}));
}
