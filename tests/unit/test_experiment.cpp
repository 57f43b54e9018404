// The experiment runner: overrides, the series and Jena data sets, callbacks from the file, baselines,
// the run folder's files, and the report table.
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <zlib.h>

#include <functional>
#include <set>

#include "seqnet/experiment.h"
#include "seqnet/seqnet.h"
#include "fixtures.h"

using namespace seqnet;
namespace fs = std::filesystem;
using seqnet::testing::error_of;
using seqnet::testing::temp_dir;

namespace {

Json tiny_series_spec() {
  return Json::parse(R"({
    "name": "tiny_series",
    "description": "a tiny sequence-to-sequence run",
    "seed": 7,
    "dataset": {"name": "series", "n_steps": 20, "train_samples": 64, "val_samples": 16, "test_samples": 16},
    "model": {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 20, 1], "dtype": "float32", "name": "x"}},
      {"class_name": "SimpleRNN", "config": {"name": "rnn", "units": 4, "return_sequences": true}},
      {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "Dense", "config": {"name": "d", "units": 1}}}}
    ]}},
    "compile": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}}, "loss": "mse", "metrics": ["mae"]},
    "fit": {"epochs": 2, "batch_size": 16}
  })");
}

// A Jena-format CSV: "Date Time" then 14 numeric columns, 10-minute rows; T (degC) a ramp of `slope`
// per row so that the common-sense baseline's MAE is exactly delay * slope.
std::string write_jena_csv(const fs::path& dir, int rows, double slope) {
  fs::path p = dir / "jena_climate_2009_2016.csv";
  std::ofstream f(p);
  f << "\"Date Time\",\"p (mbar)\",\"T (degC)\",\"Tpot (K)\",\"Tdew (degC)\",\"rh (%)\",\"VPmax (mbar)\",\"VPact (mbar)\","
       "\"VPdef (mbar)\",\"sh (g/kg)\",\"H2OC (mmol/mol)\",\"rho (g/m**3)\",\"wv (m/s)\",\"max. wv (m/s)\",\"wd (deg)\"\n";
  for (int r = 0; r < rows; ++r) {
    int minutes = (r + 1) * 10;
    f << fmt::format("{:02d}.01.2009 {:02d}:{:02d}:00", 1 + minutes / 1440, (minutes / 60) % 24, minutes % 60);
    double t = -8.0 + slope * r;
    double cols[14] = {996.5 + std::sin(r * 0.1), t, t + 273.15, t - 1.0, 93.3, 3.3, 3.1, 0.2, 1.9, 3.1, 1307.7,
                       1.0 + 0.5 * std::cos(r * 0.2), 1.75, 152.3};
    for (double c : cols) f << fmt::format(",{:.4f}", c);
    f << "\n";
  }
  return p.string();
}

Json jena_dataset(const std::string& path) {
  return Json{{"name", "jena_climate"},
              {"path", path},
              {"columns", {"p (mbar)", "T (degC)", "rh (%)", "wv (m/s)"}},
              {"target", "T (degC)"},
              {"lookback", 24},
              {"step", 2},
              {"delay", 6},
              {"batch_size", 16},
              {"train_rows", {0, 0.5}},
              {"val_rows", {0.5, 0.75}},
              {"test_rows", {0.75, nullptr}}};
}

}  // namespace

TEST(Experiment, OverridesSetNestedValues) {
  Json spec = tiny_series_spec();
  apply_override(spec, "fit.epochs=5");
  apply_override(spec, "dataset.train_samples=32");
  apply_override(spec, "compile.loss=mae");  // not JSON: a string
  apply_override(spec, "report.metric=\"mae\"");
  EXPECT_EQ(spec["fit"]["epochs"], 5);
  EXPECT_EQ(spec["dataset"]["train_samples"], 32);
  EXPECT_EQ(spec["compile"]["loss"], "mae");
  EXPECT_EQ(spec["report"]["metric"], "mae");
  EXPECT_THROW(apply_override(spec, "no_equals_sign"), Error);
  EXPECT_THROW(apply_override(spec, "name.sub=1"), Error);  // "name" is a string
}

