// Runs an experiment file: prepares the data set, builds the model from its Keras config, trains with the
// Keras-style log and the file's callbacks, evaluates the best weights on the test split and writes the
// run's files (history, figures, best.keras, test.json, run.json, report.md). See docs/experiments.md.
#include "seqnet/experiment.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <sstream>

#include "io/config_values.h"
#include "io/json_numbers.h"
#include "model/callback_state.h"
#include "seqnet/data/imdb.h"
#include "seqnet/data/mnist.h"
#include "seqnet/data/normalization.h"
#include "seqnet/data/npz.h"
#include "seqnet/data/pad_sequences.h"
#include "seqnet/data/sequence_tasks.h"
#include "seqnet/data/series.h"
#include "seqnet/data/data_dir.h"
#include "seqnet/data/timeseries_generator.h"
#include "seqnet/data/weather.h"
#include "seqnet/distributed.h"
#include "seqnet/history.h"
#include "seqnet/layers/preprocessing.h"
#include "seqnet/model.h"
#include "seqnet/random.h"
#include "seqnet/saving.h"
#include "seqnet/serialization.h"

namespace seqnet {

namespace fs = std::filesystem;

namespace {

void warn(const std::string& msg) { std::fprintf(stderr, "seqnet: warning: %s\n", msg.c_str()); }

// What a data set hands to fit(): arrays, or generators with step counts (the book's weather setup).
struct PreparedData {
  Tensor x_train, y_train, x_val, y_val, x_test, y_test;
  std::unique_ptr<data::TimeseriesGenerator> train_gen, val_gen, test_gen;
  int64_t train_steps = 0, val_steps = 0, test_steps = 0;
  std::map<std::string, double> baseline_val, baseline_test;  // by metric ("mae", "mse"), normalized
  std::optional<double> target_std;
  std::string units;
  std::string description;
  // Forecasting with dataset.normalization = "model": the statistics of the inputs, fitted on the training
  // rows, for the Normalization layer at the model's input; the generators then give raw windows (and
  // normalized targets), so the saved model predicts from raw values.
  std::optional<std::pair<std::vector<float>, std::vector<float>>> input_statistics;  // mean, variance
  bool windows_normalized = false;  // "data": the generators give normalized windows
  // The model's input features and the categories of text columns: preprocessing.json in the run folder.
  Json preprocessing;
  bool has_validation() const { return val_gen != nullptr || !x_val.empty(); }
  // Models of several inputs or outputs (dataset "numpy" with lists of arrays): every array of a split; x_* and
  // y_* above then hold the first of each.
  std::optional<Arrays> train_many, val_many, test_many;
  // Sequence tasks: the test also reports the fraction of sequences predicted exactly right ("exact_match").
  bool exact_match = false;
  Arrays train() const { return train_many ? *train_many : Arrays(x_train, y_train); }
  Arrays val() const { return val_many ? *val_many : Arrays(x_val, y_val); }
  Arrays test() const { return test_many ? *test_many : Arrays(x_test, y_test); }
};

Tensor labels_as_float(const Tensor& y) {
  Tensor out = y.as_float();
  return out.reshaped({out.dim(0), 1});
}

// The first dataset.<key> samples; asking for more than the data set holds is an error, not a silent cap.
Tensor take_rows(const Tensor& t, const Json& spec, const char* key) {
  if (!spec.contains(key)) return t;
  if (!spec[key].is_number_integer() || spec[key].get<int64_t>() < 1)
    throw Error(fmt::format("dataset.{}: expected a whole number >= 1, got {}", key, spec[key].dump()));
  const int64_t n = spec[key].get<int64_t>();
  if (n > t.dim(0)) throw Error(fmt::format("dataset.{} = {}: the data set holds {}", key, n, t.dim(0)));
  return t.slice_rows(0, n);
}

void check_keys(const Json& obj, const std::string& where, const std::set<std::string>& known) {
  if (!obj.is_object()) throw Error(fmt::format("experiment: '{}' must be a JSON object", where));
  for (const auto& [k, v] : obj.items()) {
    if (known.count(k)) continue;
    std::string list;
    for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
    throw Error(fmt::format("experiment: unknown key '{}' in '{}' (known: {})", k, where, list));
  }
}

// A value of an experiment key, of the type the key needs: the error names the key ("dataset.path: expected a
// string or a list of strings, got 3"), which the JSON library's own message does not.
[[noreturn]] void wrong_type(const std::string& key, const char* expected, const Json& v) {
  throw Error(fmt::format("{}: expected {}, got {}", key, expected, short_dump(v)));
}
template <typename Int = int64_t>
Int int_at(const Json& obj, const std::string& where, const char* key, std::optional<std::type_identity_t<Int>> fallback = {}) {
  if (!obj.contains(key)) {
    if (!fallback) throw Error(fmt::format("{}.{}: missing (a whole number)", where, key));
    return *fallback;
  }
  return whole_number_at<Int>(obj[key], where.empty() ? key : where + "." + key);
}
double number_at(const Json& v, const std::string& key) {
  if (!v.is_number()) wrong_type(key, "a number", v);
  return v.get<double>();
}
std::string string_at(const Json& obj, const std::string& where, const char* key, std::optional<std::string> fallback = {}) {
  if (!obj.contains(key)) {
    if (!fallback) throw Error(fmt::format("{}.{}: missing (a string)", where, key));
    return *fallback;
  }
  if (!obj[key].is_string()) wrong_type(where + "." + key, "a string", obj[key]);
  return obj[key].get<std::string>();
}
std::vector<std::string> strings_at(const Json& obj, const std::string& where, const char* key, bool one_allowed) {
  if (!obj.contains(key)) throw Error(fmt::format("{}.{}: missing", where, key));
  const Json& v = obj[key];
  const char* expected = one_allowed ? "a string or a list of strings" : "a list of strings";
  if (one_allowed && v.is_string()) return {v.get<std::string>()};
  if (!v.is_array() || v.empty()) wrong_type(where + "." + key, expected, v);
  std::vector<std::string> out;
  for (const Json& e : v) {
    if (!e.is_string()) wrong_type(where + "." + key, expected, v);
    out.push_back(e.get<std::string>());
  }
  return out;
}

PreparedData prepare_mnist(const Json& d, const std::string& data_dir) {
  check_keys(d, "dataset", {"name", "train_samples", "test_samples", "path"});
  std::string dir = d.value("path", data_dir.empty() ? std::string() : data_dir + "/mnist");
  auto [train, test] = datasets::mnist::load_data(dir);
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
  check_keys(d, "dataset", {"name", "num_words", "load_maxlen", "skip_top", "maxlen", "padding", "truncating",
                            "reverse_sequences", "train_samples", "test_samples", "path"});
  datasets::imdb::LoadOptions o;
  if (d.contains("num_words")) o.num_words = int_at(d, "dataset", "num_words");
  if (d.contains("load_maxlen")) o.maxlen = int_at(d, "dataset", "load_maxlen");
  o.skip_top = int_at<int64_t>(d, "dataset", "skip_top", 0);
  o.path = d.value("path", data_dir);
  auto [train, test] = datasets::imdb::load_data(o);
  // DLwP 6.42: x_train = [x[::-1] for x in x_train] before padding.
  if (d.value("reverse_sequences", false)) {
    for (auto& s : train.x) std::reverse(s.begin(), s.end());
    for (auto& s : test.x) std::reverse(s.begin(), s.end());
  }
  data::PadOptions pad;
  if (d.contains("maxlen")) pad.maxlen = int_at(d, "dataset", "maxlen");
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
  p.description = fmt::format("IMDB: {} training and {} test reviews, top {} words, padded to {} steps{}",
                              p.x_train.dim(0), p.x_test.dim(0), o.num_words ? std::to_string(*o.num_words) : "all",
                              p.x_train.dim(1), d.value("reverse_sequences", false) ? ", reversed" : "");
  return p;
}

// ---- The user's own arrays: dataset "numpy" ----
// Each split: "data.npz" (its arrays x and y), {"path": "data.npz", "x": "x_train", "y": "y_train"} (named
// arrays of an archive), or {"x": "x.npy", "y": "y.npy"} (one file each).
Tensor array_from_npz(const data::NpzArchive& archive, const std::string& path, const std::string& key) {
  auto it = archive.find(key);
  if (it == archive.end()) {
    std::string keys;
    for (const auto& [k, v] : archive) keys += (keys.empty() ? "" : ", ") + k;
    throw Error(fmt::format("{}: no array '{}' (arrays: {})", path, key, keys.empty() ? "none" : keys));
  }
  return data::checked_finite(it->second.to_tensor(), path + ":" + key);
}

// One split's arrays. "x" and "y" name one array each, or lists of them for a model of several inputs
// (in the order of the model's inputs) or outputs.
Arrays load_xy(const Json& v, const std::string& key) {
  std::vector<Tensor> xs, ys;
  std::vector<std::string> x_names{"x"}, y_names{"y"};  // how the messages call them
  std::string where;
  auto names = [&](const Json& j, const char* which) {
    std::vector<std::string> out;
    if (j.is_string()) out.push_back(j.get<std::string>());
    else if (j.is_array() && !j.empty())
      for (const Json& e : j) {
        if (!e.is_string()) wrong_type(key + "." + which, "an array name or a list of names", j);
        out.push_back(e.get<std::string>());
      }
    else wrong_type(key + "." + which, "an array name or a list of names", j);
    return out;
  };
  if (v.is_string()) {
    const std::string path = v.get<std::string>();
    const auto archive = data::read_npz(path);
    xs.push_back(array_from_npz(archive, path, "x"));
    ys.push_back(array_from_npz(archive, path, "y"));
    where = path;
  } else if (v.is_object() && v.contains("path")) {
    check_keys(v, key, {"path", "x", "y"});
    const std::string path = string_at(v, key, "path");
    const auto archive = data::read_npz(path);
    x_names = names(v.value("x", Json("x")), "x");
    y_names = names(v.value("y", Json("y")), "y");
    for (const auto& n : x_names) xs.push_back(array_from_npz(archive, path, n));
    for (const auto& n : y_names) ys.push_back(array_from_npz(archive, path, n));
    where = path;
  } else if (v.is_object()) {
    check_keys(v, key, {"x", "y"});
    if (!v.contains("x") || !v.contains("y")) throw Error(key + ": needs \"x\" and \"y\" (.npy paths)");
    x_names = names(v["x"], "x");
    y_names = names(v["y"], "y");
    for (const auto& xp : x_names) xs.push_back(data::checked_finite(data::read_npy(xp).to_tensor(), xp));
    for (const auto& yp : y_names) ys.push_back(data::checked_finite(data::read_npy(yp).to_tensor(), yp));
    where = key;
  } else {
    wrong_type(key, "an .npz path, {\"path\", \"x\", \"y\"} or {\"x\": .npy, \"y\": .npy}", v);
  }
  std::vector<std::pair<const Tensor*, std::string>> all;
  for (size_t i = 0; i < xs.size(); ++i) all.push_back({&xs[i], x_names.size() > 1 || xs.size() == 1 ? x_names[i] : "x"});
  for (size_t i = 0; i < ys.size(); ++i) all.push_back({&ys[i], y_names.size() > 1 || ys.size() == 1 ? y_names[i] : "y"});
  for (const auto& [t, name] : all)
    if (t->rank() < 1)
      throw Error(fmt::format("{}: x and y must hold one sample per row, got {} of shape {}", where, name, t->shape_string()));
  const int64_t n = xs[0].dim(0);
  for (const auto& [t, name] : all)
    if (t->dim(0) != n)
      throw Error(fmt::format("{}: {} holds {} samples and {} {}", where, all[0].second, n, name, t->dim(0)));
  if (n == 0) throw Error(where + ": no sample");
  for (Tensor& y : ys) {
    y = y.as_float();
    if (y.rank() == 1) y = y.reshaped({y.dim(0), 1});
  }
  return Arrays(std::move(xs), std::move(ys));
}

PreparedData prepare_numpy(const Json& d) {
  check_keys(d, "dataset", {"name", "train", "validation", "test"});
  if (!d.contains("train")) throw Error("dataset.train: missing (an .npz path, or {\"x\": .npy, \"y\": .npy})");
  PreparedData p;
  std::optional<Arrays> splits[3];
  splits[0] = load_xy(d["train"], "dataset.train");
  if (d.contains("validation")) splits[1] = load_xy(d["validation"], "dataset.validation");
  if (d.contains("test")) splits[2] = load_xy(d["test"], "dataset.test");
  const Arrays& train = *splits[0];
  const char* split_names[] = {"training", "validation", "test"};
  for (int k = 1; k < 3; ++k) {
    if (!splits[k]) continue;
    const Arrays& s = *splits[k];
    if (s.x.size() != train.x.size() || s.y.size() != train.y.size())
      throw Error(fmt::format("dataset: the {} split has {} input and {} target arrays, the training split {} and {}",
                              split_names[k], s.x.size(), s.y.size(), train.x.size(), train.y.size()));
    for (size_t i = 0; i < s.x.size(); ++i) {
      const Tensor &a = s.x[i], &b = train.x[i];
      if (a.dtype() != b.dtype() || !std::equal(a.shape().begin() + 1, a.shape().end(), b.shape().begin() + 1, b.shape().end()))
        throw Error(fmt::format("dataset: the {} samples are {} {}, the training samples {} {}", split_names[k],
                                a.shape_string(), a.is_float() ? "float32" : "int32", b.shape_string(),
                                b.is_float() ? "float32" : "int32"));
    }
  }
  const bool many = train.x.size() > 1 || train.y.size() > 1;
  Tensor* xs[3] = {&p.x_train, &p.x_val, &p.x_test};
  Tensor* ys[3] = {&p.y_train, &p.y_val, &p.y_test};
  std::optional<Arrays>* manys[3] = {&p.train_many, &p.val_many, &p.test_many};
  for (int k = 0; k < 3; ++k) {
    if (!splits[k]) continue;
    *xs[k] = splits[k]->x[0];
    *ys[k] = splits[k]->y[0];
    if (many) *manys[k] = *splits[k];
  }
  std::string samples;
  for (const Tensor& x : train.x) {
    Shape sample(x.shape().begin() + 1, x.shape().end());
    samples += (samples.empty() ? "" : " and ") + shape_to_string(sample) + (x.is_float() ? " (float32)" : " (int32 ids)");
  }
  p.description = fmt::format("numpy: {} training, {} validation and {} test samples of {}", p.x_train.dim(0),
                              p.x_val.empty() ? 0 : p.x_val.dim(0), p.x_test.empty() ? 0 : p.x_test.dim(0), samples);
  return p;
}

// The notes' synthetic series t*sin(t)/3 + 2*sin(5t): windows of n_steps values starting at a uniform
// random t0, targets the next value at every step (sequence to sequence), shape (n, n_steps, 1).
float series_value(double t) { return float(t * std::sin(t) / 3.0 + 2.0 * std::sin(5.0 * t)); }

std::pair<Tensor, Tensor> series_windows(int64_t n, int64_t steps, double t_min, double t_max, double resolution,
                                         uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(size_t(n * steps)), y(size_t(n * steps));
  const double span = t_max - t_min - double(steps) * resolution;
  if (span <= 0) throw Error("experiment dataset 'series': t_max - t_min must exceed n_steps * resolution");
  for (int64_t i = 0; i < n; ++i) {
    double t0 = t_min + double(rng.uniform()) * span;
    for (int64_t s = 0; s < steps; ++s) {
      x[size_t(i * steps + s)] = series_value(t0 + double(s) * resolution);
      y[size_t(i * steps + s)] = series_value(t0 + double(s + 1) * resolution);
    }
  }
  return {Tensor({n, steps, 1}, std::move(x)), Tensor({n, steps, 1}, std::move(y))};
}

// Last-value baseline of a sequence-to-sequence forecast: the next value equals the current one.
std::map<std::string, double> last_value_baseline(const Tensor& x, const Tensor& y) {
  double abs_sum = 0, sq_sum = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    double e = double(x[i]) - double(y[i]);
    abs_sum += std::fabs(e);
    sq_sum += e * e;
  }
  double n = double(std::max<int64_t>(1, x.size()));
  return {{"mae", abs_sum / n}, {"mse", sq_sum / n}};
}

PreparedData prepare_series(const Json& d) {
  check_keys(d, "dataset", {"name", "n_steps", "t_min", "t_max", "resolution", "train_samples", "val_samples",
                            "test_samples", "data_seed"});
  const int64_t steps = int_at<int64_t>(d, "dataset", "n_steps", 20);
  const double t_min = d.value("t_min", 0.0), t_max = d.value("t_max", 30.0), res = d.value("resolution", 0.1);
  const uint64_t seed = int_at<uint64_t>(d, "dataset", "data_seed", 42);
  const int64_t n_train = int_at<int64_t>(d, "dataset", "train_samples", 10000);
  const int64_t n_val = int_at<int64_t>(d, "dataset", "val_samples", 1000);
  const int64_t n_test = int_at<int64_t>(d, "dataset", "test_samples", 1000);
  if (steps <= 0 || n_train <= 0 || n_val < 0 || n_test < 0)
    throw Error("experiment dataset 'series': n_steps and train_samples must be positive");
  for (auto [key, n] : {std::pair{"train_samples", n_train}, {"val_samples", n_val}, {"test_samples", n_test}}) {
    int64_t values = 0;
    if (__builtin_mul_overflow(n, steps, &values) || values > (int64_t(1) << 34))  // 2 x 64 GiB of float32
      throw Error(fmt::format("experiment dataset 'series': {} = {} windows of n_steps = {} values is too large", key,
                              n, steps));
  }
  PreparedData p;
  std::tie(p.x_train, p.y_train) = series_windows(n_train, steps, t_min, t_max, res, seed);
  if (n_val > 0) {
    std::tie(p.x_val, p.y_val) = series_windows(n_val, steps, t_min, t_max, res, seed + 1);
    p.baseline_val = last_value_baseline(p.x_val, p.y_val);
  }
  if (n_test > 0) {
    std::tie(p.x_test, p.y_test) = series_windows(n_test, steps, t_min, t_max, res, seed + 2);
    p.baseline_test = last_value_baseline(p.x_test, p.y_test);
  }
  p.description = fmt::format(
      "series t*sin(t)/3 + 2*sin(5t), t in [{}, {}] every {}: {} training, {} validation and {} test windows of {} "
      "steps, the next value at every step as target",
      t_min, t_max, res, n_train, n_val, n_test, steps);
  return p;
}

// "interpolate", or {"policy": "interpolate", "max_gap": 3}, or {"policy": "fill", "value": 0}.
data::MissingValues missing_values_at(const Json& v, const std::string& key) {
  data::MissingValues m;
  if (v.is_string()) {
    m.policy = data::gap_policy_from_name(v.get<std::string>());
  } else if (v.is_object()) {
    for (const auto& [k, e] : v.items())
      if (k != "policy" && k != "value" && k != "max_gap")
        throw Error(fmt::format("{}: unknown key '{}' (known: policy, value, max_gap)", key, k));
    if (!v.contains("policy") || !v["policy"].is_string()) throw Error(key + ".policy: missing (fail, drop, interpolate, ffill or fill)");
    m.policy = data::gap_policy_from_name(v["policy"].get<std::string>());
    if (v.contains("value")) m.value = float(number_at(v["value"], key + ".value"));
    m.max_gap = int_at(v, key, "max_gap", m.max_gap);
    if (m.max_gap < 1) throw Error(fmt::format("{}.max_gap must be at least 1, got {}", key, m.max_gap));
  } else {
    wrong_type(key, "a policy name or {\"policy\", \"value\", \"max_gap\"}", v);
  }
  if (m.policy == data::GapPolicy::fill && !(v.is_object() && v.contains("value")))
    throw Error(key + ": the fill policy needs a value: {\"policy\": \"fill\", \"value\": 0}");
  return m;
}

// [first, end) of n items (rows of a file, or files); an entry may be null (the end), or a fraction in (0, 1).
std::pair<int64_t, int64_t> index_range(const Json& d, const char* key, int64_t n, const char* what) {
  if (!d.contains(key)) throw Error(fmt::format("dataset.{}: missing ([first, end) {})", key, what));
  const Json& r = d[key];
  if (!r.is_array() || r.size() != 2) wrong_type(std::string("dataset.") + key, "[first, end)", r);
  auto at = [&](const Json& v, int64_t if_null) -> int64_t {
    if (v.is_null()) return if_null;
    if (v.is_number_float() && v.get<double>() > 0 && v.get<double>() < 1) return int64_t(v.get<double>() * double(n));
    const auto whole = whole_number<int64_t>(v);
    if (!whole) wrong_type(std::string("dataset.") + key, "[first, end) of whole numbers, fractions or null", r);
    return *whole;
  };
  int64_t a = at(r[0], 0), b = at(r[1], n);
  if (a < 0 || b > n || a >= b)
    throw Error(fmt::format("dataset.{} = [{}, {}) is not within the {} {}", key, a, b, n, what));
  return {a, b};
}

// The common-sense baseline over `steps` batches of a (not shuffled) generator: MAE of "the target
// `delay` rows from now equals the target now" (the book's evaluate_naive_method).
// `raw`: the windows hold raw values and the targets normalized ones (normalization "model"): the last step is
// normalized by `norm` before the comparison.
double naive_mae(data::TimeseriesGenerator& gen, int64_t steps, int64_t target_col, const data::ColumnNormalizer* raw) {
  double abs_sum = 0;
  int64_t count = 0;
  for (int64_t s = 0; s < steps; ++s) {
    auto [x, y] = gen.next_batch();
    int64_t len = x.dim(1), feats = x.dim(2);
    for (int64_t b = 0; b < x.dim(0); ++b, ++count) {
      double now = double(x.data()[(b * len + len - 1) * feats + target_col]);
      if (raw) now = (now - raw->mean()[size_t(target_col)]) / raw->std()[size_t(target_col)];
      abs_sum += std::fabs(now - double(y[b]));
    }
  }
  return count ? abs_sum / double(count) : 0.0;
}

// The runs of rows [begin, end) that lie inside `part`.
std::vector<std::pair<int64_t, int64_t>> clip_runs(const std::vector<std::pair<int64_t, int64_t>>& runs,
                                                   std::pair<int64_t, int64_t> part) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& [b, e] : runs) {
    const int64_t lo = std::max(b, part.first), hi = std::min(e, part.second);
    if (lo < hi) out.emplace_back(lo, hi);
  }
  return out;
}

