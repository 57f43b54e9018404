// Runs an experiment file: prepares the data set, builds the model from its Keras config, trains with the
// Keras-style log, evaluates on the test split and writes the run's files.
#include "seqnet/experiment.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "seqnet/data/imdb.h"
#include "seqnet/data/mnist.h"
#include "seqnet/data/normalization.h"
#include "seqnet/data/pad_sequences.h"
#include "seqnet/data/timeseries_generator.h"
#include "seqnet/data/weather.h"
#include "seqnet/model.h"
#include "seqnet/serialization.h"

namespace seqnet {

namespace fs = std::filesystem;

namespace {

// What a data set hands to fit(): arrays, or generators with step counts (the book's weather setup).
struct PreparedData {
  Tensor x_train, y_train, x_test, y_test;
  std::unique_ptr<data::TimeseriesGenerator> train_gen, val_gen, test_gen;
  int64_t train_steps = 0, val_steps = 0, test_steps = 0;
  std::optional<double> baseline_mae, target_std;
  std::string description;
};

Tensor labels_as_float(const Tensor& y) {
  Tensor out = y.as_float();
  return out.reshaped({out.dim(0), 1});
}

Tensor take_rows(const Tensor& t, const Json& spec, const char* key) {
  if (!spec.contains(key)) return t;
  int64_t n = std::min<int64_t>(spec[key].get<int64_t>(), t.dim(0));
  return t.slice_rows(0, n);
}

PreparedData prepare_mnist(const Json& d, const std::string& data_dir) {
  auto [train, test] = datasets::mnist::load_data(data_dir.empty() ? "" : data_dir + "/mnist");
  PreparedData p;
  p.x_train = take_rows(train.x, d, "train_samples");
  p.y_train = take_rows(labels_as_float(train.y), d, "train_samples");
  p.x_test = take_rows(test.x, d, "test_samples");
  p.y_test = take_rows(labels_as_float(test.y), d, "test_samples");
  p.description = fmt::format("MNIST: {} training and {} test images of 28 x 28, read as 28 steps of 28 pixels",
                              p.x_train.dim(0), p.x_test.dim(0));
  return p;
}

PreparedData prepare_imdb(const Json& d, const std::string& data_dir) {
  datasets::imdb::LoadOptions o;
  if (d.contains("num_words")) o.num_words = d["num_words"].get<int64_t>();
  if (d.contains("load_maxlen")) o.maxlen = d["load_maxlen"].get<int64_t>();
  o.skip_top = d.value("skip_top", int64_t(0));
  o.path = data_dir;
  auto [train, test] = datasets::imdb::load_data(o);
  data::PadOptions pad;
  if (d.contains("maxlen")) pad.maxlen = d["maxlen"].get<int64_t>();
  auto side = [&](const char* key) {
    std::string v = d.value(key, std::string("pre"));
    if (v != "pre" && v != "post") throw Error(fmt::format("experiment dataset: '{}' must be pre or post, got '{}'", key, v));
    return v == "pre" ? data::Side::pre : data::Side::post;
  };
  pad.padding = side("padding");
  pad.truncating = side("truncating");
  PreparedData p;
  p.x_train = take_rows(data::pad_sequences(train.x, pad), d, "train_samples");
  p.y_train = take_rows(labels_as_float(train.y), d, "train_samples");
  p.x_test = take_rows(data::pad_sequences(test.x, pad), d, "test_samples");
  p.y_test = take_rows(labels_as_float(test.y), d, "test_samples");
  p.description = fmt::format("IMDB: {} training and {} test reviews, top {} words, padded to {} steps",
                              p.x_train.dim(0), p.x_test.dim(0), o.num_words ? std::to_string(*o.num_words) : "all",
                              p.x_train.dim(1));
  return p;
}

std::pair<int64_t, int64_t> row_range(const Json& d, const char* key, int64_t rows) {
  if (!d.contains(key)) throw Error(fmt::format("experiment dataset: missing '{}' ([first, end) rows)", key));
  const Json& r = d[key];
  int64_t a = r.at(0).get<int64_t>(), b = r.at(1).is_null() ? rows : r.at(1).get<int64_t>();
  if (a < 0 || b > rows || a >= b) throw Error(fmt::format("experiment dataset: '{}' = [{}, {}) is not within the {} rows", key, a, b, rows));
  return {a, b};
}

// The book's temperature forecasting setup (DLwP 1st ed. 6.3) on any hourly or 10-minute weather CSV.
PreparedData prepare_weather(const Json& d, const std::string& data_dir, uint32_t seed) {
  std::string name = d.at("name").get<std::string>();
  data::CsvTable table;
  if (name == "beijing_pm25") {
    datasets::beijing_pm25::Options o;
    o.path = d.value("path", data_dir);
    table = datasets::beijing_pm25::load_data(o);
  } else if (name == "jena_climate") {
    table = datasets::jena_climate::load_data(d.value("path", data_dir));
  } else {
    data::CsvOptions o;
    o.missing = data::MissingPolicy::drop_row;
    o.text = data::TextPolicy::drop;
    table = data::read_csv(d.at("path").get<std::string>(), o);
  }
  std::vector<std::string> columns = d.at("columns").get<std::vector<std::string>>();
  std::string target = d.at("target").get<std::string>();
  auto it = std::find(columns.begin(), columns.end(), target);
  if (it == columns.end()) throw Error("experiment dataset: the target column '" + target + "' must be one of 'columns'");
  int64_t target_col = it - columns.begin();
  Tensor values = table.select(columns);
  const int64_t rows = values.dim(0);
  auto [train_begin, train_end] = row_range(d, "train_rows", rows);
  auto [val_begin, val_end] = row_range(d, "val_rows", rows);
  auto [test_begin, test_end] = row_range(d, "test_rows", rows);
  auto norm = data::ColumnNormalizer::fit(values, train_begin, train_end);
  Tensor normalized = norm.transform(values);

  data::GeneratorOptions g;
  g.lookback = d.at("lookback").get<int64_t>();
  g.step = d.value("step", int64_t(1));
  g.delay = d.at("delay").get<int64_t>();
  g.batch_size = d.value("batch_size", int64_t(128));
  g.target_column = target_col;
  g.seed = seed;
  PreparedData p;
  auto make = [&](int64_t begin, int64_t end, bool shuffle) {
    data::GeneratorOptions o = g;
    o.min_index = begin;
    // A target lies `delay` rows after its anchor: the last ranges stop early enough to have one.
    o.max_index = std::min(end, rows - g.delay) - 1;
    o.shuffle = shuffle;
    return std::make_unique<data::TimeseriesGenerator>(normalized, o);
  };
  p.train_gen = make(train_begin, train_end, true);
  p.val_gen = make(val_begin, val_end, false);
  p.test_gen = make(test_begin, test_end, false);
  p.val_steps = p.val_gen->steps_per_pass();
  p.test_steps = p.test_gen->steps_per_pass();
  p.train_steps = d.value("steps_per_epoch", int64_t(500));
  p.target_std = norm.std()[size_t(target_col)];

  // The common-sense baseline: the temperature `delay` rows from now equals the temperature now.
  auto baseline = make(val_begin, val_end, false);
  double abs_sum = 0;
  int64_t count = 0;
  for (int64_t s = 0; s < p.val_steps; ++s) {
    auto [x, y] = baseline->next_batch();
    int64_t steps = x.dim(1), feats = x.dim(2);
    for (int64_t b = 0; b < x.dim(0); ++b, ++count)
      abs_sum += std::fabs(double(x.data()[(b * steps + steps - 1) * feats + target_col]) - double(y[b]));
  }
  if (count) p.baseline_mae = abs_sum / double(count);
  p.description = fmt::format("{}: {} rows, {} features, lookback {} step {} delay {}, target {}", name, rows,
                              columns.size(), g.lookback, g.step, g.delay, target);
  return p;
}

std::unique_ptr<Model> build_model(const Json& spec, const std::string& base_dir) {
  if (spec.contains("model_path")) {
    fs::path path = spec["model_path"].get<std::string>();
    if (path.is_relative()) path = fs::path(base_dir) / path;
    return model_from_json_file(path.string());
  }
  if (!spec.contains("model")) throw Error("the experiment has neither 'model' (a Keras config) nor 'model_path'");
  return model_from_json(spec["model"].dump());
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  if (!f) throw Error("cannot write " + path.string());
  f << text;
}

void write_run_files(const fs::path& dir, const std::string& name, const Model& model, const ExperimentResult& r,
                     const std::string& description) {
  fs::create_directories(dir);
  // history.csv: epoch, then every logged value, as Keras's CSVLogger writes it.
  std::string csv = "epoch";
  for (const auto& [k, v] : r.history.history) csv += "," + k;
  csv += "\n";
  for (size_t e = 0; e < r.history.epoch.size(); ++e) {
    csv += std::to_string(r.history.epoch[e]);
    for (const auto& [k, v] : r.history.history) csv += fmt::format(",{:.6g}", v[e]);
    csv += "\n";
  }
  write_text(dir / "history.csv", csv);
  Json h;
  for (const auto& [k, v] : r.history.history) h[k] = v;
  write_text(dir / "history.json", h.dump(1) + "\n");
  write_text(dir / "model.json", model.to_json(1) + "\n");
  Json test;
  for (const auto& [k, v] : r.test.items()) test[k] = v;
  write_text(dir / "test.json", test.dump(1) + "\n");

  std::string md = fmt::format("# {}\n\n{}\n\n", name, description);
  md += fmt::format("Seconds per epoch: {:.1f}\n\n| epoch |", r.seconds_per_epoch);
  for (const auto& [k, v] : r.history.history) md += " " + k + " |";
  md += "\n|---|";
  for (size_t i = 0; i < r.history.history.size(); ++i) md += "---|";
  md += "\n";
  for (size_t e = 0; e < r.history.epoch.size(); ++e) {
    md += fmt::format("| {} |", r.history.epoch[e] + 1);
    for (const auto& [k, v] : r.history.history) md += fmt::format(" {:.4f} |", v[e]);
    md += "\n";
  }
  if (!r.test.items().empty()) {
    md += "\nTest set:";
    for (const auto& [k, v] : r.test.items()) md += fmt::format(" {} {:.4f};", k, v);
    md += "\n";
  }
  if (r.baseline_mae)
    md += fmt::format("\nCommon-sense baseline (value in `delay` steps = value now): MAE {:.4f} normalized, {:.2f} in the "
                      "target's units.\n", *r.baseline_mae, *r.baseline_mae * r.target_std.value_or(1.0));
  write_text(dir / "report.md", md);
}

}  // namespace

ExperimentResult run_experiment(const Json& spec, const std::string& base_dir, const ExperimentOptions& options) {
  ExperimentResult result;
  result.name = spec.value("name", std::string("experiment"));
  uint64_t seed = options.seed ? *options.seed : spec.value("seed", uint64_t(1337));
  set_random_seed(seed);

  const Json& d = spec.at("dataset");
  std::string dataset = d.at("name").get<std::string>();
  PreparedData data;
  if (dataset == "mnist") data = prepare_mnist(d, options.data_dir);
  else if (dataset == "imdb") data = prepare_imdb(d, options.data_dir);
  else if (dataset == "beijing_pm25" || dataset == "jena_climate" || dataset == "csv")
    data = prepare_weather(d, options.data_dir, uint32_t(seed));
  else throw Error("unknown dataset '" + dataset + "' (known: mnist, imdb, beijing_pm25, jena_climate, csv)");
  result.baseline_mae = data.baseline_mae;
  result.target_std = data.target_std;
  if (options.verbose) std::printf("%s\n", data.description.c_str());

  auto model = build_model(spec, base_dir);
  model->set_seed(seed);
  if (data.train_gen) {
    auto [x, y] = data.val_gen->window(data.val_gen->max_index() - 1);
    Shape s = x.shape();
    if (!model->built()) dynamic_cast<Sequential&>(*model).build(s);
  } else {
    ensure_built(*model, data.x_train.slice_rows(0, 1));
  }
  if (options.verbose) model->summary();

  const Json c = spec.value("compile", Json::object());
  CompileOptions co;
  co.optimizer = optimizers::from_config(c.value("optimizer", Json("rmsprop")));
  co.loss = c.at("loss").get<std::string>();
  co.metrics = c.value("metrics", std::vector<std::string>{});
  model->compile(co);

  const Json f = spec.value("fit", Json::object());
  FitOptions fo;
  fo.epochs = options.epochs ? *options.epochs : f.value("epochs", 1);
  fo.batch_size = f.value("batch_size", int64_t(32));
  fo.verbose = options.verbose;
  fo.validation_split = f.value("validation_split", 0.0f);
  fo.shuffle = f.value("shuffle", true);

  auto start = std::chrono::steady_clock::now();
  if (data.train_gen) {
    fo.steps_per_epoch = f.value("steps_per_epoch", data.train_steps);
    fo.validation_source = data.val_gen.get();
    fo.validation_steps = f.value("validation_steps", data.val_steps);
    result.history = model->fit(*data.train_gen, fo);
  } else {
    result.history = model->fit(data.x_train, data.y_train, fo);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.seconds_per_epoch = result.history.epoch.empty() ? 0.0 : seconds / double(result.history.epoch.size());

  if (data.test_gen) {
    result.test = model->evaluate(*data.test_gen, data.test_steps);
  } else if (!data.x_test.empty()) {
    result.test = model->evaluate(data.x_test, data.y_test, {.batch_size = fo.batch_size});
  }
  if (options.verbose && !result.test.items().empty()) {
    std::printf("Test:");
    for (const auto& [k, v] : result.test.items()) std::printf(" %s: %.4f", k.c_str(), v);
    std::printf("\n");
  }
  if (options.verbose && result.baseline_mae)
    std::printf("Common-sense baseline MAE: %.4f (%.2f in units)\n", *result.baseline_mae,
                *result.baseline_mae * result.target_std.value_or(1.0));
  if (!options.out_dir.empty()) write_run_files(options.out_dir, result.name, *model, result, data.description);
  return result;
}

ExperimentResult run_experiment_file(const std::string& path, const ExperimentOptions& options) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open experiment file '" + path + "'");
  Json spec;
  try {
    spec = Json::parse(f);
  } catch (const Json::parse_error& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  try {
    return run_experiment(spec, fs::path(path).parent_path().string(), options);
  } catch (const Json::exception& e) {
    throw Error(path + ": malformed experiment: " + e.what());
  }
}

}  // namespace seqnet