TEST(Experiment, SeriesRunWritesTheRunFolder) {
  fs::path dir = temp_dir("exp_series");
  ExperimentOptions o;
  o.verbose = 0;
  o.out_dir = dir.string();
  ExperimentResult r = run_experiment(tiny_series_spec(), "", o);
  EXPECT_EQ(r.epochs_run, 2);
  EXPECT_EQ(r.metric, "mae");  // the first compile metric
  ASSERT_TRUE(r.best_val.has_value());
  EXPECT_GE(r.best_epoch, 1);
  ASSERT_TRUE(r.test_metric.has_value());
  EXPECT_TRUE(r.test.contains("mae"));
  // The last-value baseline of the series is positive and the same for any model.
  ASSERT_TRUE(r.baseline_test.count("mse"));
  EXPECT_GT(r.baseline_test.at("mse"), 0.1);
  for (const char* f : {"history.csv", "history.json", "loss.png", "mae.png", "best.keras", "model.json", "test.json",
                        "run.json", "report.md"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  History h = read_history_csv((dir / "history.csv").string());
  EXPECT_EQ(h.epoch.size(), 2u);
  EXPECT_TRUE(h.contains("val_loss"));
  Json run = Json::parse(read_file_bytes((dir / "run.json").string()));
  EXPECT_EQ(run["name"], "tiny_series");
  EXPECT_EQ(run["epochs"], 2);
  EXPECT_NEAR(run["test_metric"].get<double>(), *r.test_metric, 1e-12);
  std::string report = read_file_bytes((dir / "report.md").string());
  EXPECT_NE(report.find("# tiny_series"), std::string::npos);
  EXPECT_NE(report.find("best validation mae"), std::string::npos);
  EXPECT_NE(report.find("![loss](loss.png)"), std::string::npos);
  // best.keras holds the best epoch's weights; the test split was evaluated with them.
  auto best = load_model((dir / "best.keras").string());
  auto t = evaluate_on_experiment(*best, tiny_series_spec(), o);
  EXPECT_NEAR(t.logs.get("loss").value(), r.test.get("loss").value(), 1e-5);
  fs::remove_all(dir);
}

TEST(Experiment, SameSeedSameRun) {
  ExperimentOptions o;
  o.verbose = 0;
  auto a = run_experiment(tiny_series_spec(), "", o);
  auto b = run_experiment(tiny_series_spec(), "", o);
  EXPECT_EQ(a.history["loss"], b.history["loss"]);
  o.seed = 8;
  auto c = run_experiment(tiny_series_spec(), "", o);
  EXPECT_NE(a.history["loss"], c.history["loss"]);
}

TEST(Experiment, CallbacksFromTheFile) {
  fs::path dir = temp_dir("exp_callbacks");
  Json spec = tiny_series_spec();
  spec["fit"]["epochs"] = 6;
  // No epoch improves val_loss by 1e9: EarlyStopping(patience 1) stops after the third epoch.
  spec["callbacks"] = Json::parse(R"([
    {"class_name": "EarlyStopping", "config": {"monitor": "val_loss", "patience": 1, "min_delta": 1e9, "restore_best_weights": true}},
    {"class_name": "ReduceLROnPlateau", "config": {"monitor": "val_loss", "factor": 0.5, "patience": 1}},
    {"class_name": "CSVLogger", "config": {"filename": "training.log"}},
    {"class_name": "ModelCheckpoint", "config": {"filepath": "epoch-{epoch:02d}.keras"}}
  ])");
  ExperimentOptions o;
  o.verbose = 0;
  o.out_dir = dir.string();
  auto r = run_experiment(spec, "", o);
  EXPECT_EQ(r.epochs_run, 2);
  EXPECT_TRUE(fs::exists(dir / "training.log"));
  EXPECT_TRUE(fs::exists(dir / "epoch-01.keras"));
  EXPECT_TRUE(fs::exists(dir / "epoch-02.keras"));
  EXPECT_TRUE(fs::exists(dir / "best.keras"));  // added by the runner
  fs::remove_all(dir);

  spec["callbacks"] = Json::parse(R"([{"class_name": "EarlyStopping", "config": {"patience": 1, "bogus": 2}}])");
  EXPECT_THROW(run_experiment(spec, "", o), Error);
  spec["callbacks"] = Json::parse(R"([{"class_name": "NoSuchCallback"}])");
  EXPECT_THROW(run_experiment(spec, "", o), Error);
}

TEST(Experiment, UnknownKeysAndKindsFail) {
  ExperimentOptions o;
  o.verbose = 0;
  Json spec = tiny_series_spec();
  spec["fitt"] = Json::object();
  EXPECT_THROW(run_experiment(spec, "", o), Error);
  spec = tiny_series_spec();
  spec["kind"] = "something";
  EXPECT_THROW(run_experiment(spec, "", o), Error);
  spec = tiny_series_spec();
  spec["dataset"]["name"] = "nope";
  EXPECT_THROW(run_experiment(spec, "", o), Error);
}

TEST(Experiment, JenaCsvBaselineIsExact) {
  fs::path dir = temp_dir("exp_jena");
  const double slope = 0.01;
  std::string csv = write_jena_csv(dir, 400, slope);
  Json spec = {{"name", "jena_baseline"}, {"kind", "baseline"}, {"dataset", jena_dataset(csv)}};
  ExperimentOptions o;
  o.verbose = 0;
  o.out_dir = (dir / "run").string();
  auto r = run_experiment(spec, "", o);
  ASSERT_TRUE(r.target_std.has_value());
  EXPECT_EQ(r.units, "°C");
  // T rises by `slope` a row. As in the book's evaluate_naive_method, "now" is the window's last sample,
  // samples[:, -1], which is `step` rows before the anchor: the target lies delay + step = 8 rows later.
  EXPECT_NEAR(r.baseline_val.at("mae") * *r.target_std, 8 * slope, 1e-5);
  EXPECT_NEAR(r.baseline_test.at("mae") * *r.target_std, 8 * slope, 1e-5);
  EXPECT_TRUE(fs::exists(dir / "run" / "report.md"));
  Json run = Json::parse(read_file_bytes((dir / "run" / "run.json").string()));
  EXPECT_EQ(run["kind"], "baseline");
  EXPECT_NE(read_file_bytes((dir / "run" / "report.md").string()).find("0.08 °C"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Experiment, JenaCsvTrainsWithTheGenerator) {
  fs::path dir = temp_dir("exp_jena_train");
  std::string csv = write_jena_csv(dir, 400, 0.01);
  Json spec = Json::parse(R"({
    "name": "jena_dense", "seed": 3,
    "model": {"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 12, 4], "dtype": "float32", "name": "w"}},
      {"class_name": "Flatten", "config": {"name": "f"}},
      {"class_name": "Dense", "config": {"name": "t", "units": 1}}]}},
    "compile": {"optimizer": "rmsprop", "loss": "mae"},
    "fit": {"epochs": 1, "steps_per_epoch": 3}
  })");
  spec["dataset"] = jena_dataset(csv);
  ExperimentOptions o;
  o.verbose = 0;
  auto r = run_experiment(spec, "", o);
  EXPECT_EQ(r.metric, "mae");
  EXPECT_EQ(r.epochs_run, 1);
  ASSERT_TRUE(r.test_metric.has_value());
  EXPECT_TRUE(std::isfinite(*r.test_metric));
  ASSERT_TRUE(r.baseline_mae.has_value());
  fs::remove_all(dir);
}

