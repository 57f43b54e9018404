// seqnet evaluate MODEL.keras --experiment EXP.json
// seqnet predict MODEL.keras --input x.npy|x.npz [--input-key K] --output y.npy|y.npz|y.csv [--batch-size N]
//   (a model of several inputs or outputs: .npz archives keyed by its input and output names)
// seqnet plot history.csv [--out DIR] [--svg]
// seqnet report RUN_DIRS... [--out report.md] [--references docs/experiments.md]
// seqnet datasets [--data-dir D] [--verify]
// seqnet datasets head NAME [-n N] [--num-words W]
// seqnet summary MODEL (.json, .keras, .h5)
#include "experiment_commands.h"

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "seqnet/seqnet.h"
#include "seqnet/experiment.h"

namespace seqnet_cli {

namespace fs = std::filesystem;

namespace {

struct Args {
  CLI::App *evaluate = nullptr, *predict = nullptr, *plot = nullptr, *report = nullptr, *datasets = nullptr,
           *datasets_head = nullptr;
  std::string dataset_name;
  int64_t head_rows = 3, num_words = 10000;
  std::string model, experiment, data_dir, input, input_key, output, history, out, references;
  std::vector<std::string> overrides, run_dirs;
  int64_t batch_size = 32;
  bool svg = false, verify = false;
  int threads = 0;
};
Args& args() {
  static Args a;
  return a;
}

bool starts_with_bytes(const std::string& path, const std::string& magic) {
  std::ifstream f(path, std::ios::binary);
  std::string head(magic.size(), '\0');
  if (!f.read(head.data(), std::streamsize(head.size()))) return false;
  return head == magic;
}

bool is_model_file(const std::string& path) {
  return starts_with_bytes(path, "PK") || starts_with_bytes(path, std::string("\x89HDF\r\n\x1a\n", 8));
}

std::unique_ptr<seqnet::Model> load_any_model(const std::string& path, bool compile) {
  if (is_model_file(path)) return seqnet::load_model(path, compile);
  return seqnet::model_from_json_file(path);
}

seqnet::Tensor to_model_input(const seqnet::Tensor& x, seqnet::DType want) {
  if (want == x.dtype()) return x;
  if (want == seqnet::DType::float32) return x.as_float();
  // int32 ids from a float array: every value must be a whole number.
  std::vector<int32_t> ids(size_t(x.size()));
  for (int64_t i = 0; i < x.size(); ++i) {
    float v = x[i];
    // 2147483648.0f is the first float above INT32_MAX (which no float holds): converting it would be undefined.
    if (v != std::floor(v) || !(v >= -2147483648.0f && v < 2147483648.0f))
      throw seqnet::Error(fmt::format(
          "predict: the model takes int32 ids, but input value {} at flat index {} is not a whole number in int32's range",
          v, i));
    ids[size_t(i)] = int32_t(v);
  }
  return seqnet::Tensor(x.shape(), std::move(ids));
}

int run_evaluate(const Args& a) {
  auto model = seqnet::load_model(a.model, /*compile=*/true);
  seqnet::ExperimentOptions o;
  o.data_dir = a.data_dir;
  o.overrides = a.overrides;
  o.verbose = 0;
  seqnet::Json spec = seqnet::load_experiment_spec(a.experiment);
  // The categories of text columns the model was trained with, from its run folder, where the experiment does
  // not list them.
  const fs::path saved = fs::path(a.model).parent_path() / "preprocessing.json";
  if (fs::exists(saved) && spec.contains("dataset") && spec["dataset"].is_object() && spec["dataset"].contains("text_columns") &&
      spec["dataset"]["text_columns"].is_object()) {
    seqnet::Json pre;
    try {
      pre = seqnet::Json::parse(seqnet::read_file_bytes(saved.string()));
    } catch (const seqnet::Json::exception& e) {
      throw seqnet::Error(saved.string() + ": not the preprocessing.json of a run: " + e.what());
    }
    for (auto& [c, v] : spec["dataset"]["text_columns"].items()) {
      if (!pre.contains("categories") || !pre["categories"].contains(c)) continue;
      if (v.is_string()) v = seqnet::Json{{"encoding", v}};
      if (v.is_object() && !v.contains("categories")) v["categories"] = pre["categories"][c];
    }
  }
  auto t = seqnet::evaluate_on_experiment(*model, spec, o);
  std::printf("%s\n", t.data_description.c_str());
  std::printf("Test:");
  for (const auto& [k, v] : t.logs.items()) {
    std::printf(" %s: %.4f", k.c_str(), v);
    if (t.target_std && (k == "mae" || (k == "loss" && model->loss() && model->loss()->name() == "mean_absolute_error")))
      std::printf(" (%.2f %s)", v * *t.target_std, t.units.c_str());
  }
  std::printf("\n");
  for (const auto& [m, v] : t.baseline_test) {
    if (m == "mae" && t.target_std) std::printf("Baseline test %s: %.4f (%.2f %s)\n", m.c_str(), v, v * *t.target_std, t.units.c_str());
    else std::printf("Baseline test %s: %.4f\n", m.c_str(), v);
  }
  return 0;
}

// The input batch: an .npy file, or one array of an .npz archive (--input-key, else the model's input name, else
// "x", else its only array).
seqnet::Tensor read_input_batch(const Args& a, const std::string& input_name) {
  namespace data = seqnet::data;
  const bool npz = starts_with_bytes(a.input, "PK");
  if (!npz) {
    if (!a.input_key.empty()) throw seqnet::Error("predict: --input-key names an array of an .npz archive; '" + a.input + "' is not one");
    return data::read_npy(a.input).to_tensor();
  }
  const data::NpzArchive archive = data::read_npz(a.input);
  std::string keys;
  for (const auto& [k, v] : archive) keys += (keys.empty() ? "" : ", ") + k;
  std::string key = a.input_key;
  if (key.empty()) {
    if (archive.count(input_name)) key = input_name;
    else if (archive.count("x")) key = "x";
    else if (archive.size() == 1) key = archive.begin()->first;
    else throw seqnet::Error("predict: " + a.input + " holds several arrays (" + keys + "): choose one with --input-key");
  }
  auto it = archive.find(key);
  if (it == archive.end()) throw seqnet::Error("predict: " + a.input + " has no array '" + key + "' (arrays: " + keys + ")");
  return it->second.to_tensor();
}

// One row per sample, its values flattened in C order: y0, y1, ... (or y for a single value).
std::string predictions_csv(const seqnet::Tensor& y) {
  const int64_t n = y.rank() == 0 ? 1 : y.dim(0), per = n ? y.size() / n : 0;
  std::string out;
  for (int64_t j = 0; j < per; ++j) out += (j ? "," : "") + (per == 1 ? std::string("y") : fmt::format("y{}", j));
  out += "\n";
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < per; ++j) out += fmt::format("{}{}", j ? "," : "", y[i * per + j]);
    out += "\n";
  }
  return out;
}