// The book's temperature forecasting setup (DLwP 1st ed. 6.3) on any hourly or 10-minute weather CSV, or many.
// `fixed`: statistics that come with the model (its Normalization layer): nothing is fitted on the data.
PreparedData prepare_weather(const Json& d, const std::string& data_dir, uint32_t seed,
                             const std::optional<data::ColumnNormalizer>& fixed, bool evaluating) {
  check_keys(d, "dataset", {"name", "path", "columns", "target", "units", "lookback", "step", "delay", "batch_size",
                            "train_rows", "val_rows", "test_rows", "steps_per_epoch", "na_policy", "na_columns",
                            "na_values", "split", "train_files", "val_files", "test_files", "normalization",
                            "text_columns", "time_features"});
  const std::string normalization = string_at(d, "dataset", "normalization", "model");
  if (normalization != "model" && normalization != "data")
    throw Error("dataset.normalization must be \"model\" (a Normalization layer at the model's input) or \"data\" "
                "(the windows normalized beforehand), got '" + normalization + "'");
  const bool in_model = normalization == "model" || fixed.has_value();
  const std::string name = string_at(d, "dataset", "name");
  std::vector<std::string> paths;
  if (name == "beijing_pm25" || name == "jena_climate") {
    const std::string file = name == "beijing_pm25" ? "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"
                                                    : "jena_climate/jena_climate_2009_2016.csv";
    const std::string path = string_at(d, "dataset", "path", data_dir);
    paths = {path.ends_with(".csv") ? path : datasets::find_data_file(file, path)};
  } else {
    paths = data::expand_paths(strings_at(d, "dataset", "path", /*one_allowed=*/true));
  }
  data::SeriesOptions so;
  so.columns = strings_at(d, "dataset", "columns", false);
  const std::string target = string_at(d, "dataset", "target");
  auto it = std::find(so.columns.begin(), so.columns.end(), target);
  if (it == so.columns.end()) throw Error("dataset.target: the target column '" + target + "' must be one of dataset.columns");
  int64_t target_col = it - so.columns.begin();
  if (d.contains("na_policy")) so.missing = missing_values_at(d["na_policy"], "dataset.na_policy");
  if (d.contains("na_columns")) {
    if (!d["na_columns"].is_object()) wrong_type("dataset.na_columns", "{column: policy}", d["na_columns"]);
    std::set<std::string> time_columns;
    if (d.contains("time_features") && d["time_features"].is_object())
      for (const auto& [k, v] : d["time_features"].items())
        if (v.is_string()) time_columns.insert(v.get<std::string>());
    for (const auto& [c, v] : d["na_columns"].items()) {
      if (std::find(so.columns.begin(), so.columns.end(), c) == so.columns.end() && !time_columns.count(c))
        throw Error("dataset.na_columns: '" + c + "' is not one of dataset.columns or the time_features columns");
      so.missing_columns[c] = missing_values_at(v, "dataset.na_columns." + c);
    }
  }
  if (d.contains("na_values")) {
    if (!d["na_values"].is_array()) wrong_type("dataset.na_values", "a list of strings", d["na_values"]);
    so.na_values.clear();
    for (const Json& v : d["na_values"]) {
      if (!v.is_string()) wrong_type("dataset.na_values", "a list of strings", d["na_values"]);
      so.na_values.push_back(v.get<std::string>());
    }
  }
  if (d.contains("text_columns")) {
    if (!d["text_columns"].is_object()) wrong_type("dataset.text_columns", "{column: \"one_hot\" or \"category\"}", d["text_columns"]);
    for (const auto& [c, v] : d["text_columns"].items()) {
      const std::string key = "dataset.text_columns." + c;
      if (std::find(so.columns.begin(), so.columns.end(), c) == so.columns.end())
        throw Error(key + ": '" + c + "' is not one of dataset.columns");
      data::TextColumn t;
      std::string encoding;
      if (v.is_string()) {
        encoding = v.get<std::string>();
      } else if (v.is_object()) {
        check_keys(v, key, {"encoding", "categories"});
        encoding = string_at(v, key, "encoding", "one_hot");
        if (v.contains("categories")) t.categories = strings_at(v, key, "categories", false);
      } else {
        wrong_type(key, "\"one_hot\", \"category\" or {\"encoding\", \"categories\"}", v);
      }
      if (encoding != "one_hot" && encoding != "category")
        throw Error(key + ": the encoding must be \"one_hot\" or \"category\", got '" + encoding + "'");
      t.encoding = encoding == "one_hot" ? data::TextEncoding::one_hot : data::TextEncoding::category;
      // Evaluating a model on other files: its input columns must be the ones it was trained with.
      if (evaluating && t.categories.empty())
        throw Error(key + ": the categories the model was trained with are not known: list them in the experiment "
                          "(\"categories\"), or keep the run's preprocessing.json beside the model file");
      so.text_columns[c] = std::move(t);
    }
  }
  if (d.contains("time_features")) {
    const Json& t = d["time_features"];
    check_keys(t, "dataset.time_features", {"column", "year", "month", "day", "hour"});
    data::TimeFeatures tf;
    tf.column = string_at(t, "dataset.time_features", "column", "");
    tf.year = string_at(t, "dataset.time_features", "year", "");
    tf.month = string_at(t, "dataset.time_features", "month", "");
    tf.day = string_at(t, "dataset.time_features", "day", "");
    tf.hour = string_at(t, "dataset.time_features", "hour", "");
    so.time = tf;
  }
  if (so.text_columns.count(target)) throw Error("dataset.target: the target cannot be a text column");
  const data::Series series = data::read_series(paths, so);
  target_col = std::find(series.columns.begin(), series.columns.end(), target) - series.columns.begin();

  data::GeneratorOptions g;
  g.lookback = int_at(d, "dataset", "lookback");
  g.step = int_at(d, "dataset", "step", 1);
  g.delay = int_at(d, "dataset", "delay");
  g.batch_size = int_at(d, "dataset", "batch_size", 128);
  for (auto [key, v, least] : {std::tuple{"lookback", g.lookback, 1}, {"step", g.step, 1}, {"delay", g.delay, 0},
                               {"batch_size", g.batch_size, 1}})
    if (v < least) throw Error(fmt::format("dataset.{} must be at least {}, got {}", key, least, v));
  if (g.lookback > std::numeric_limits<int64_t>::max() - 1 - g.delay)
    throw Error(fmt::format("dataset.lookback + dataset.delay + 1 (the rows of a window and its target) is past "
                            "int64: lookback {}, delay {}", g.lookback, g.delay));
  g.target_column = target_col;
  g.seed = seed;

  // Each split's rows: within every file by row ranges (the book's bounds: a window's target may lie up to
  // delay - 1 rows past its range, and the file's last row is never a target), or whole files.
  const std::string split = string_at(d, "dataset", "split", "rows");
  if (split != "rows" && split != "files") throw Error("dataset.split must be \"rows\" or \"files\", got '" + split + "'");
  const int64_t n_files = int64_t(series.files.size());
  struct Split {
    std::vector<std::pair<int64_t, int64_t>> runs;  // what its windows may read
    std::vector<std::pair<int64_t, int64_t>> rows;  // its own rows (normalization is fitted on the training ones)
  };
  auto split_of = [&](const char* rows_key, const char* files_key) {
    Split s;
    if (split == "rows") {
      if (d.contains(files_key)) throw Error(fmt::format("dataset.{} needs dataset.split = \"files\"", files_key));
      for (const auto& f : series.files) {
        auto [a, b] = index_range(d, rows_key, f.rows, "rows of each file");
        s.rows.emplace_back(f.first_row + a, f.first_row + b);
        const auto part = std::pair{f.first_row + a, f.first_row + b + std::min(g.delay, f.rows - b) - 1};
        for (const auto& r : clip_runs(series.runs, part)) s.runs.push_back(r);
      }
    } else {
      if (d.contains(rows_key)) throw Error(fmt::format("dataset.{} needs dataset.split = \"rows\"", rows_key));
      auto [a, b] = index_range(d, files_key, n_files, "files");
      for (int64_t i = a; i < b; ++i) {
        const auto& f = series.files[size_t(i)];
        s.rows.emplace_back(f.first_row, f.first_row + f.rows);
        for (const auto& r : clip_runs(series.runs, s.rows.back())) s.runs.push_back(r);
      }
    }
    return s;
  };
  const Split train = split_of("train_rows", "train_files"), val = split_of("val_rows", "val_files"),
              test = split_of("test_rows", "test_files");

  // Normalization statistics from the training rows that were not dropped, or the model's own.
  const int64_t width = int64_t(series.columns.size());
  data::ColumnNormalizer norm;
  if (fixed) {
    if (fixed->columns() != width)
      throw Error(fmt::format("dataset.columns: the model's Normalization layer has {} features, the experiment {} "
                              "columns",
                              fixed->columns(), width));
    norm = *fixed;
  } else {
    std::vector<float> fit_rows;
    for (const auto& [a, b] : train.rows)
      for (const auto& [ra, rb] : clip_runs(series.runs, {a, b}))
        fit_rows.insert(fit_rows.end(), series.values.data() + ra * width, series.values.data() + rb * width);
    if (fit_rows.empty()) throw Error("dataset: the training rows hold no row without a gap");
    const int64_t n_fit = int64_t(fit_rows.size()) / width;
    norm = data::ColumnNormalizer::fit(Tensor({n_fit, width}, std::move(fit_rows)));
  }
  // "model": raw windows, and the target normalized on its own; "data": everything normalized beforehand.
  Tensor inputs = in_model ? series.values : norm.transform(series.values);
  Tensor targets;
  if (in_model) {
    targets = Tensor({series.rows()});
    const double mean = norm.mean()[size_t(target_col)], sd = norm.std()[size_t(target_col)];
    for (int64_t r = 0; r < series.rows(); ++r)
      targets[r] = float((double(series.values.data()[r * width + target_col]) - mean) / sd);
  }

  PreparedData p;
  p.windows_normalized = !in_model;
  if (in_model) {
    std::vector<float> mean, variance;
    for (int64_t c = 0; c < width; ++c) {
      mean.push_back(float(norm.mean()[size_t(c)]));
      variance.push_back(float(norm.std()[size_t(c)] * norm.std()[size_t(c)]));
    }
    p.input_statistics = std::pair{std::move(mean), std::move(variance)};
  }
  auto make = [&](const Split& s, const char* what, bool shuffle) {
    data::GeneratorOptions o = g;
    o.runs = s.runs;
    o.shuffle = shuffle;
    o.targets = targets;
    try {
      return std::make_unique<data::TimeseriesGenerator>(inputs, o);
    } catch (const Error& e) {
      throw Error(fmt::format("dataset: the {} split: {}", what, e.what()));
    }
  };
  p.train_gen = make(train, "training", true);
  p.val_gen = make(val, "validation", false);
  p.test_gen = make(test, "test", false);
  p.val_steps = p.val_gen->steps_per_pass();
  p.test_steps = p.test_gen->steps_per_pass();
  if (p.val_steps <= 0 || p.test_steps <= 0)
    throw Error(fmt::format("dataset: the validation or test split holds less than one batch of {} windows",
                            g.batch_size));
  p.train_steps = int_at(d, "dataset", "steps_per_epoch", 500);
  p.target_std = norm.std()[size_t(target_col)];
  bool degrees = target == "TEMP" || target == "T (degC)" || target == "DEWP" || target == "Tdew (degC)";
  p.units = string_at(d, "dataset", "units", degrees ? "°C" : "units");

  // The common-sense baseline: the temperature `delay` rows from now equals the temperature now.
  auto val_copy = make(val, "validation", false);
  p.baseline_val["mae"] = naive_mae(*val_copy, p.val_steps, target_col, in_model ? &norm : nullptr);
  auto test_copy = make(test, "test", false);
  p.baseline_test["mae"] = naive_mae(*test_copy, p.test_steps, target_col, in_model ? &norm : nullptr);
  // Rows of stretches between gaps too short to hold one window and its target are said, not silently unused.
  int64_t short_rows = 0;
  for (const auto& [b, e] : series.runs)
    if (e - b < g.lookback + g.delay + 1) short_rows += e - b;
  const std::string unused =
      short_rows ? fmt::format(", {} rows in stretches too short for a window (lookback + delay + 1 = {} rows)", short_rows,
                               g.lookback + g.delay + 1)
                 : std::string();
  p.description = fmt::format("{}: {}{}, {} features, lookback {} step {} delay {}, target {}", name, series.summary(),
                              unused, series.columns.size(), g.lookback, g.step, g.delay, target);
  p.preprocessing = {{"features", series.columns}};
  if (!series.categories.empty()) p.preprocessing["categories"] = series.categories;
  return p;
}