TEST(Experiment, BaselineNeedsAForecastingDataSet) {
  Json spec = {{"name", "b"}, {"kind", "baseline"}, {"dataset", {{"name", "series"}, {"train_samples", 8}, {"val_samples", 0}, {"test_samples", 8}}}};
  ExperimentOptions o;
  o.verbose = 0;
  auto r = run_experiment(spec, "", o);
  EXPECT_TRUE(r.baseline_test.count("mae"));
  spec["dataset"] = {{"name", "mnist"}, {"path", "/nonexistent"}};
  EXPECT_THROW(run_experiment(spec, "", o), Error);
}

TEST(Experiment, ReportTableWithReferences) {
  fs::path dir = temp_dir("exp_report");
  std::ofstream(dir / "refs.md") << "# Experiments\n\n## Reference results\n\n"
                                    "| experiment | source | metric | value | note |\n|---|---|---|---|---|\n"
                                    "| `weather_gru` | DLwP 6.39 | val MAE | 0.265 | Jena |\n"
                                    "| imdb_conv1d | DLwP 6.46 | val acc | ~0.86 | |\n\n## Other\n\n| a | b | c | d |\n|---|---|---|---|\n| x | y | z | w |\n";
  auto refs = read_reference_table((dir / "refs.md").string());
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs["weather_gru"]["value"], "0.265");
  EXPECT_EQ(refs["imdb_conv1d"]["source"], "DLwP 6.46");
  Json run = {{"name", "weather_gru"}, {"kind", "train"}, {"metric", "mae"}, {"best_val", 0.25}, {"best_epoch", 3},
              {"test_metric", 0.3}, {"epochs", 4}, {"seconds_per_epoch", 12.5}, {"target_std", 10.0},
              {"units", "°C"}, {"baseline_test", {{"mae", 0.32}}}};
  std::string md = runs_report_markdown({run}, refs);
  EXPECT_NE(md.find("| weather_gru | mae | 0.2500 (2.50 °C) (3) | 0.3000 (3.00 °C) | 0.3200 (3.20 °C) | 4 | 12.5 | val MAE 0.265 | DLwP 6.39 |"),
            std::string::npos)
      << md;
  fs::remove_all(dir);
}