// A model of several inputs reads them from an .npz archive by the names of its Input layers; one of several
// outputs writes an .npz archive keyed by the names of the layers that give them.
int predict_graph(const Args& a, seqnet::Model& model, const std::string& ext, bool device) {
  namespace data = seqnet::data;
  if (!a.input_key.empty())
    throw seqnet::Error("predict: --input-key picks the one input of a model; model '" + model.name() + "' takes " +
                        std::to_string(model.num_inputs()) + " inputs, read from the arrays of the .npz named after them");
  std::vector<seqnet::Tensor> xs;
  const std::vector<std::string> names = model.input_names();
  if (model.num_inputs() == 1) {
    xs.push_back(to_model_input(data::checked_finite(read_input_batch(a, names[0]), a.input), model.input_dtype()));
  } else {
    if (!starts_with_bytes(a.input, "PK"))
      throw seqnet::Error("predict: model '" + model.name() + "' takes " + std::to_string(names.size()) +
                          " inputs; give an .npz archive with arrays " + fmt::format("{}", fmt::join(names, ", ")) +
                          ", not '" + a.input + "'");
    const data::NpzArchive archive = data::read_npz(a.input);
    std::string keys;
    for (const auto& [k, v] : archive) keys += (keys.empty() ? "" : ", ") + k;
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = archive.find(names[i]);
      if (it == archive.end())
        throw seqnet::Error("predict: " + a.input + " has no array '" + names[i] + "' for input " + std::to_string(i) +
                            " of model '" + model.name() + "' (arrays: " + keys + ")");
      xs.push_back(to_model_input(data::checked_finite(it->second.to_tensor(), a.input + ":" + names[i]), model.input_dtype(i)));
    }
  }
  std::vector<seqnet::Tensor> ys = model.predict(xs, a.batch_size);
  std::string shapes;
  for (const auto& y : ys) shapes += (shapes.empty() ? "" : ", ") + y.shape_string();
  if (ys.size() == 1) {
    if (ext == ".npz" && !device) data::write_npz(a.output, {{"y", data::NpyArray::from_tensor(ys[0])}});
    else if (ext == ".csv" && !device) seqnet::write_file_atomic(a.output, predictions_csv(ys[0]));
    else data::write_npy(a.output, ys[0]);
  } else {
    if (ext != ".npz" || device)
      throw seqnet::Error("predict: model '" + model.name() + "' has " + std::to_string(ys.size()) +
                          " outputs; write them to an .npz archive (one array per output), not '" + a.output + "'");
    data::NpzArchive out;
    const std::vector<std::string> out_names = model.output_names();
    for (size_t k = 0; k < ys.size(); ++k) out[out_names[k]] = data::NpyArray::from_tensor(ys[k]);
    data::write_npz(a.output, out);
  }
  std::printf("%s: %zu inputs -> %s\n", a.output.c_str(), xs.size(), shapes.c_str());
  return 0;
}