// ---- dataset "sequence_task": seq2seq problems generated in code (seqnet/data/sequence_tasks.h) ----
PreparedData prepare_sequence_task(const Json& d, uint64_t seed) {
  check_keys(d, "dataset", {"name", "task", "digits", "length", "reverse_question", "train_samples",
                            "validation_samples", "test_samples"});
  const std::string task = string_at(d, "dataset", "task");
  auto count = [&](const char* key, int64_t fallback) {
    const int64_t v = int_at<int64_t>(d, "dataset", key, fallback);
    if (v < 0) throw Error(fmt::format("dataset.{}: expected a whole number >= 0, got {}", key, v));
    return v;
  };
  const int64_t n_train = count("train_samples", 45000), n_val = count("validation_samples", 5000),
                n_test = count("test_samples", 5000);
  if (n_train == 0) throw Error("dataset.train_samples: must be at least 1");
  int64_t n = 0;
  if (__builtin_add_overflow(n_train, n_val, &n) || __builtin_add_overflow(n, n_test, &n))
    throw Error(fmt::format("dataset: train_samples + validation_samples + test_samples = {} + {} + {} is past int64",
                            n_train, n_val, n_test));
  data::SequenceTask t;
  std::string what;
  if (task == "addition") {
    if (d.contains("length")) throw Error("dataset.length: the addition task takes 'digits', not 'length'");
    const int digits = int_at<int>(d, "dataset", "digits", 3);
    const bool reverse = d.value("reverse_question", true);
    t = data::addition_problems(n, digits, seed, reverse);
    what = fmt::format("addition of numbers of 1 to {} digits{}", digits, reverse ? ", questions reversed" : "");
  } else if (task == "reverse") {
    if (d.contains("digits") || d.contains("reverse_question"))
      throw Error("dataset: the reverse task takes 'length' only (not 'digits' or 'reverse_question')");
    const int length = int_at<int>(d, "dataset", "length", 8);
    t = data::reversal_problems(n, length, seed);
    what = fmt::format("reversing strings of {} digits", length);
  } else {
    throw Error("dataset.task: '" + task + "' is not a sequence task (known: addition, reverse)");
  }
  // Distinct problems (addition), so the validation and test problems are unseen in training.
  PreparedData p;
  p.x_train = t.x.slice_rows(0, n_train), p.y_train = t.y.slice_rows(0, n_train);
  if (n_val) p.x_val = t.x.slice_rows(n_train, n_train + n_val), p.y_val = t.y.slice_rows(n_train, n_train + n_val);
  if (n_test) p.x_test = t.x.slice_rows(n_train + n_val, n), p.y_test = t.y.slice_rows(n_train + n_val, n);
  p.exact_match = true;
  p.description = fmt::format("sequence task: {}; {} training, {} validation and {} test problems, {} -> {} one-hot",
                              what, n_train, n_val, n_test, shape_to_string({t.x.dim(1), t.x.dim(2)}),
                              shape_to_string({t.y.dim(1), t.y.dim(2)}));
  return p;
}

