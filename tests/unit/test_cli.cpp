// The seqnet command end to end: trains a tiny experiment for one epoch on generated data, checks the run
// folder, then runs evaluate, predict, summary (.keras, .h5, JSON), plot, report and datasets on it, and
// checks that failures print one line and exit 1.
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "gradcheck.h"
#include <thread>
#include <unistd.h>

#include "seqnet/seqnet.h"

using namespace seqnet;
namespace fs = std::filesystem;

#ifndef SEQNET_CLI
#define SEQNET_CLI ""
#endif

namespace {

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / fmt::format("seqnet_cli_{}", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "tiny.json") << R"({
  "name": "tiny_series",
  "description": "CLI test: SimpleRNN(4) -> TimeDistributed(Dense(1)) on 64 windows of the series",
  "seed": 5,
  "dataset": {"name": "series", "n_steps": 20, "train_samples": 64, "val_samples": 16, "test_samples": 16},
  "model": {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 20, 1], "dtype": "float32", "name": "x"}},
    {"class_name": "SimpleRNN", "config": {"name": "rnn", "units": 4, "return_sequences": true}},
    {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "Dense", "config": {"name": "d", "units": 1}}}}
  ]}},
  "compile": {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]},
  "fit": {"epochs": 3, "batch_size": 16},
  "callbacks": [{"class_name": "EarlyStopping", "config": {"patience": 2}},
                {"class_name": "CSVLogger", "config": {"filename": "training.log"}}]
})";
    std::ofstream(dir_ / "refs.md") << "## Reference results\n\n| experiment | source | metric | value | note |\n"
                                       "|---|---|---|---|---|\n| tiny_series | the notes | mse | 0.01 | made up |\n";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    if (std::string(SEQNET_CLI).empty()) GTEST_SKIP() << "built without the seqnet command";
  }

  static CmdResult run(const std::string& args) {
    CmdResult r;
    std::string out = (dir_ / "stdout.txt").string(), err = (dir_ / "stderr.txt").string();
    std::string cmd = fmt::format("cd '{}' && SEQNET_NUM_THREADS=1 '{}' {} > '{}' 2> '{}'", dir_.string(), SEQNET_CLI,
                                  args, out, err);
    int status = std::system(cmd.c_str());
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file_bytes(out);
    r.err = read_file_bytes(err);
    return r;
  }
  static void train_once() {
    if (trained_) return;
    CmdResult r = run("train tiny.json --epochs 1 --out run --verbose 0");
    ASSERT_EQ(r.rc, 0) << r.err;
    trained_ = true;
  }
  static inline fs::path dir_;
  static inline bool trained_ = false;
};