namespace {

// An hourly station: TEMP a daily cycle, PRES slow, "pm" NA in most rows (never selected); `gaps`: NA in TEMP.
void write_station(const fs::path& path, int rows, const std::set<int>& gaps) {
  std::string s = "No,TEMP,PRES,pm\n";
  for (int r = 0; r < rows; ++r)
    s += fmt::format("{},{},{:.2f},{}\n", r, gaps.count(r) ? "NA" : fmt::format("{:.2f}", 10 + 8 * std::sin(r * 0.26)),
                     1010 + 0.01 * r, r % 7 ? "NA" : "40");
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, s.data(), unsigned(s.size()));
  gzclose(f);
}

Json stations_spec(const fs::path& dir) {
  Json spec = Json::parse(R"({
    "name": "stations", "kind": "baseline",
    "dataset": {"name": "csv", "columns": ["TEMP", "PRES"], "target": "TEMP", "lookback": 24, "delay": 6,
                "batch_size": 8, "train_rows": [0, 0.5], "val_rows": [0.5, 0.75], "test_rows": [0.75, null]}
  })");
  spec["dataset"]["path"] = (dir / "station_*.csv.gz").string();
  return spec;
}

}  // namespace

// The issue's case: two gzip'd station files with gaps in TEMP and an NA-riddled column nobody asked for.
TEST(Experiment, CsvStationsWithGapsSayWhatWasDone) {
  fs::path dir = temp_dir("exp_stations");
  write_station(dir / "station_a.csv.gz", 400, {30, 31, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209});
  write_station(dir / "station_b.csv.gz", 300, {100});
  Json spec = stations_spec(dir);
  ExperimentOptions o;
  o.verbose = 0;
  // fail is the default: the first NA, where it is and how many there are.
  EXPECT_EQ(error_of([&] { run_experiment(spec, "", o); }),
            (dir / "station_a.csv.gz").string() +
                ": line 32, column \"TEMP\": missing value (12 missing in this column; choose a policy: drop, "
                "interpolate, ffill or fill)");
  spec["dataset"]["na_policy"] = Json::parse(R"({"policy": "interpolate", "max_gap": 3})");
  auto r = run_experiment(spec, "", o);
  EXPECT_EQ(r.data_description,
            "csv: 2 files, 700 rows, 3 NA in TEMP interpolated, 10 dropped (3 unbroken runs), 2 features, "
            "lookback 24 step 1 delay 6, target TEMP");
  spec["dataset"]["na_policy"] = "drop";
  r = run_experiment(spec, "", o);
  EXPECT_EQ(r.data_description,
            "csv: 2 files, 700 rows, 13 dropped (5 unbroken runs), 30 rows in stretches too short for a window "
            "(lookback + delay + 1 = 31 rows), 2 features, lookback 24 step 1 delay 6, target TEMP");
  // By file: station_a trains, station_b validates and tests.
  spec["dataset"]["split"] = "files";
  EXPECT_EQ(error_of([&] { run_experiment(spec, "", o); }), "dataset.train_rows needs dataset.split = \"rows\"");
  for (const char* k : {"train_rows", "val_rows", "test_rows"}) spec["dataset"].erase(k);
  spec["dataset"]["train_files"] = {0, 1};
  spec["dataset"]["val_files"] = {1, 2};
  spec["dataset"]["test_files"] = {1, 2};
  r = run_experiment(spec, "", o);
  EXPECT_TRUE(r.baseline_test.count("mae"));
  fs::remove_all(dir);
}