PreparedData prepare_data(const Json& spec, const std::string& data_dir, uint64_t seed,
                          const std::optional<data::ColumnNormalizer>& fixed_statistics = std::nullopt,
                          bool evaluating = false) {
  if (!spec.contains("dataset")) throw Error("the experiment has no 'dataset'");
  const Json& d = spec.at("dataset");
  std::string dataset = d.at("name").get<std::string>();
  if (dataset == "mnist") return prepare_mnist(d, data_dir);
  if (dataset == "imdb") return prepare_imdb(d, data_dir);
  if (dataset == "series") return prepare_series(d);
  if (dataset == "numpy") return prepare_numpy(d);
  if (dataset == "sequence_task") return prepare_sequence_task(d, seed);
  if (dataset == "beijing_pm25" || dataset == "jena_climate" || dataset == "csv")
    return prepare_weather(d, data_dir, uint32_t(seed), fixed_statistics, evaluating);
  throw Error("unknown dataset '" + dataset + "' (known: mnist, imdb, series, numpy, sequence_task, beijing_pm25, jena_climate, csv)");
}

// dataset.normalization = "model": a Normalization layer with the training rows' statistics in its config goes
// first in the Sequential (it takes over an input shape the first layer declares); a Normalization layer of the
// model's own without statistics gets them, as keras's adapt() would.
void add_input_normalization(Json& model, const std::pair<std::vector<float>, std::vector<float>>& stats) {
  const std::string cls = model.value("class_name", std::string());
  if (cls != "Sequential")
    throw Error("dataset.normalization = \"model\" puts a Normalization layer first in a Sequential model; this "
                "model is a " + cls + ": add a Normalization layer to it or set dataset.normalization = \"data\"");
  Json& layers = model["config"]["layers"];
  if (!layers.is_array()) throw Error("the model's config has no list of layers");
  size_t first = 0;
  while (first < layers.size() && layers[first].value("class_name", std::string()) == "InputLayer") ++first;
  if (first < layers.size() && layers[first].value("class_name", std::string()) == "Normalization") {
    Json& c = layers[first]["config"];
    if (c.contains("mean") && !c["mean"].is_null())
      throw Error("the model's Normalization layer has a mean and variance of its own: remove them to have them "
                  "fitted on the training rows (dataset.normalization = \"model\")");
    c["mean"] = stats.first;
    c["variance"] = stats.second;
    return;
  }
  std::set<std::string> names;
  for (const Json& l : layers) names.insert(l.value("config", Json::object()).value("name", std::string()));
  std::string name = "normalization";
  for (int i = 1; names.count(name); ++i) name = fmt::format("normalization_{}", i);
  Json norm = {{"class_name", "Normalization"},
               {"config",
                {{"name", name}, {"trainable", true}, {"dtype", "float32"}, {"axis", Json::array({-1})},
                 {"invert", false}, {"mean", stats.first}, {"variance", stats.second}}}};
  if (first < layers.size() && layers[first].contains("config"))
    for (const char* key : {"batch_input_shape", "batch_shape", "input_shape"})
      if (layers[first]["config"].contains(key)) {
        norm["config"][key] = layers[first]["config"][key];
        layers[first]["config"].erase(key);
      }
  layers.insert(layers.begin() + std::ptrdiff_t(first), norm);
}