void expect_one_line_error(const CmdResult& r) {
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err.rfind("seqnet: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace

TEST_F(Cli, TrainWritesTheRunFolder) {
  train_once();
  for (const char* f : {"history.csv", "history.json", "loss.png", "mae.png", "best.keras", "model.json", "test.json",
                        "run.json", "report.md", "training.log"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / f)) << f;
  auto run_json = Json::parse(read_file_bytes((dir_ / "run" / "run.json").string()));
  EXPECT_EQ(run_json["epochs"], 1);  // --epochs overrides fit.epochs
  EXPECT_EQ(run_json["metric"], "mae");  // the first compile metric
  auto test = Json::parse(read_file_bytes((dir_ / "run" / "test.json").string()));
  EXPECT_TRUE(test.contains("loss"));
  EXPECT_TRUE(test.contains("baseline_mse"));
}

TEST_F(Cli, Evaluate) {
  train_once();
  CmdResult r = run("evaluate run/best.keras --experiment tiny.json");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto test = Json::parse(read_file_bytes((dir_ / "run" / "test.json").string()));
  EXPECT_NE(r.out.find(fmt::format("loss: {:.4f}", test["loss"].get<double>())), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Baseline test mse"), std::string::npos);
  expect_one_line_error(run("evaluate missing.keras --experiment tiny.json"));
  expect_one_line_error(run("evaluate run/best.keras --experiment tiny.json --set dataset.name=nope"));
}

TEST_F(Cli, Predict) {
  train_once();
  std::vector<float> x(3 * 20);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * float(i % 20);
  data::write_npy((dir_ / "x.npy").string(), data::NpyArray::from_values<float>({3, 20, 1}, x));
  CmdResult r = run("predict run/best.keras --input x.npy --output y.npy --batch-size 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto y = data::read_npy((dir_ / "y.npy").string());
  EXPECT_EQ(y.shape, (Shape{3, 20, 1}));
  // The same numbers as the model in-process.
  auto model = load_model((dir_ / "run" / "best.keras").string());
  Tensor expect = model->predict(data::read_npy((dir_ / "x.npy").string()).to_tensor(), 32);
  auto got = y.values<float>();
  for (int64_t i = 0; i < expect.size(); ++i) EXPECT_NEAR(got[size_t(i)], expect[i], 1e-6);
  // A wrong shape fails with one line.
  data::write_npy((dir_ / "bad.npy").string(), data::NpyArray::from_values<float>({2, 5}, std::vector<float>(10)));
  expect_one_line_error(run("predict run/best.keras --input bad.npy --output z.npy"));
  expect_one_line_error(run("predict run/best.keras --input missing.npy --output z.npy"));
  // The output's format follows its extension: .npz (array y) and .csv (one row per sample) too; any other
  // extension is an error, not NumPy bytes under a misleading name.
  ASSERT_EQ(run("predict run/best.keras --input x.npy --output y.npz").rc, 0);
  auto npz = data::read_npz((dir_ / "y.npz").string());
  ASSERT_TRUE(npz.count("y"));
  EXPECT_EQ(npz.at("y").values<float>(), got);
  ASSERT_EQ(run("predict run/best.keras --input x.npy --output y.csv").rc, 0);
  const std::string csv = read_file_bytes((dir_ / "y.csv").string());
  EXPECT_EQ(csv.substr(0, 8), "y0,y1,y2");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);  // the header and 3 samples of 20 values
  EXPECT_EQ(data::read_csv((dir_ / "y.csv").string()).values[21], got[21]);
  r = run("predict run/best.keras --input x.npy --output y.txt");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("must end in .npy, .npz (array \"y\") or .csv"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "y.txt"));
  // An .npz input: its array x, or the one named.
  data::write_npz((dir_ / "in.npz").string(), {{"x", data::NpyArray::from_values<float>({3, 20, 1}, x)},
                                               {"other", data::NpyArray::from_values<float>({1}, {0.0f})}});
  ASSERT_EQ(run("predict run/best.keras --input in.npz --output y2.npy").rc, 0);
  EXPECT_EQ(data::read_npy((dir_ / "y2.npy").string()).values<float>(), got);
  ASSERT_EQ(run("predict run/best.keras --input in.npz --input-key x --output y3.npy").rc, 0);
  r = run("predict run/best.keras --input in.npz --input-key nope --output y3.npy");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("has no array 'nope' (arrays: other, x)"), std::string::npos) << r.err;
  // A NaN in the input is named, not passed through as NaN predictions.
  x[25] = std::nanf("");
  data::write_npy((dir_ / "nan.npy").string(), data::NpyArray::from_values<float>({3, 20, 1}, x));
  r = run("predict run/best.keras --input nan.npy --output z.npy");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("nan.npy: value nan at flat index 25 (sample 1) is not finite"), std::string::npos) << r.err;
  // A full disk or a device that takes nothing is an error, never a "success" with the predictions lost.
  if (fs::exists("/dev/full")) {
    r = run("predict run/best.keras --input x.npy --output /dev/full");
    expect_one_line_error(r);
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  }
}

// Several inputs and outputs: .npz archives keyed by the model's input and output names.
TEST_F(Cli, PredictGraphModelsByInputAndOutputNames) {
  const std::string model = std::string(SEQNET_FIXTURE_DIR) + "/model_files/graph_two_input.keras";
  auto m = load_model(model);
  Tensor text = Tensor::ints({3, 10}, std::vector<int32_t>(30, 4)), numbers = Tensor::full({3, 3}, 0.5f);
  data::write_npz((dir_ / "two.npz").string(), {{"text", data::NpyArray::from_tensor(text)},
                                                {"numbers", data::NpyArray::from_tensor(numbers)}});
  CmdResult r = run("predict '" + model + "' --input two.npz --output two_y.npy");
  ASSERT_EQ(r.rc, 0) << r.err;
  seqnet::testing::expect_tensor_near(data::read_npy((dir_ / "two_y.npy").string()).to_tensor(), m->predict({text, numbers})[0], 1e-6);
  data::write_npz((dir_ / "one_missing.npz").string(), {{"text", data::NpyArray::from_tensor(text)}});
  r = run("predict '" + model + "' --input one_missing.npz --output z.npy");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("has no array 'numbers' for input 1"), std::string::npos) << r.err;

  const std::string two_out = std::string(SEQNET_FIXTURE_DIR) + "/model_files/graph_two_output.keras";
  data::write_npz((dir_ / "series.npz").string(), {{"series", data::NpyArray::from_tensor(seqnet::testing::random_tensor({4, 8, 3}, 1))}});
  r = run("predict '" + two_out + "' --input series.npz --output heads.npz");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto heads = data::read_npz((dir_ / "heads.npz").string());
  ASSERT_TRUE(heads.count("price") && heads.count("kind")) << "arrays named after the output layers";
  EXPECT_EQ(heads.at("kind").to_tensor().shape(), (Shape{4, 3}));
  r = run("predict '" + two_out + "' --input series.npz --output heads.npy");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("has 2 outputs; write them to an .npz archive"), std::string::npos) << r.err;
}