TEST(Experiment, DatasetErrorsNameTheKey) {
  fs::path dir = temp_dir("exp_keys");
  write_station(dir / "station_a.csv.gz", 200, {});
  ExperimentOptions o;
  o.verbose = 0;
  auto with = [&](const char* key, const Json& v) {
    Json spec = stations_spec(dir);
    spec["dataset"][key] = v;
    return error_of([&] { run_experiment(spec, "", o); });
  };
  EXPECT_EQ(with("path", 3), "dataset.path: expected a string or a list of strings, got 3");
  EXPECT_EQ(with("path", Json::array({"a.csv", 2})),
            "dataset.path: expected a string or a list of strings, got [\"a.csv\",2]");
  EXPECT_EQ(with("path", (dir / "nothing_*.csv").string()), "'" + (dir / "nothing_*.csv").string() + "' matches no file");
  EXPECT_EQ(with("lookback", "24"), "dataset.lookback: expected a whole number, got \"24\"");
  EXPECT_EQ(with("columns", "TEMP"), "dataset.columns: expected a list of strings, got \"TEMP\"");
  EXPECT_EQ(with("target", "DEWP"), "dataset.target: the target column 'DEWP' must be one of dataset.columns");
  EXPECT_EQ(with("columns", Json::array({"TEMP", "DEWP"})), (dir / "station_a.csv.gz").string() + ": no column \"DEWP\" in the header");
  EXPECT_EQ(with("na_policy", "zero"), "unknown missing-value policy 'zero' (known: fail, drop, interpolate, ffill, fill)");
  EXPECT_EQ(with("na_policy", "fill"), "dataset.na_policy: the fill policy needs a value: {\"policy\": \"fill\", \"value\": 0}");
  EXPECT_EQ(with("na_columns", Json{{"pm", "drop"}}), "dataset.na_columns: 'pm' is not one of dataset.columns or the time_features columns");
  EXPECT_EQ(with("train_rows", Json::array({0, 900})), "dataset.train_rows = [0, 900) is not within the 200 rows of each file");
  fs::remove_all(dir);
}