int run_predict(const Args& a) {
  if (a.batch_size <= 0) throw seqnet::Error("predict: --batch-size must be positive");
  // The output's format follows its extension; a device (/dev/stdout, a pipe) gets .npy bytes.
  std::error_code ec;
  const bool device = fs::exists(a.output, ec) && !fs::is_regular_file(a.output, ec);
  const std::string ext = fs::path(a.output).extension().string();
  if (!device && ext != ".npy" && ext != ".npz" && ext != ".csv")
    throw seqnet::Error("predict: --output '" + a.output + "' must end in .npy, .npz (array \"y\") or .csv");
  auto model = load_any_model(a.model, /*compile=*/false);
  if (model->num_inputs() > 1 || model->num_outputs() > 1) return predict_graph(a, *model, ext, device);
  seqnet::Tensor raw = seqnet::data::checked_finite(read_input_batch(a, model->input_names()[0]), a.input);
  seqnet::Tensor x = to_model_input(raw, model->input_dtype());
  if (x.rank() == 0) throw seqnet::Error("predict: '" + a.input + "' holds a scalar, not a batch");
  seqnet::Tensor y = model->predict(x, a.batch_size);
  if (ext == ".npz" && !device) seqnet::data::write_npz(a.output, {{"y", seqnet::data::NpyArray::from_tensor(y)}});
  else if (ext == ".csv" && !device) seqnet::write_file_atomic(a.output, predictions_csv(y));
  else seqnet::data::write_npy(a.output, y);
  std::printf("%s: %s -> %s\n", a.output.c_str(), x.shape_string().c_str(), y.shape_string().c_str());
  return 0;
}

int run_plot(const Args& a) {
  std::string ext = fs::path(a.history).extension().string();
  seqnet::History h = ext == ".json" ? seqnet::read_history_json(a.history) : seqnet::read_history_csv(a.history);
  if (h.epoch.empty()) throw seqnet::Error(a.history + ": the history holds no epoch");
  std::string out = a.out.empty() ? fs::path(a.history).parent_path().string() : a.out;
  if (out.empty()) out = ".";
  seqnet::PlotOptions po;
  po.svg = a.svg;
  for (const auto& f : seqnet::plot_history(h, out, po)) std::printf("%s\n", f.c_str());
  return 0;
}

std::string find_references(const Args& a, const char* argv0) {
  if (!a.references.empty()) {
    if (!fs::exists(a.references)) throw seqnet::Error("report: no reference table at '" + a.references + "'");
    return a.references;
  }
  std::vector<fs::path> candidates = {fs::path("docs") / "experiments.md"};
  std::error_code ec;
  fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (ec) exe = fs::absolute(argv0);
  candidates.push_back(exe.parent_path().parent_path() / "docs" / "experiments.md");
  candidates.push_back(exe.parent_path().parent_path() / "share" / "seqnet" / "experiments.md");
  for (const auto& c : candidates)
    if (fs::exists(c)) return c.string();
  return "";
}