TEST_F(Cli, SummaryOfEveryModelForm) {
  train_once();
  auto model = load_model((dir_ / "run" / "best.keras").string());
  save_model(*model, (dir_ / "legacy.h5").string());
  for (const char* f : {"run/best.keras", "legacy.h5", "run/model.json"}) {
    CmdResult r = run(std::string("summary ") + f);
    ASSERT_EQ(r.rc, 0) << f << ": " << r.err;
    EXPECT_NE(r.out.find("Total params: 29"), std::string::npos) << f << ": " << r.out;
  }
  std::ofstream(dir_ / "garbage.keras") << "PK not a zip";
  expect_one_line_error(run("summary garbage.keras"));
}

TEST_F(Cli, PlotAndReport) {
  train_once();
  CmdResult r = run("plot run/history.csv --out figs --svg");
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* f : {"loss.png", "loss.svg", "mae.png", "mae.svg"}) EXPECT_TRUE(fs::exists(dir_ / "figs" / f)) << f;
  r = run("report run --out reports/all.md --references refs.md");
  ASSERT_EQ(r.rc, 0) << r.err;
  std::string md = read_file_bytes((dir_ / "reports" / "all.md").string());
  EXPECT_NE(md.find("| tiny_series [1] | mae |"), std::string::npos) << md;  // [1]: run with --epochs 1
  EXPECT_NE(md.find("1. tiny_series: fit.epochs=1"), std::string::npos) << md;
  EXPECT_NE(md.find("mse 0.01 | the notes |"), std::string::npos) << md;
  EXPECT_NE(md.find("](../run/loss.png)"), std::string::npos) << md;
  expect_one_line_error(run("report figs"));
  expect_one_line_error(run("plot missing.csv"));
}

TEST_F(Cli, DatasetsAndUsageErrors) {
  CmdResult r = run("datasets --data-dir " + dir_.string());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("series"), std::string::npos);
  EXPECT_NE(r.out.find("jena_climate"), std::string::npos);
  expect_one_line_error(run("train"));
  expect_one_line_error(run("no-such-command"));
  expect_one_line_error(run("train tiny.json --set fitt.epochs=1 --epochs 1"));
  expect_one_line_error(run("bench --threads x"));
  expect_one_line_error(run(fmt::format("summary '{}/tests/fixtures/hybrid_model.json' --line-length 100000000",
                                        SEQNET_SOURCE_DIR)));
  std::ofstream(dir_ / "broken_run.json") << "{bad";
  CmdResult report = run("report broken_run.json");
  expect_one_line_error(report);
  EXPECT_NE(report.err.find("broken_run.json"), std::string::npos) << report.err;
  // A data set that is not there: one line saying where it looked and what to do.
  CmdResult jena = run(fmt::format("train '{}/experiments/jena_gru.json' --epochs 1 --data-dir '{}' --out jena",
                                   SEQNET_SOURCE_DIR, (dir_ / "no_data").string()));
  expect_one_line_error(jena);
  EXPECT_NE(jena.err.find("SEQNET_DATA_DIR"), std::string::npos) << jena.err;
  // Nothing to train is an error, not an untrained model evaluated with exit 0.
  for (const char* bad : {"--epochs -1", "--epochs 0", "--epochs 1 --set fit.batch_size=0"}) {
    CmdResult r = run(std::string("train tiny.json --out bad ") + bad);
    expect_one_line_error(r);
    EXPECT_NE(r.err.find("must be at least 1"), std::string::npos) << bad << ": " << r.err;
  }
}