// dataset.normalization = "model" (the default): the statistics of the training rows live in a Normalization
// layer at the model's input; evaluating on another file uses them and fits nothing.
TEST(Experiment, ForecasterNormalizesItsRawInputsAndEvaluateNeverRefits) {
  fs::path dir = temp_dir("exp_norm_model");
  write_station(dir / "station_a.csv.gz", 300, {});
  Json spec = stations_spec(dir);
  spec["kind"] = "train";
  spec["model"] = Json::parse(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 24, 2], "dtype": "float32", "name": "w"}},
      {"class_name": "GRU", "config": {"name": "gru", "units": 3}},
      {"class_name": "Dense", "config": {"name": "t", "units": 1}}]}})");
  spec["compile"] = {{"optimizer", "rmsprop"}, {"loss", "mae"}};
  spec["fit"] = {{"epochs", 1}, {"steps_per_epoch", 2}};
  ExperimentOptions o;
  o.verbose = 0;
  o.out_dir = (dir / "run").string();
  auto r = run_experiment(spec, "", o);
  auto model = load_model((dir / "run" / "best.keras").string());
  auto* norm = dynamic_cast<Normalization*>(model->layers().front().get());
  ASSERT_NE(norm, nullptr) << "no Normalization layer first in best.keras";
  // TEMP over the training rows 0..149 of 10 + 8 sin(0.26 r).
  double sum = 0, sq = 0;
  for (int i = 0; i < 150; ++i) sum += double(float(std::round((10 + 8 * std::sin(i * 0.26)) * 100) / 100));
  const double mean = sum / 150;
  for (int i = 0; i < 150; ++i) {
    const double d = double(float(std::round((10 + 8 * std::sin(i * 0.26)) * 100) / 100)) - mean;
    sq += d * d;
  }
  EXPECT_NEAR(norm->mean()[0], mean, 1e-4);
  EXPECT_NEAR(norm->variance()[0], sq / 150, 1e-3);
  EXPECT_NEAR(*r.target_std, std::sqrt(sq / 150), 1e-5);

  // Another station, hotter: evaluate uses the model's statistics for the targets too, not this file's.
  std::string s = "No,TEMP,PRES,pm\n";
  for (int i = 0; i < 300; ++i) s += fmt::format("{},{:.2f},{:.2f},NA\n", i, 30 + 2 * std::sin(i * 0.26), 1010.0);
  std::ofstream(dir / "hot.csv") << s;
  Json other = spec;
  other["dataset"]["path"] = (dir / "hot.csv").string();
  auto t = evaluate_on_experiment(*model, other, o);
  EXPECT_NEAR(*t.target_std, std::sqrt(double(norm->variance()[0])), 1e-5);
  EXPECT_GT(t.baseline_test.at("mae"), 0.0);
  // "data" normalizes the windows beforehand: a Normalization layer first would normalize them twice.
  Json twice = spec;
  twice["dataset"]["normalization"] = "data";
  twice["model"]["config"]["layers"].insert(twice["model"]["config"]["layers"].begin() + 1,
                                            Json::parse(R"({"class_name": "Normalization", "config": {"name": "n"}})"));
  EXPECT_NE(error_of([&] { run_experiment(twice, "", o); }).find("would normalize them again"), std::string::npos);
  fs::remove_all(dir);
}

// The graph experiments of the README, shortened: the repo's own files, a few hundred problems, one epoch.
TEST(Experiment, SequenceTaskExperimentsRunAndReportExactMatch) {
  for (const char* name : {"addition_rnn", "reverse_digits_enc_dec"}) {
    SCOPED_TRACE(name);
    Json spec = Json::parse(read_file_bytes(std::string(SEQNET_SOURCE_DIR) + "/experiments/" + name + ".json"));
    spec["dataset"]["train_samples"] = 256;
    spec["dataset"]["validation_samples"] = 64;
    spec["dataset"]["test_samples"] = 64;
    spec["fit"]["epochs"] = 1;
    ExperimentOptions o;
    o.verbose = 0;
    ExperimentResult r = run_experiment(spec, "", o);
    ASSERT_TRUE(r.test.contains("exact_match"));
    EXPECT_GE(*r.test.get("exact_match"), 0.0);
    EXPECT_LE(*r.test.get("exact_match"), 1.0);
    EXPECT_TRUE(r.test.contains("accuracy"));
  }
}