std::unique_ptr<Model> build_model(const Json& spec, const std::string& base_dir, const PreparedData& data) {
  Json model;
  std::string where = "the experiment's model";
  if (spec.contains("model_path") && spec.contains("model"))
    throw Error("the experiment gives both 'model' and 'model_path': keep one");
  if (spec.contains("model_path")) {
    fs::path path = spec["model_path"].get<std::string>();
    if (path.is_relative()) path = fs::path(base_dir) / path;
    where = path.string();
    try {
      model = Json::parse(read_file_bytes(path.string()));
    } catch (const Json::exception& e) {
      throw Error(path.string() + ": malformed Keras config: " + e.what());
    }
  } else if (spec.contains("model")) {
    model = spec["model"];
  } else {
    throw Error("the experiment has neither 'model' (a Keras config) nor 'model_path'");
  }
  if (data.input_statistics) {
    add_input_normalization(model, *data.input_statistics);
  } else if (data.windows_normalized && model.contains("config") && model["config"].contains("layers")) {
    for (const Json& l : model["config"]["layers"]) {
      const std::string cls = l.value("class_name", std::string());
      if (cls == "InputLayer") continue;
      if (cls == "Normalization")
        throw Error("dataset.normalization = \"data\" normalizes the windows beforehand, and the model's first layer, a "
                    "Normalization, would normalize them again: use dataset.normalization = \"model\"");
      break;
    }
  }
  try {
    return model_from_json(model.dump());
  } catch (const Error& e) {
    if (where == "the experiment's model") throw;
    throw Error(where + ": " + e.what());
  }
}

// The statistics of the Normalization layer a model starts with, if any: evaluating it on an experiment's data
// uses them instead of fitting new ones.
std::optional<data::ColumnNormalizer> model_input_statistics(Model& model) {
  auto layers = model.layers();
  auto* norm = layers.empty() ? nullptr : dynamic_cast<Normalization*>(layers.front().get());
  if (!norm || norm->invert()) return std::nullopt;
  std::vector<double> mean, sd;
  for (float m : norm->mean()) mean.push_back(m);
  for (float v : norm->variance()) sd.push_back(std::max(std::sqrt(double(v)), 1e-7));
  return data::ColumnNormalizer(std::move(mean), std::move(sd));
}

void ensure_model_built(Model& model, const PreparedData& data) {
  if (model.built()) return;
  if (data.val_gen) {
    auto [x, y] = data.val_gen->window(data.val_gen->anchor(0));
    auto* seq = dynamic_cast<Sequential*>(&model);
    if (!seq) throw Error("the experiment's model has no input shape");
    seq->build(x.shape());
  } else {
    ensure_built(model, data.x_train.slice_rows(0, 1));
  }
}

void compile_from_spec(Model& model, const Json& spec) {
  const Json c = spec.value("compile", Json::object());
  check_keys(c, "compile", {"optimizer", "loss", "loss_weights", "metrics"});
  CompileOptions co;
  co.optimizer = optimizers::from_config(c.value("optimizer", Json("rmsprop")));
  if (!c.contains("loss")) throw Error("experiment: 'compile' needs a 'loss'");
  // A model of several outputs takes a list (in the order of its outputs) or a dict (by output name) of losses,
  // loss weights and metric lists; a single loss or metric list applies to every output.
  const std::vector<std::string> outputs = model.built() ? model.output_names() : std::vector<std::string>{};
  auto per_output = [&](const Json& j, const char* key) {
    return config::entries_per_output(j, outputs, std::string("compile.") + key);
  };
  const Json& loss = c.at("loss");
  if (loss.is_string()) {
    co.loss = loss.get<std::string>();
  } else {
    for (const Json& l : per_output(loss, "loss")) {
      if (!l.is_string()) wrong_type("compile.loss", "loss names", loss);
      co.losses.push_back(l.get<std::string>());
    }
  }
  if (c.contains("loss_weights"))
    for (const Json& w : per_output(c["loss_weights"], "loss_weights")) {
      if (!w.is_number()) wrong_type("compile.loss_weights", "numbers", c["loss_weights"]);
      co.loss_weights.push_back(w.get<double>());
    }
  const Json metrics = c.value("metrics", Json::array());
  const bool flat = metrics.is_array() && std::all_of(metrics.begin(), metrics.end(), [](const Json& m) { return m.is_string(); });
  if (flat) {
    co.metrics = metrics.get<std::vector<std::string>>();
  } else {
    for (const Json& m : per_output(metrics, "metrics")) {
      if (!m.is_array()) wrong_type("compile.metrics", "a list of metric names per output", metrics);
      co.metrics_per_output.push_back(m.get<std::vector<std::string>>());
    }
  }
  model.compile(co);
}

bool maximize(const std::string& monitor, const std::string& mode) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  return monitor.find("acc") != std::string::npos;
}

// Keeps the weights of the best epoch by `monitor` in memory, to evaluate them on the test split.
class BestWeights : public Callback {
 public:
  BestWeights(std::string monitor, bool maximize) : monitor_(std::move(monitor)), max_(maximize) {}
  void on_train_begin(Logs&) override {
    if (std::string state = take_pending_state(); !state.empty()) {
      const Json j = Json::parse(state);
      if (!j.at("best").is_null()) best_ = j.at("best").get<double>();
      weights_ = tensors_from_json(j.at("weights"));
    }
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    auto v = logs.get(monitor_);
    if (!v || !std::isfinite(*v)) return;
    if (!best_ || (max_ ? *v > *best_ : *v < *best_)) {
      best_ = *v;
      weights_ = model()->get_weights();
    }
  }
  bool restore(Model& m) const {
    if (weights_.empty()) return false;
    m.set_weights(weights_);
    return true;
  }
  std::string save_state() const override {
    return Json{{"best", best_ ? Json(*best_) : Json(nullptr)}, {"weights", tensors_to_json(weights_)}}.dump();
  }

 private:
  std::string monitor_;
  bool max_;
  std::optional<double> best_;
  std::vector<Tensor> weights_;
};

// ---- Exact resume of an interrupted run (ExperimentOptions::resume) ----
// After every epoch rank 0 writes the run folder's checkpoint/: the model (weights, optimizer state, random
// streams, epoch count) as epoch-NNNN.keras, then state.json naming it, with the history so far, every
// callback's state and the training generator's. In that order, each atomically: a kill at any moment leaves
// a state.json whose model file is whole. A finished run removes the folder.
Json history_to_json(const History& h) {
  Json keys = Json::array();
  for (const auto& [k, v] : h.history) keys.push_back({k, v});  // in the order Keras logs them
  return {{"epoch", h.epoch}, {"history", keys}};
}
History history_from_json(const Json& j) {
  History h;
  h.epoch = whole_numbers_at<int>(j.at("epoch"), "the saved history: epoch");
  for (const Json& kv : j.at("history"))
    h.history.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::vector<double>>());
  return h;
}