TEST_F(Cli, KernelVariantInTheVersionAndForcedByTheEnvironment) {
  CmdResult r = run("--version");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("(kernels: "), std::string::npos) << r.out;
  // Every x86-64 build that can run here has a variant the CPU runs; forcing an unknown one is one clear line.
  ::setenv("SEQNET_KERNELS", "sse9", 1);
  r = run("train tiny.json --epochs 1 --out forced --verbose 0");
  ::unsetenv("SEQNET_KERNELS");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("SEQNET_KERNELS=sse9: this build has no such kernel variant"), std::string::npos) << r.err;
}

namespace {

// Starts `seqnet ARGS` in the background (in the suite's folder) and SIGKILLs it once `file` holds `text`.
void kill_when(const fs::path& dir, const std::string& args, const fs::path& file, const std::string& text) {
  const fs::path pid_file = dir / "pid.txt";
  fs::remove(pid_file);
  const std::string cmd = fmt::format("cd '{}' && SEQNET_NUM_THREADS=1 '{}' {} > /dev/null 2>&1 & echo $! > '{}'",
                                      dir.string(), SEQNET_CLI, args, pid_file.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const pid_t pid = std::stoi(read_file_bytes(pid_file.string()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::exists(file, ec) && read_file_bytes(file.string()).find(text) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(fs::exists(file)) << "the run never wrote " << file;
}

std::vector<float> best_weights(const fs::path& keras) {
  std::vector<float> all;
  for (const Tensor& t : load_model(keras.string())->get_weights()) all.insert(all.end(), t.data(), t.data() + t.size());
  return all;
}

}  // namespace

TEST_F(Cli, TrainResumesAnInterruptedRunToTheSameResult) {
  // Dropout (the model's random stream), Adam's moments, ReduceLROnPlateau's counters, EarlyStopping's best
  // weights and CSVLogger's rows all carry over: the killed and resumed run ends exactly as the whole one.
  std::ofstream(dir_ / "resume.json") << R"({
  "name": "resume_series", "seed": 5,
  "dataset": {"name": "series", "n_steps": 20, "train_samples": 4000, "val_samples": 200, "test_samples": 200},
  "model": {"class_name": "Sequential", "config": {"name": "m", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 20, 1], "dtype": "float32", "name": "x"}},
    {"class_name": "SimpleRNN", "config": {"name": "rnn", "units": 32, "return_sequences": true, "dropout": 0.1}},
    {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "Dense", "config": {"name": "d", "units": 1}}}}
  ]}},
  "compile": {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]},
  "fit": {"epochs": 6, "batch_size": 32},
  "callbacks": [{"class_name": "EarlyStopping", "config": {"patience": 10, "restore_best_weights": true}},
                {"class_name": "ReduceLROnPlateau", "config": {"patience": 1, "factor": 0.5}},
                {"class_name": "CSVLogger", "config": {"filename": "training.log"}}]
})";
  CmdResult r = run("train resume.json --out whole --verbose 0");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "whole" / "checkpoint")) << "a finished run leaves nothing to resume";

  kill_when(dir_, "train resume.json --out cut --verbose 0", dir_ / "cut" / "checkpoint" / "state.json",
            "\"epochs_completed\":2");
  ASSERT_TRUE(fs::exists(dir_ / "cut" / "checkpoint"));
  r = run("train resume.json --out cut --verbose 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("Resuming the run in cut after epoch "), std::string::npos) << r.out;
  for (const char* f : {"history.csv", "test.json", "training.log"})
    EXPECT_EQ(read_file_bytes((dir_ / "cut" / f).string()), read_file_bytes((dir_ / "whole" / f).string())) << f;
  EXPECT_EQ(best_weights(dir_ / "cut" / "best.keras"), best_weights(dir_ / "whole" / "best.keras"));
  EXPECT_FALSE(fs::exists(dir_ / "cut" / "checkpoint"));

  // --resume with nothing to resume, and an interrupted run of another experiment, are one-line errors.
  r = run("train resume.json --out cut --resume --verbose 0");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("nothing to resume"), std::string::npos) << r.err;
  kill_when(dir_, "train resume.json --out other --verbose 0", dir_ / "other" / "checkpoint" / "state.json",
            "\"epochs_completed\":1");
  r = run("train resume.json --out other --set fit.batch_size=16 --verbose 0");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("fit.batch_size"), std::string::npos) << r.err;
  r = run("train resume.json --out other --restart --epochs 1 --verbose 0");
  EXPECT_EQ(r.rc, 0) << r.err;
}