int run_report(const Args& a, const char* argv0) {
  std::vector<seqnet::Json> runs;
  for (const auto& d : a.run_dirs) {
    fs::path p = fs::path(d) / "run.json";
    if (fs::path(d).filename() == "run.json") p = d;
    if (!fs::exists(p)) throw seqnet::Error("report: '" + d + "' is not a run folder (no run.json; make one with seqnet train --out)");
    try {
      runs.push_back(seqnet::Json::parse(seqnet::read_file_bytes(p.string())));
      if (!runs.back().is_object()) throw seqnet::Error("not a JSON object");
    } catch (const std::exception& e) {  // the JSON library's message names no file
      throw seqnet::Error("report: '" + p.string() + "' is not a run.json written by seqnet train: " + e.what());
    }
    runs.back()["run_dir"] = fs::path(p).parent_path().string();
  }
  std::string ref_path = find_references(a, argv0);
  std::map<std::string, seqnet::Json> refs;
  if (!ref_path.empty()) refs = seqnet::read_reference_table(ref_path);
  std::string md = "# seqnet runs\n\n" + seqnet::runs_report_markdown(runs, refs);
  md += ref_path.empty() ? "\nNo reference table found (pass --references docs/experiments.md).\n"
                         : "\nReference figures: " + ref_path + ".\n";
  fs::path out_dir = a.out.empty() ? fs::path() : fs::path(a.out).parent_path();
  bool figures = false;
  for (const auto& r : runs) {
    if (!r.contains("figures") || r["figures"].empty()) continue;
    if (!figures) md += "\n## Figures\n";
    figures = true;
    md += "\n### " + r.value("name", std::string("?")) + "\n\n";
    for (const auto& f : r["figures"]) {
      fs::path fig = fs::path(r["run_dir"].get<std::string>()) / f.get<std::string>();
      std::string link = a.out.empty() ? fig.string() : fs::absolute(fig).lexically_proximate(fs::absolute(out_dir.empty() ? fs::path(".") : out_dir)).string();
      md += fmt::format("![{}]({})\n", fs::path(f.get<std::string>()).stem().string(), link);
    }
  }
  if (a.out.empty()) {
    std::fputs(md.c_str(), stdout);
  } else {
    if (!out_dir.empty()) fs::create_directories(out_dir);
    seqnet::write_file_atomic(a.out, md);
    std::printf("%s\n", a.out.c_str());
  }
  return 0;
}

// Where each data set resolves, and whether its files are the published ones. Sizes are always
// compared (free); sha256 only with --verify, since hashing every file costs about a second per 100 MB.
int run_datasets(const Args& a) {
  namespace ds = seqnet::datasets;
  const std::string cache = ds::cache_dir();
  std::printf("Data folders, in lookup order:\n");
  for (const auto& d : ds::data_dirs(a.data_dir))
    std::printf("  %s%s\n", d.c_str(), d == cache ? (fs::is_directory(d) ? " (download cache)" : " (download cache, absent)")
                                         : fs::is_directory(d) ? "" : " (absent)");
  const char* mirror = std::getenv("SEQNET_DATASETS_BASE_URL");
  if (!ds::downloads_enabled()) std::printf("Downloads: off (SEQNET_OFFLINE is set)\n");
  else if (mirror && *mirror) std::printf("Downloads: on, from the mirror %s (SEQNET_DATASETS_BASE_URL)\n", mirror);
  else std::printf("Downloads: on, from the publishers' URLs below (SEQNET_OFFLINE=1 turns them off)\n");
  struct Entry {
    const char* name;
    std::vector<const char*> files;
    const char* what;
  };
  const std::vector<Entry> entries = {
      {"imdb",
       {"imdb/imdb.npz", "imdb/keras_sequences/imdb_train.txt.gz", "imdb/aclImdb_v1_train_test.tar.gz", "imdb/aclImdb_v1.tar.gz"},
       "IMDB reviews (keras.datasets.imdb)"},
      {"mnist", {"mnist/train-images-idx3-ubyte.gz", "mnist/train-images-idx3-ubyte"}, "MNIST digits (IDX files)"},
      {"fashion_mnist", {"fashion_mnist/train-images-idx3-ubyte.gz", "fashion_mnist/train-images-idx3-ubyte"}, "Fashion-MNIST (IDX files)"},
      {"beijing_pm25", {"beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"}, "UCI Beijing PM2.5 hourly weather"},
      {"jena_climate", {"jena_climate/jena_climate_2009_2016.csv"}, "Jena climate 2009-2016 (10-minute rows)"},
  };
  std::printf("\nData sets (the source each loader uses):\n");
  for (const auto& e : entries) {
    std::string found;
    for (const char* f : e.files)
      if (found.empty()) found = ds::try_find_data_file(f, a.data_dir);
    std::printf("  %-13s %-42s %s\n", e.name, e.what, found.empty() ? (ds::downloads_enabled() ? "not found (downloaded on first use)" : "not found") : found.c_str());
  }
  std::printf("  %-13s %-42s %s\n", "series", "t*sin(t)/3 + 2*sin(5t), synthetic", "built in");
  std::printf("  %-13s %-42s %s\n", "csv", "any CSV time series", "dataset.path in the experiment");

  std::printf("\nFiles (%s):\n", a.verify ? "sizes and sha256 checked" : "sizes checked; --verify also checks sha256");
  int bad = 0;
  for (const auto& f : ds::known_data_files()) {
    std::string path = ds::try_find_data_file(f.relative, a.data_dir);
    std::string state;
    if (path.empty()) {
      state = f.url.empty() ? "not found (a local re-pack; no download source)" : "not found; source " + ds::download_url(f);
    } else {
      std::error_code ec;
      const auto size = int64_t(fs::file_size(path, ec));
      state = path + ": ";
      if (f.size >= 0 && size != f.size) {
        state += fmt::format("{} bytes, expected {}: NOT the published file", size, f.size);
        ++bad;
      } else if (!a.verify) {
        state += f.size >= 0 ? "size ok" : "found";
      } else {
        std::string got = ds::sha256_file(path);
        if (f.sha256.empty()) state += "sha256 " + got + " (no published sha256 to compare)";
        else if (got == f.sha256) state += "sha256 ok";
        else {
          state += "sha256 MISMATCH: " + got + ", expected " + f.sha256;
          ++bad;
        }
      }
    }
    std::printf("  %-46s %s\n", f.relative.c_str(), state.c_str());
  }
  if (bad) {
    std::fprintf(stderr, "seqnet: error: %d data file(s) differ from the published ones (see above)\n", bad);
    return 1;
  }
  return 0;
}