class RunCheckpoint : public Callback {
 public:
  // generators: the training and validation generators (null for array data), whose positions carry over.
  RunCheckpoint(fs::path dir, Json identity, std::vector<CallbackPtr> callbacks,
                std::vector<data::TimeseriesGenerator*> generators, History history)
      : dir_(std::move(dir)), identity_(std::move(identity)), callbacks_(std::move(callbacks)),
        generators_(std::move(generators)), history_(std::move(history)) {}
  void on_epoch_end(int epoch, Logs& logs) override {
    history_.append(epoch, logs);
    if (!distributed::is_root()) return;
    fs::create_directories(dir_);
    const std::string name = fmt::format("epoch-{:04d}.keras", epoch + 1);
    model()->save((dir_ / name).string());
    Json states = Json::array(), generators = Json::array();
    for (const CallbackPtr& cb : callbacks_) states.push_back(cb->save_state());
    for (const data::TimeseriesGenerator* g : generators_) generators.push_back(g ? g->save_state() : std::string());
    const Json state = {{"identity", identity_},
                        {"epochs_completed", epoch + 1},
                        {"model", name},
                        {"history", history_to_json(history_)},
                        {"callbacks", states},
                        {"generators", generators}};
    write_file_atomic((dir_ / "state.json").string(), state.dump());
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      const std::string f = entry.path().filename().string();
      if (f != name && f.rfind("epoch-", 0) == 0) fs::remove(entry.path(), ec);
    }
  }
  const History& history() const { return history_; }

 private:
  fs::path dir_;
  Json identity_;
  std::vector<CallbackPtr> callbacks_;
  std::vector<data::TimeseriesGenerator*> generators_;
  History history_;
};

// What must not change between a run and its resumption: the experiment as edited, less its epoch count
// (a resumed run may be given more epochs), and the seed in force.
Json run_identity(const Json& spec, uint64_t seed) {
  Json id = spec;
  if (id.contains("fit") && id["fit"].is_object()) id["fit"].erase("epochs");
  id["seed"] = seed;
  return id;
}

// The first key path where two JSON values differ, for the message.
std::string first_difference(const Json& a, const Json& b, const std::string& path = "") {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      const std::string p = path.empty() ? k : path + "." + k;
      if (!b.contains(k)) return p;
      if (std::string d = first_difference(v, b[k], p); !d.empty()) return d;
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return path.empty() ? k : path + "." + k;
    return "";
  }
  return a == b ? "" : (path.empty() ? "(the whole experiment)" : path);
}

struct CallbackSetup {
  std::vector<CallbackPtr> callbacks;
  std::string monitor = "val_loss";  // what the best epoch and best.keras follow
  std::string mode = "auto";
};

// "callbacks": [{"class_name": "EarlyStopping", "config": {...}}, ...] with Keras's config keys. Files
// (ModelCheckpoint's filepath, CSVLogger's filename) are relative to the run folder; without one they are
// left out. With a run folder, best.keras is always written (save_best_only on the monitor).
CallbackSetup callbacks_from_spec(const Json& spec, const fs::path& run_dir, bool has_validation) {
  CallbackSetup s;
  s.monitor = has_validation ? "val_loss" : "loss";
  bool best_keras_written = false;
  const Json list = spec.value("callbacks", Json::array());
  if (!list.is_array()) throw Error("experiment: 'callbacks' must be a list of {\"class_name\", \"config\"}");
  auto in_run_dir = [&](const std::string& p) { return fs::path(p).is_absolute() ? fs::path(p) : run_dir / p; };
  for (const Json& entry : list) {
    check_keys(entry, "callbacks[]", {"class_name", "config", "module", "registered_name"});
    std::string cls = entry.at("class_name").get<std::string>();
    Json c = entry.value("config", Json::object());
    if (cls == "ModelCheckpoint") {
      // The best model by this checkpoint's monitor is what the run reports.
      if (c.value("save_best_only", false) == true && c.value("save_weights_only", false) == false) {
        s.monitor = c.value("monitor", std::string("val_loss"));
        s.mode = c.value("mode", std::string("auto"));
      }
      if (run_dir.empty()) {
        warn("ModelCheckpoint left out: the run has no folder (--out)");
        continue;
      }
      const std::string file = c.value("filepath", std::string("best.keras"));
      if (fs::weakly_canonical(in_run_dir(file)) == fs::weakly_canonical(run_dir / "best.keras")) best_keras_written = true;
      c["filepath"] = in_run_dir(file).string();
    } else if (cls == "CSVLogger") {
      if (run_dir.empty()) {
        warn("CSVLogger left out: the run has no folder (--out)");
        continue;
      }
      c["filename"] = in_run_dir(c.value("filename", std::string("training.log"))).string();
    }
    try {
      s.callbacks.push_back(callback_from_config(cls, c));
    } catch (const Error& e) {
      throw Error(std::string("experiment: callbacks: ") + e.what());
    }
  }
  if (!run_dir.empty() && !best_keras_written) {
    ModelCheckpointOptions o;
    o.monitor = s.monitor;
    o.mode = s.mode;
    o.save_best_only = true;
    s.callbacks.push_back(callbacks::ModelCheckpoint((run_dir / "best.keras").string(), o));
  }
  return s;
}

std::string short_metric_name(const std::string& name) {
  if (name == "mean_absolute_error") return "mae";
  if (name == "mean_squared_error") return "mse";
  if (name == "accuracy") return "acc";
  return name;
}

// The metric a run is judged by: "report": {"metric": ...}, else the first compile metric, else the loss.
void choose_metric(const Json& spec, ExperimentResult& r) {
  const Json rep = spec.value("report", Json::object());
  check_keys(rep, "report", {"metric"});
  const Json compile = spec.value("compile", Json::object());
  // A model of several outputs is judged by its total loss unless the report names a metric.
  const Json loss = compile.value("loss", Json("loss")), metric_list = compile.value("metrics", Json::array());
  std::string loss_name = short_metric_name(loss.is_string() ? loss.get<std::string>() : std::string("loss"));
  std::vector<std::string> metrics;
  if (loss.is_string() && metric_list.is_array())
    for (const Json& m : metric_list)
      if (m.is_string()) metrics.push_back(m.get<std::string>());
  std::string key = rep.value("metric", metrics.empty() ? std::string("loss") : metrics.front());
  if (key == loss_name) key = "loss";
  r.metric_key = key;
  r.metric = key == "loss" ? loss_name : short_metric_name(key);
}

void summarize(ExperimentResult& r) {
  r.epochs_run = int(r.history.epoch.size());
  const std::string vk = "val_" + r.metric_key;
  if (r.history.contains(vk)) {
    const auto& v = r.history[vk];
    bool max = maximize(r.metric_key, "auto");
    for (size_t e = 0; e < v.size(); ++e) {
      if (!std::isfinite(v[e])) continue;
      if (!r.best_val || (max ? v[e] > *r.best_val : v[e] < *r.best_val)) {
        r.best_val = v[e];
        r.best_epoch = r.history.epoch[e] + 1;
      }
    }
  }
  if (auto t = r.test.get(r.metric_key)) r.test_metric = *t;
}

std::string fmt_value(double v) { return fmt::format("{:.4f}", v); }

// "0.2712 (2.31 °C)" for a normalized MAE with a known target std.
std::string with_units(const std::string& metric, double v, const Json& run) {
  std::string s = fmt_value(v);
  if (metric == "mae" && run.contains("target_std") && run["target_std"].is_number())
    s += fmt::format(" ({:.2f} {})", v * run["target_std"].get<double>(), run.value("units", std::string()));
  return s;
}

void write_text(const fs::path& path, const std::string& text) { write_file_atomic(path.string(), text); }

std::string run_report_markdown(const Json& run) {
  const std::string metric = run.value("metric", std::string("loss"));
  std::string md = fmt::format("# {}\n\n", run.value("name", std::string("experiment")));
  if (!run.value("description", std::string()).empty()) md += run["description"].get<std::string>() + "\n\n";
  md += fmt::format("Data: {}\n\n", run.value("data", std::string()));
  md += "| | |\n|---|---|\n";
  if (run.value("kind", std::string("train")) == "train") {
    if (run.contains("best_val") && run["best_val"].is_number())
      md += fmt::format("| best validation {} | {} (epoch {}) |\n", metric,
                        with_units(metric, run["best_val"].get<double>(), run), int_at<int64_t>(run, "run.json", "best_epoch", 0));
    if (run.contains("test_metric") && run["test_metric"].is_number())
      md += fmt::format("| test {} | {} |\n", metric, with_units(metric, run["test_metric"].get<double>(), run));
    md += fmt::format("| epochs run | {} |\n", int_at<int64_t>(run, "run.json", "epochs", 0));
    md += fmt::format("| seconds per epoch | {:.1f} |\n", run.value("seconds_per_epoch", 0.0));
    if (run.contains("overrides") && !run["overrides"].empty()) {
      std::string edits;
      for (const auto& o : run["overrides"]) edits += (edits.empty() ? "`" : ", `") + o.get<std::string>() + "`";
      md += "| run with | " + edits + " |\n";
    }
  }
  for (const char* split : {"baseline_val", "baseline_test"}) {
    if (!run.contains(split)) continue;
    for (const auto& [m, v] : run[split].items())
      md += fmt::format("| {} baseline {} | {} |\n", split == std::string("baseline_val") ? "validation" : "test", m,
                        with_units(m, v.get<double>(), run));
  }
  if (run.contains("baseline")) md += "\nBaseline: " + run["baseline"].get<std::string>() + ".\n";
  if (run.contains("test") && !run["test"].empty()) {
    md += "\nTest set:";
    for (const auto& [k, v] : run["test"].items()) md += fmt::format(" {} {:.4f};", k, v.get<double>());
    md += "\n";
  }
  if (run.contains("figures")) {
    md += "\n";
    for (const auto& f : run["figures"]) {
      std::string file = f.get<std::string>();
      md += fmt::format("![{}]({})\n", fs::path(file).stem().string(), file);
    }
  }
  return md;
}