TEST_F(Cli, TrainResumesAGeneratorRunToTheSameResult) {
  // The book's generators keep their place between epochs (the shuffling draws; the validation anchors when
  // validation_steps is shorter than a pass): both carry over too.
  const char* data = std::getenv("SEQNET_DATA_DIR");
  if (!data || !fs::exists(fs::path(data) / "beijing_pm25"))
    GTEST_SKIP() << "the Beijing weather CSV is not in $SEQNET_DATA_DIR (e.g. ../shared/data)";
  const std::string args = fmt::format(
      "train '{}/experiments/weather_gru.json' --epochs 4 --set dataset.batch_size=16 --set fit.steps_per_epoch=8 "
      "--set fit.validation_steps=3 --set evaluate.steps=3 --data-dir '{}' --verbose 0",
      SEQNET_SOURCE_DIR, data);
  CmdResult r = run(args + " --out weather_whole");
  ASSERT_EQ(r.rc, 0) << r.err;
  kill_when(dir_, args + " --out weather_cut", dir_ / "weather_cut" / "checkpoint" / "state.json",
            "\"epochs_completed\":2");
  r = run(args + " --out weather_cut");
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* f : {"history.csv", "test.json"})
    EXPECT_EQ(read_file_bytes((dir_ / "weather_cut" / f).string()), read_file_bytes((dir_ / "weather_whole" / f).string()))
        << f;
}

// The user's own arrays: train, evaluate and predict on .npz / .npy files, end to end.
TEST_F(Cli, TrainEvaluateAndPredictOnNumpyArrays) {
  // y = the sum of a window of 8 steps of 2 features, plus noise-free structure a Dense model can learn.
  auto make = [](int64_t n, uint64_t seed) {
    Rng rng(seed);
    std::vector<float> x(size_t(n * 8 * 2)), y(static_cast<size_t>(n), 0.0f);
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < 16; ++j) s += x[size_t(i * 16 + j)] = rng.uniform() - 0.5f;
      y[size_t(i)] = float(s);
    }
    return std::pair{data::NpyArray::from_values<float>({n, 8, 2}, x), data::NpyArray::from_values<float>({n}, y)};
  };
  auto [xt, yt] = make(256, 1);
  auto [xv, yv] = make(64, 2);
  auto [xs, ys] = make(64, 3);
  data::write_npz((dir_ / "arrays.npz").string(), {{"x_train", xt}, {"y_train", yt}, {"x_val", xv}, {"y_val", yv}});
  data::write_npy((dir_ / "x_test.npy").string(), xs);
  data::write_npy((dir_ / "y_test.npy").string(), ys);
  std::ofstream(dir_ / "arrays.json") << R"({
  "name": "own_arrays", "seed": 3,
  "dataset": {"name": "numpy",
              "train": {"path": "arrays.npz", "x": "x_train", "y": "y_train"},
              "validation": {"path": "arrays.npz", "x": "x_val", "y": "y_val"},
              "test": {"x": "x_test.npy", "y": "y_test.npy"}},
  "model": {"class_name": "Sequential", "config": {"name": "m", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 2], "dtype": "float32", "name": "x"}},
    {"class_name": "Flatten", "config": {"name": "f"}},
    {"class_name": "Dense", "config": {"name": "d", "units": 1}}]}},
  "compile": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.05}}, "loss": "mse", "metrics": ["mae"]},
  "fit": {"epochs": 15, "batch_size": 32}
})";
  CmdResult r = run("train arrays.json --out arrays_run");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("numpy: 256 training, 64 validation and 64 test samples of (8, 2) (float32)"), std::string::npos) << r.out;
  auto test = Json::parse(read_file_bytes((dir_ / "arrays_run" / "test.json").string()));
  EXPECT_LT(test["mae"].get<double>(), 0.1) << "a linear target a Dense model should learn";
  r = run("evaluate arrays_run/best.keras --experiment arrays.json");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find(fmt::format("mae: {:.4f}", test["mae"].get<double>())), std::string::npos) << r.out;
  ASSERT_EQ(run("predict arrays_run/best.keras --input arrays.npz --input-key x_val --output pv.npy").rc, 0);
  const auto pv = data::read_npy((dir_ / "pv.npy").string()).values<float>();
  const auto want = yv.values<float>();
  double mae = 0;
  for (size_t i = 0; i < want.size(); ++i) mae += std::fabs(pv[i] - want[i]) / double(want.size());
  EXPECT_LT(mae, 0.1);
  // Bad arrays: one line naming the file and what is wrong.
  data::write_npz((dir_ / "short.npz").string(), {{"x", xt}, {"y", yv}});
  r = run("train arrays.json --set dataset.train=short.npz --set fit.epochs=1");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("short.npz: x holds 256 samples and y 64"), std::string::npos) << r.err;
  r = run("train arrays.json --set dataset.train=arrays.npz --set fit.epochs=1");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("arrays.npz: no array 'x' (arrays: x_train, x_val, y_train, y_val)"), std::string::npos) << r.err;
  std::vector<float> bad = xt.values<float>();
  bad[17] = std::numeric_limits<float>::infinity();
  data::write_npy((dir_ / "x_inf.npy").string(), data::NpyArray::from_values<float>({256, 8, 2}, bad));
  r = run("train arrays.json --set 'dataset.train={\"x\": \"x_inf.npy\", \"y\": \"y_test.npy\"}' --set fit.epochs=1");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("x_inf.npy: value inf at flat index 17 (sample 1) is not finite"), std::string::npos) << r.err;
}