// The first rows of a data set, as its loader gives them: proof that the data is read the way Keras reads it.
int run_datasets_head(const Args& a) {
  namespace ds = seqnet::datasets;
  const std::string& name = a.dataset_name;
  if (name == "imdb") {
    auto [train, test] = ds::imdb::load_data({.num_words = a.num_words, .path = a.data_dir});
    int64_t positive = 0;
    for (int64_t i = 0; i < train.y.size(); ++i) positive += train.y.idata()[i];
    std::printf("imdb: load_data(num_words=%lld): %zu training and %zu test reviews; %lld positive and %lld negative "
                "training labels\n",
                static_cast<long long>(a.num_words), train.x.size(), test.x.size(), static_cast<long long>(positive),
                static_cast<long long>(train.y.size() - positive));
    auto index = ds::imdb::get_word_index(a.data_dir);
    for (int64_t i = 0; i < std::min<int64_t>(a.head_rows, int64_t(train.x.size())); ++i) {
      std::string text = ds::imdb::decode_review(train.x[size_t(i)], index);
      if (text.size() > 300) text = text.substr(0, 300) + " ...";
      std::printf("\n[%lld] label %d, %zu words:\n%s\n", static_cast<long long>(i), train.y.idata()[i],
                  train.x[size_t(i)].size(), text.c_str());
    }
    return 0;
  }
  if (name == "mnist") {
    auto [train, test] = ds::mnist::load_data(a.data_dir.empty() ? "" : a.data_dir + "/mnist");
    std::printf("mnist: %lld training and %lld test images of %lld x %lld\n", static_cast<long long>(train.x.dim(0)),
                static_cast<long long>(test.x.dim(0)), static_cast<long long>(train.x.dim(1)),
                static_cast<long long>(train.x.dim(2)));
    std::vector<int64_t> counts(10, 0);
    for (int64_t i = 0; i < train.y.size(); ++i) ++counts[size_t(train.y.idata()[i])];
    std::printf("training label counts:");
    for (int d = 0; d < 10; ++d) std::printf(" %d: %lld", d, static_cast<long long>(counts[size_t(d)]));
    std::printf("\nfirst labels:");
    for (int64_t i = 0; i < std::min<int64_t>(a.head_rows, train.y.size()); ++i) std::printf(" %d", train.y.idata()[i]);
    std::printf("\n");
    return 0;
  }
  if (name == "beijing_pm25" || name == "jena_climate") {
    seqnet::data::CsvTable t = name == "beijing_pm25" ? ds::beijing_pm25::load_data({.path = a.data_dir})
                                                      : ds::jena_climate::load_data(a.data_dir);
    std::printf("%s: %lld rows, %zu columns\n", name.c_str(), static_cast<long long>(t.rows()), t.columns.size());
    for (const auto& c : t.columns) std::printf("%s ", c.c_str());
    std::printf("\n");
    for (int64_t r = 0; r < std::min<int64_t>(a.head_rows, t.rows()); ++r) {
      for (size_t c = 0; c < t.columns.size(); ++c) std::printf("%g ", t.values.data()[r * int64_t(t.columns.size()) + int64_t(c)]);
      std::printf("\n");
    }
    return 0;
  }
  throw seqnet::Error("datasets head: unknown data set '" + name + "' (known: imdb, mnist, beijing_pm25, jena_climate)");
}

}  // namespace