void write_run_files(const fs::path& dir, const Model* model, ExperimentResult& r, const Json& preprocessing) {
  fs::create_directories(dir);
  if (!preprocessing.is_null()) {
    write_text(dir / "preprocessing.json", preprocessing.dump(1) + "\n");
    r.files.push_back("preprocessing.json");
  }
  std::vector<std::string> figures;
  if (!r.history.epoch.empty()) {
    write_history_csv(r.history, (dir / "history.csv").string());
    write_history_json(r.history, (dir / "history.json").string());
    r.files.push_back("history.csv");
    r.files.push_back("history.json");
    for (const auto& f : plot_history(r.history, dir.string())) figures.push_back(fs::path(f).filename().string());
    r.files.insert(r.files.end(), figures.begin(), figures.end());
  }
  if (model) {
    write_text(dir / "model.json", model->to_json(1) + "\n");
    r.files.push_back("model.json");
    if (fs::exists(dir / "best.keras")) r.files.push_back("best.keras");
  }
  nlohmann::ordered_json test = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.test.items()) test[k] = v;
  for (const auto& [k, v] : r.baseline_test) test["baseline_" + k] = v;
  write_text(dir / "test.json", test.dump(1) + "\n");
  r.files.push_back("test.json");
  Json run = run_summary_json(r);
  run["figures"] = figures;
  run["files"] = r.files;
  run["files"].push_back("run.json");
  run["files"].push_back("report.md");
  write_text(dir / "run.json", run.dump(1) + "\n");
  write_text(dir / "report.md", run_report_markdown(run));
  r.files.push_back("run.json");
  r.files.push_back("report.md");
}

void print_baselines(const ExperimentResult& r, const std::string& label) {
  for (const auto& [split, values] : {std::pair{"validation", &r.baseline_val}, std::pair{"test", &r.baseline_test}}) {
    for (const auto& [m, v] : *values) {
      if (m == "mae" && r.target_std)
        std::printf("%s %s %s: %.4f normalized, %.2f %s\n", label.c_str(), split, m.c_str(), v, v * *r.target_std,
                    r.units.c_str());
      else
        std::printf("%s %s %s: %.4f\n", label.c_str(), split, m.c_str(), v);
    }
  }
}

}  // namespace

void apply_override(Json& spec, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw Error("override '" + assignment + "' must be key.path=value");
  std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;
  }
  Json* node = &spec;
  std::stringstream ss(path);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!node->is_object()) throw Error("override '" + assignment + "': '" + parts[i - 1] + "' is not an object");
    if (i + 1 == parts.size()) {
      (*node)[parts[i]] = value;
    } else {
      node = &(*node)[parts[i]];
      if (node->is_null()) *node = Json::object();
    }
  }
}

Json load_experiment_spec(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open experiment file '" + path + "'");
  Json spec;
  try {
    spec = Json::parse(f);
  } catch (const Json::parse_error& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  if (!spec.is_object()) throw Error(path + ": an experiment file holds a JSON object");
  for (const auto& o : overrides) apply_override(spec, o);
  return spec;
}

Json run_summary_json(const ExperimentResult& r) {
  Json j;
  j["name"] = r.name;
  j["kind"] = r.kind;
  j["description"] = r.description;
  j["data"] = r.data_description;
  j["metric"] = r.metric;
  j["best_val"] = r.best_val ? Json(*r.best_val) : Json(nullptr);
  j["best_epoch"] = r.best_epoch;
  j["test_metric"] = r.test_metric ? Json(*r.test_metric) : Json(nullptr);
  j["test"] = Json::object();
  for (const auto& [k, v] : r.test.items()) j["test"][k] = v;
  j["epochs"] = r.epochs_run;
  j["seconds_per_epoch"] = r.seconds_per_epoch;
  j["seed"] = r.seed;
  j["overrides"] = r.overrides;
  if (!r.baseline_val.empty()) j["baseline_val"] = r.baseline_val;
  if (!r.baseline_test.empty()) j["baseline_test"] = r.baseline_test;
  if (r.target_std) {
    j["baseline"] = "common sense: the value in `delay` steps equals the value now";
    j["target_std"] = *r.target_std;
    j["units"] = r.units;
  } else if (!r.baseline_val.empty() || !r.baseline_test.empty()) {
    j["baseline"] = "last value: the next value equals the current one";
  }
  return j;
}

ExperimentResult run_experiment(Json spec, const std::string& base_dir, const ExperimentOptions& options) {
  // Under mpirun every rank runs the experiment; rank 0 alone prints and writes the run folder (the others
  // hold the same weights and logs, and the file-writing callbacks already write on rank 0 only).
  const bool root = distributed::is_root();
  const int verbose = root ? options.verbose : 0;
  for (const auto& o : options.overrides) apply_override(spec, o);
  check_keys(spec, "experiment", {"name", "description", "kind", "seed", "dataset", "model", "model_path", "compile",
                                  "fit", "callbacks", "evaluate", "report"});
  ExperimentResult result;
  result.name = spec.value("name", std::string("experiment"));
  result.description = spec.value("description", std::string());
  result.kind = spec.value("kind", std::string("train"));
  if (result.kind != "train" && result.kind != "baseline")
    throw Error("experiment: 'kind' must be \"train\" or \"baseline\", got '" + result.kind + "'");
  uint64_t seed = options.seed ? *options.seed : int_at<uint64_t>(spec, "", "seed", 1337);
  set_random_seed(seed);
  result.seed = seed;
  result.overrides = options.overrides;
  if (options.epochs) result.overrides.push_back(fmt::format("fit.epochs={}", *options.epochs));

  PreparedData data = prepare_data(spec, options.data_dir, seed);
  result.baseline_val = data.baseline_val;
  result.baseline_test = data.baseline_test;
  if (data.baseline_val.count("mae")) result.baseline_mae = data.baseline_val.at("mae");
  result.target_std = data.target_std;
  result.units = data.units;
  result.data_description = data.description;
  if (verbose) std::printf("%s\n", data.description.c_str());

  if (result.kind == "baseline") {
    if (data.baseline_val.empty() && data.baseline_test.empty())
      throw Error("experiment: a baseline needs a forecasting data set (series, beijing_pm25, jena_climate, csv)");
    result.metric = "mae";
    if (data.baseline_val.count("mae")) result.best_val = data.baseline_val.at("mae");
    if (data.baseline_test.count("mae")) result.test_metric = data.baseline_test.at("mae");
    if (verbose) print_baselines(result, "Common-sense baseline");
    if (root && !options.out_dir.empty()) write_run_files(options.out_dir, nullptr, result, data.preprocessing);
    return result;
  }

  auto model = build_model(spec, base_dir, data);
  model->set_seed(seed);
  ensure_model_built(*model, data);
  if (verbose) model->summary();
  compile_from_spec(*model, spec);
  choose_metric(spec, result);

  const Json f = spec.value("fit", Json::object());
  check_keys(f, "fit", {"epochs", "batch_size", "validation_split", "shuffle", "steps_per_epoch", "validation_steps",
                        "tbptt_steps"});
  // A setting the data set's kind has no use for is an error, never silently ignored: generator data sets
  // (the book's weather setup) draw their own batches, array data sets are trained in whole passes.
  const Json ev = spec.value("evaluate", Json::object());
  const std::string dataset_name = spec["dataset"].value("name", std::string());
  for (const auto& [obj, where, keys] :
       {std::tuple{&f, "fit", data.train_gen ? std::vector<std::string>{"batch_size", "shuffle", "validation_split"}
                                              : std::vector<std::string>{"steps_per_epoch", "validation_steps"}},
        std::tuple{&ev, "evaluate", data.train_gen ? std::vector<std::string>{"batch_size"} : std::vector<std::string>{"steps"}}})
    for (const auto& k : keys)
      if (obj->is_object() && obj->contains(k))
        throw Error(fmt::format("{}.{} has no effect on the {} data set: {}", where, k, dataset_name,
                                data.train_gen ? "its windows come from the generator (dataset.batch_size, "
                                                 "fit.steps_per_epoch, fit.validation_steps, evaluate.steps)"
                                               : "its arrays are trained and evaluated in whole passes (fit.batch_size, "
                                                 "fit.validation_split, evaluate.batch_size)"));
  FitOptions fo;
  fo.epochs = options.epochs ? *options.epochs : int_at<int>(f, "fit", "epochs", 1);
  fo.batch_size = int_at<int64_t>(f, "fit", "batch_size", 32);
  if (fo.epochs < 1) throw Error(fmt::format("epochs must be at least 1, got {}", fo.epochs));
  if (fo.batch_size < 1) throw Error(fmt::format("fit.batch_size must be at least 1, got {}", fo.batch_size));
  fo.verbose = verbose;
  fo.validation_split = f.value("validation_split", 0.0);
  fo.shuffle = f.value("shuffle", true);
  fo.tbptt_steps = int_at<int64_t>(f, "fit", "tbptt_steps", 0);
  if (!data.x_val.empty()) fo.validation_data = data.val();
  const bool has_validation = data.has_validation() || fo.validation_split > 0;

  fs::path run_dir = options.out_dir.empty() ? fs::path() : fs::path(options.out_dir);
  if (root && !run_dir.empty()) fs::create_directories(run_dir);
  CallbackSetup cbs = callbacks_from_spec(spec, run_dir, has_validation);
  fo.callbacks = cbs.callbacks;
  auto best = std::make_shared<BestWeights>(cbs.monitor, maximize(cbs.monitor, cbs.mode));
  fo.callbacks.push_back(best);

  // An interrupted run in the folder continues where its last completed epoch left it.
  const fs::path checkpoint_dir = run_dir.empty() ? fs::path() : run_dir / "checkpoint";
  const Json identity = run_identity(spec, seed);
  History earlier;
  if (!checkpoint_dir.empty()) {
    const fs::path state_path = checkpoint_dir / "state.json";
    using Resume = ExperimentOptions::Resume;
    if (options.resume == Resume::restart) {
      if (root) fs::remove_all(checkpoint_dir);
    } else if (fs::exists(state_path)) {
      Json state;
      try {
        state = Json::parse(read_file_bytes(state_path.string()));
      } catch (const Json::exception& e) {
        throw Error(state_path.string() + ": the interrupted run's state cannot be read (" + e.what() +
                    "); --restart starts the run over");
      }
      if (const std::string d = first_difference(state.at("identity"), identity); !d.empty())
        throw Error(fmt::format("{} holds an interrupted run of another experiment (they differ at '{}'): --restart "
                                "starts this one over, or choose another --out",
                                run_dir.string(), d));
      const auto& states = state.at("callbacks");
      if (states.size() != fo.callbacks.size())
        throw Error(state_path.string() + ": the interrupted run had other callbacks; --restart starts over");
      model = load_model((checkpoint_dir / state.at("model").get<std::string>()).string());
      for (size_t i = 0; i < fo.callbacks.size(); ++i) fo.callbacks[i]->restore_state(states[i].get<std::string>());
      const std::vector<data::TimeseriesGenerator*> gens = {data.train_gen.get(), data.val_gen.get()};
      for (size_t i = 0; i < gens.size(); ++i)
        if (gens[i]) gens[i]->restore_state(state.at("generators").at(i).get<std::string>());
      earlier = history_from_json(state.at("history"));
      fo.initial_epoch = whole_number_at<int>(state.at("epochs_completed"), "the checkpoint's state.json: epochs_completed");
      if (verbose)
        std::printf("Resuming the run in %s after epoch %d of %d\n", run_dir.string().c_str(), fo.initial_epoch,
                    fo.epochs);
    } else if (options.resume == Resume::resume) {
      throw Error(run_dir.string() + ": nothing to resume (no checkpoint/state.json: the run there finished or never "
                                     "completed an epoch)");
    }
    distributed::barrier();  // rank 0's restart removal before any rank goes on
  }
  auto checkpoint = std::make_shared<RunCheckpoint>(
      checkpoint_dir, identity, fo.callbacks,
      std::vector<data::TimeseriesGenerator*>{data.train_gen.get(), data.val_gen.get()}, earlier);
  if (!checkpoint_dir.empty()) fo.callbacks.push_back(checkpoint);

  auto start = std::chrono::steady_clock::now();
  History this_run;
  if (data.train_gen) {
    fo.steps_per_epoch = int_at<int64_t>(f, "fit", "steps_per_epoch", data.train_steps);
    fo.validation_source = data.val_gen.get();
    fo.validation_steps = int_at<int64_t>(f, "fit", "validation_steps", data.val_steps);
    this_run = model->fit(*data.train_gen, fo);
  } else {
    this_run = model->fit(data.train(), fo);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.seconds_per_epoch = this_run.epoch.empty() ? 0.0 : seconds / double(this_run.epoch.size());
  result.history = checkpoint_dir.empty() ? this_run : checkpoint->history();

  // The test split is evaluated with the best epoch's weights (by the checkpoint's monitor), as the book
  // evaluates the model ModelCheckpoint saved; "evaluate": {"weights": "last"} keeps the last epoch's.
  check_keys(ev, "evaluate", {"weights", "batch_size", "steps"});
  std::string which = ev.value("weights", std::string("best"));
  if (which != "best" && which != "last") throw Error("experiment: evaluate.weights must be \"best\" or \"last\"");
  if (which == "best" && best->restore(*model) && verbose >= 2)
    std::printf("Evaluating the weights of the best epoch by %s\n", cbs.monitor.c_str());
  if (data.test_gen) {
    result.test = model->evaluate(*data.test_gen, std::min(data.test_steps, int_at<int64_t>(ev, "evaluate", "steps", data.test_steps)));
  } else if (!data.x_test.empty()) {
    result.test = model->evaluate(data.test(), {.batch_size = int_at<int64_t>(ev, "evaluate", "batch_size", fo.batch_size)});
    if (data.exact_match) result.test.set("exact_match", data::exact_match(model->predict(data.x_test), data.y_test));
  }
  summarize(result);
  if (verbose && !result.test.items().empty()) {
    std::printf("Test:");
    for (const auto& [k, v] : result.test.items()) std::printf(" %s: %.4f", k.c_str(), v);
    if (result.metric == "mae" && result.test_metric && result.target_std)
      std::printf(" (%.2f %s)", *result.test_metric * *result.target_std, result.units.c_str());
    std::printf("\n");
  }
  if (verbose) print_baselines(result, "Baseline");
  if (root && !run_dir.empty()) {
    write_run_files(run_dir, model.get(), result, data.preprocessing);
    fs::remove_all(checkpoint_dir);  // finished: nothing left to resume
  }
  return result;
}

ExperimentResult run_experiment_file(const std::string& path, const ExperimentOptions& options) {
  Json spec = load_experiment_spec(path);
  try {
    return run_experiment(std::move(spec), fs::path(path).parent_path().string(), options);
  } catch (const Json::exception& e) {
    throw Error(path + ": malformed experiment: " + e.what());
  }
}

TestEvaluation evaluate_on_experiment(Model& model, const Json& spec_in, const ExperimentOptions& options) {
  Json spec = spec_in;
  for (const auto& o : options.overrides) apply_override(spec, o);
  try {
    uint64_t seed = options.seed ? *options.seed : int_at<uint64_t>(spec, "", "seed", 1337);
    // A model that normalizes its inputs brings its statistics; one that does not was trained on windows
    // normalized beforehand, with statistics of the experiment's training rows, which are fitted again.
    const bool forecasting = spec.contains("dataset") && spec["dataset"].is_object() && spec["dataset"].contains("columns");
    const bool data_mode = forecasting && spec["dataset"].value("normalization", std::string("model")) == "data";
    std::optional<data::ColumnNormalizer> stats;
    if (forecasting && !data_mode && model.built()) stats = model_input_statistics(model);
    if (!stats && forecasting && !data_mode) {
      spec["dataset"]["normalization"] = "data";
      warn("the model has no Normalization layer at its input: its inputs are normalized with statistics fitted on "
           "the experiment's training rows (dataset.normalization = \"data\")");
    }
    PreparedData data = prepare_data(spec, options.data_dir, seed, stats, /*evaluating=*/true);
    TestEvaluation t;
    t.data_description = data.description;
    t.baseline_test = data.baseline_test;
    t.target_std = data.target_std;
    t.units = data.units;
    if (!model.compiled()) compile_from_spec(model, spec);
    if (data.test_gen) {
      t.logs = model.evaluate(*data.test_gen, data.test_steps);
    } else if (!data.x_test.empty()) {
      const int64_t fit_batch = int_at<int64_t>(spec.value("fit", Json::object()), "fit", "batch_size", 32);
      int64_t bs = int_at<int64_t>(spec.value("evaluate", Json::object()), "evaluate", "batch_size", fit_batch);
      t.logs = model.evaluate(data.test(), {.batch_size = bs});
      if (data.exact_match) t.logs.set("exact_match", data::exact_match(model.predict(data.x_test), data.y_test));
    } else {
      throw Error("the experiment's data set has no test split");
    }
    return t;
  } catch (const Json::exception& e) {
    throw Error(std::string("malformed experiment: ") + e.what());
  }
}

std::map<std::string, Json> read_reference_table(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open reference table '" + path + "'");
  std::map<std::string, Json> out;
  std::string line;
  bool in_section = false;
  int row = 0;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#", 0) == 0) {
      in_section = line.find("Reference results") != std::string::npos;
      row = 0;
      continue;
    }
    if (!in_section || line.rfind("|", 0) != 0) continue;
    std::vector<std::string> cells;
    std::string cur;
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '|') {
        size_t a = cur.find_first_not_of(' '), b = cur.find_last_not_of(' ');
        cells.push_back(a == std::string::npos ? "" : cur.substr(a, b - a + 1));
        cur.clear();
      } else {
        cur += line[i];
      }
    }
    if (row++ < 2 || cells.size() < 4) continue;  // header and separator
    std::string name = cells[0];
    name.erase(std::remove(name.begin(), name.end(), '`'), name.end());
    out[name] = Json{{"source", cells[1]}, {"metric", cells[2]}, {"value", cells[3]},
                     {"note", cells.size() > 4 ? cells[4] : std::string()}};
  }
  return out;
}