// A station with a wind-direction text column and year/month/day/hour columns: the categories are saved with
// the run and evaluate on another file (where one direction never occurs) uses them.
TEST_F(Cli, TextCategoriesAndTimeFeaturesTravelWithTheRun) {
  auto station = [](const fs::path& path, int rows, bool all_directions) {
    std::ofstream f(path);
    f << "year,month,day,hour,TEMP,wd\n";
    const char* dirs[] = {"NE", "NW", "SE", "cv"};
    for (int r = 0; r < rows; ++r)
      f << fmt::format("2014,{},{},{},{:.1f},{}\n", 1 + r / (24 * 28), 1 + (r / 24) % 28, r % 24, 10 + 8 * std::sin(r * 0.26),
                       dirs[all_directions ? r % 4 : r % 3]);
  };
  station(dir_ / "st_train.csv", 600, true);
  station(dir_ / "st_other.csv", 300, false);
  std::ofstream(dir_ / "st.json") << R"({
  "name": "station", "seed": 2,
  "dataset": {"name": "csv", "path": "st_train.csv", "columns": ["TEMP", "wd"], "target": "TEMP",
              "text_columns": {"wd": "one_hot"},
              "time_features": {"year": "year", "month": "month", "day": "day", "hour": "hour"},
              "lookback": 24, "delay": 6, "batch_size": 16,
              "train_rows": [0, 0.5], "val_rows": [0.5, 0.75], "test_rows": [0.75, null]},
  "model": {"class_name": "Sequential", "config": {"name": "m", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 24, 9], "dtype": "float32", "name": "w"}},
    {"class_name": "GRU", "config": {"name": "gru", "units": 4}},
    {"class_name": "Dense", "config": {"name": "t", "units": 1}}]}},
  "compile": {"optimizer": "rmsprop", "loss": "mae"},
  "fit": {"epochs": 1, "steps_per_epoch": 3}
})";
  CmdResult r = run("train st.json --out st_run --verbose 0");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto pre = Json::parse(read_file_bytes((dir_ / "st_run" / "preprocessing.json").string()));
  EXPECT_EQ(pre["categories"]["wd"], Json({"NE", "NW", "SE", "cv"}));
  EXPECT_EQ(pre["features"], Json({"TEMP", "wd_NE", "wd_NW", "wd_SE", "wd_cv", "hour_sin", "hour_cos", "day_sin", "day_cos"}));
  r = run("evaluate st_run/best.keras --experiment st.json --set dataset.path=st_other.csv");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("csv: 300 rows, no NA, 0 dropped, 9 features"), std::string::npos) << r.out;
  fs::rename(dir_ / "st_run" / "preprocessing.json", dir_ / "st_run" / "moved.json");
  r = run("evaluate st_run/best.keras --experiment st.json --set dataset.path=st_other.csv");
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("dataset.text_columns.wd: the categories the model was trained with are not known"), std::string::npos)
      << r.err;
}