TEST(Experiment, SequenceTasksAreDistinctSeededAndDecodable) {
  auto a = data::addition_problems(2000, 3, 5), b = data::addition_problems(2000, 3, 5);
  EXPECT_EQ(a.x.shape(), (Shape{2000, 7, 12}));
  EXPECT_EQ(a.y.shape(), (Shape{2000, 4, 12}));
  std::set<std::string> questions;
  for (int64_t i = 0; i < 2000; ++i) {
    std::string q = data::decode_sequence(a.x, i, a.symbols);
    EXPECT_EQ(q, data::decode_sequence(b.x, i, b.symbols)) << "same seed, same problems";
    std::string fwd(q.rbegin(), q.rend());  // questions are reversed, as Keras's example reverses them
    const auto plus = fwd.find('+');
    ASSERT_NE(plus, std::string::npos) << q;
    const long x = std::stol(fwd.substr(0, plus)), y = std::stol(fwd.substr(plus + 1));
    EXPECT_EQ(std::stol(data::decode_sequence(a.y, i, a.symbols)), x + y) << fwd;
    questions.insert(std::to_string(std::min(x, y)) + "+" + std::to_string(std::max(x, y)));
  }
  EXPECT_EQ(questions.size(), 2000u) << "no problem twice, up to order";
  auto r = data::reversal_problems(10, 6, 1);
  for (int64_t i = 0; i < 10; ++i) {
    std::string s = data::decode_sequence(r.x, i, r.symbols);
    EXPECT_EQ(data::decode_sequence(r.y, i, r.symbols), std::string(s.rbegin(), s.rend()));
  }
  EXPECT_EQ(data::exact_match(r.y, r.y), 1.0);
  EXPECT_NE(error_of([] { data::addition_problems(10, 0, 1); }).find("digits must be in 1..9"), std::string::npos);
}

// A model of two inputs and two outputs trained from an experiment file on the user's arrays.
TEST(Experiment, NumpyArraysFeedAModelOfTwoInputsAndTwoOutputs) {
  fs::path dir = temp_dir("exp_graph_numpy");
  const int64_t n = 96;
  Tensor a({n, 5}), b({n, 6, 2}), price({n, 1}), kind({n, 2});
  Rng rng(3);
  for (int64_t i = 0; i < a.size(); ++i) a[i] = rng.uniform(-1, 1);
  for (int64_t i = 0; i < b.size(); ++i) b[i] = rng.uniform(-1, 1);
  for (int64_t i = 0; i < n; ++i) {
    price[i] = a[i * 5] - b[i * 12];
    kind[i * 2 + (a[i * 5 + 1] > 0)] = 1.0f;
  }
  auto arr = [](const Tensor& t) { return data::NpyArray::from_tensor(t); };
  data::write_npz((dir / "data.npz").string(), {{"a", arr(a)}, {"b", arr(b)}, {"price", arr(price)}, {"kind", arr(kind)}});
  clear_session();
  auto in_a = Input({5}, {.name = "a"}), in_b = Input({6, 2}, {.name = "b"});
  auto h = apply_layer(layers::Concatenate(), {apply_layer(layers::Dense(8, {.activation = "relu"}), in_a),
                                               apply_layer(layers::LSTM(6), in_b)});
  Model m({in_a, in_b}, {apply_layer(layers::Dense(1, {.name = "price"}), h),
                         apply_layer(layers::Dense(2, {.activation = "softmax", .name = "kind"}), h)}, "two_by_two");
  const std::string npz = (dir / "data.npz").string();
  Json split = {{"path", npz}, {"x", {"a", "b"}}, {"y", {"price", "kind"}}};
  Json spec = {{"name", "two_by_two"},
               {"seed", 1},
               {"dataset", {{"name", "numpy"}, {"train", split}, {"validation", split}, {"test", split}}},
               {"model", Json::parse(m.to_json())},
               {"compile", {{"optimizer", "adam"}, {"loss", {"mse", "categorical_crossentropy"}}, {"metrics", {{"mae"}, {"accuracy"}}}}},
               {"fit", {{"epochs", 2}, {"batch_size", 32}}}};
  ExperimentOptions o;
  o.verbose = 0;
  o.out_dir = (dir / "run").string();
  ExperimentResult r = run_experiment(spec, "", o);
  for (const char* key : {"loss", "price_loss", "kind_loss", "price_mae", "kind_accuracy"}) EXPECT_TRUE(r.test.contains(key)) << key;
  History hist = read_history_csv((dir / "run" / "history.csv").string());
  EXPECT_TRUE(hist.contains("val_kind_accuracy"));
  auto best = load_model((dir / "run" / "best.keras").string());
  EXPECT_EQ(best->num_inputs(), 2u);
  EXPECT_EQ(best->output_names(), (std::vector<std::string>{"price", "kind"}));
  fs::remove_all(dir);
}