std::string runs_report_markdown(const std::vector<Json>& runs, const std::map<std::string, Json>& refs) {
  std::string md =
      "| experiment | metric | best validation (epoch) | test | baseline (test) | epochs | s/epoch | reference | "
      "source |\n|---|---|---|---|---|---|---|---|---|\n";
  std::string footnotes;
  int note = 0;
  for (const Json& run : runs) {
    std::string name = run.value("name", std::string("?"));
    std::string metric = run.value("metric", std::string("loss"));
    bool baseline = run.value("kind", std::string("train")) == "baseline";
    std::string best = "–", test = "–", base = "–";
    if (run.contains("best_val") && run["best_val"].is_number())
      best = with_units(metric, run["best_val"].get<double>(), run) +
             (baseline ? std::string() : fmt::format(" ({})", int_at<int64_t>(run, "run.json", "best_epoch", 0)));
    if (run.contains("test_metric") && run["test_metric"].is_number())
      test = with_units(metric, run["test_metric"].get<double>(), run);
    if (run.contains("baseline_test") && run["baseline_test"].contains(metric))
      base = with_units(metric, run["baseline_test"][metric].get<double>(), run);
    std::string ref = "–", src = "";
    if (auto it = refs.find(name); it != refs.end()) {
      ref = it->second.value("metric", std::string()) + " " + it->second.value("value", std::string());
      src = it->second.value("source", std::string());
    }
    if (run.contains("overrides") && !run["overrides"].empty()) {
      std::string edits;
      for (const auto& o : run["overrides"]) edits += (edits.empty() ? "" : ", ") + o.get<std::string>();
      footnotes += fmt::format("{}. {}: {}\n", ++note, name, edits);
      name += fmt::format(" [{}]", note);
    }
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", name, metric, best, test, base,
                      baseline ? std::string("–") : std::to_string(int_at<int64_t>(run, "run.json", "epochs", 0)),
                      baseline ? std::string("–") : fmt::format("{:.1f}", run.value("seconds_per_epoch", 0.0)), ref, src);
  }
  if (!footnotes.empty()) md += "\nRun with edits to the experiment file:\n\n" + footnotes;
  return md;
}

}  // namespace seqnet