void add_experiment_commands(CLI::App& app) {
  Args& a = args();
  a.evaluate = app.add_subcommand("evaluate", "Evaluate a saved model on an experiment's test split");
  a.evaluate->add_option("model", a.model, "Model file (.keras or .h5)")->required()->check(CLI::ExistingFile);
  a.evaluate->add_option("--experiment", a.experiment, "Experiment file whose data set and test split to use")
      ->required()->check(CLI::ExistingFile);
  a.evaluate->add_option("--data-dir", a.data_dir, "Folder holding the data sets");
  a.evaluate->add_option("--set", a.overrides, "Edit the experiment: key.path=JSON value (repeatable)");
  a.evaluate->add_option("--threads", a.threads, "Threads")->check(CLI::PositiveNumber);

  a.predict = app.add_subcommand("predict", "Run a saved model on a NumPy array, in batches, and save the output");
  a.predict->add_option("model", a.model, "Model file (.keras, .h5) or Keras model JSON")->required()->check(CLI::ExistingFile);
  a.predict->add_option("--input", a.input, "Input batch (.npy, or .npz: its array x or its only one)")->required()->check(CLI::ExistingFile);
  a.predict->add_option("--input-key", a.input_key, "The array of an .npz input to predict on");
  a.predict->add_option("--output", a.output, "Where to write the predictions: .npy, .npz (array y) or .csv")->required();
  a.predict->add_option("--batch-size", a.batch_size, "Batch size (default 32)");
  a.predict->add_option("--threads", a.threads, "Threads")->check(CLI::PositiveNumber);

  a.plot = app.add_subcommand("plot", "Draw the figures of a training history (one per metric, as the book's)");
  a.plot->add_option("history", a.history, "history.csv (or CSVLogger output, or history.json)")->required()->check(CLI::ExistingFile);
  a.plot->add_option("--out", a.out, "Folder for the figures (default: the history's folder)");
  a.plot->add_flag("--svg", a.svg, "Also write SVG figures");

  a.report = app.add_subcommand("report", "Gather run folders into one Markdown table beside the book's figures");
  a.report->add_option("runs", a.run_dirs, "Run folders written by seqnet train --out")->required();
  a.report->add_option("--out", a.out, "Write the report here (default: print it)");
  a.report->add_option("--references", a.references, "Reference table (default: docs/experiments.md)");

  a.datasets = app.add_subcommand("datasets", "List the data sets found and where");
  a.datasets->add_option("--data-dir", a.data_dir, "Folder looked up first");
  a.datasets->add_flag("--verify", a.verify, "Also check each file's sha256 against the published one");
  a.datasets_head = a.datasets->add_subcommand("head", "Show the first rows of a data set as its loader reads them");
  a.datasets_head->add_option("name", a.dataset_name, "imdb, mnist, beijing_pm25 or jena_climate")->required();
  a.datasets_head->add_option("-n", a.head_rows, "Rows to show (default 3)");
  a.datasets_head->add_option("--num-words", a.num_words, "imdb: keep the most frequent words (default 10000)");
  a.datasets_head->add_option("--data-dir", a.data_dir, "Folder looked up first");
}

int run_experiment_commands(const char* argv0) {
  Args& a = args();
  if (a.threads > 0) seqnet::set_num_threads(a.threads);
  if (a.evaluate && *a.evaluate) return run_evaluate(a);
  if (a.predict && *a.predict) return run_predict(a);
  if (a.plot && *a.plot) return run_plot(a);
  if (a.report && *a.report) return run_report(a, argv0);
  if (a.datasets_head && *a.datasets_head) return run_datasets_head(a);
  if (a.datasets && *a.datasets) return run_datasets(a);
  return -1;
}

int run_summary(const std::string& path, int line_length) {
  auto model = load_any_model(path, /*compile=*/false);
  model->summary(line_length);
  return 0;
}

}  // namespace seqnet_cli
