// Every reader of user files, one damaged or ambiguous record each: the answer is an error naming the file
// (and the line, column, key or byte where it applies), never a dropped, capped or guessed value. A reader
// added to seqnet gets its line here.
#include <gtest/gtest.h>
#include <zip.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <limits>
#include <set>

#include "seqnet/experiment.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
namespace fs = std::filesystem;

namespace {

struct Case {
  const char* reader;
  const char* damage;
  std::function<void(const fs::path& dir)> run;  // must throw seqnet::Error
  std::string expected;                          // a part of the message
};

std::string write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

std::string npy_bytes_of(const data::NpyArray& a) {
  const auto b = data::npy_bytes(a);
  return std::string(b.begin(), b.end());
}

std::string idx_labels(const std::vector<uint8_t>& labels) {
  std::string s = {0, 0, 8, 1, 0, 0, 0, char(labels.size())};
  for (uint8_t l : labels) s += char(l);
  return s;
}

Json series_experiment(const std::string& path) {
  return Json::parse(fmt::format(R"({{"name": "e", "kind": "baseline",
    "dataset": {{"name": "csv", "path": "{}", "columns": ["a"], "target": "a", "lookback": 2, "delay": 1,
                "batch_size": 1, "train_rows": [0, 0.5], "val_rows": [0.5, 0.75], "test_rows": [0.75, null]}}}})",
                                 path));
}

Json tiny_array_experiment() {
  return Json::parse(R"({"name": "t", "seed": 1,
    "dataset": {"name": "series", "n_steps": 5, "train_samples": 8, "val_samples": 4, "test_samples": 4},
    "model": {"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 1], "name": "x"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 1}}]}},
    "compile": {"optimizer": "sgd", "loss": "mse"}, "fit": {"epochs": 1, "batch_size": 4}})");
}

void run_quietly(const Json& spec) {
  ExperimentOptions o;
  o.verbose = 0;
  run_experiment(spec, "", o);
}

// Runs every case in `dir`: each must throw a seqnet::Error whose message holds the case's expected part (and,
// with one_line, no line break).
void expect_each_refused(const std::vector<Case>& cases, const fs::path& dir, bool one_line) {
  for (const Case& c : cases) {
    try {
      c.run(dir);
      ADD_FAILURE() << c.reader << ", " << c.damage << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos)
          << c.reader << ", " << c.damage << ": the error does not say '" << c.expected << "': " << e.what();
      if (one_line) EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
  }
}

}  // namespace

TEST(Readers, RefuseEveryBadRecordNamingWhere) {
  const fs::path dir = fs::temp_directory_path() / ("seqnet_readers_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<Case> cases = {
      {"csv", "a row with a field too many",
       [](const fs::path& d) { data::read_csv(write(d / "a.csv", "a,b\n1,2\n3,4,5\n")); }, "a.csv: line 3: 3 fields, the header has 2"},
      {"csv", "a column named twice", [](const fs::path& d) { data::read_csv(write(d / "b.csv", "a,b,a\n1,2,3\n")); },
       "b.csv: line 1: the header names column \"a\" twice"},
      {"csv", "a text policy for a column that does not exist",
       [](const fs::path& d) {
         data::CsvOptions o;
         o.text_columns["wd"] = data::TextPolicy::one_hot;
         data::read_csv(write(d / "c.csv", "a\n1\n"), o);
       },
       "c.csv: no column \"wd\""},
      {"csv", "a text cell in a numeric column", [](const fs::path& d) { data::read_csv(write(d / "d.csv", "a\n1\nx\n")); },
       "d.csv: line 3, column \"a\": \"x\" is not a number"},
      {"csv", "a missing value under the default policy", [](const fs::path& d) { data::read_csv(write(d / "e.csv", "a\n1\nNA\n")); },
       "e.csv: line 3, column \"a\": missing value"},
      {"csv", "an unclosed quote", [](const fs::path& d) { data::read_csv(write(d / "f.csv", "a\n\"1\n")); },
       "f.csv: line 2: a quoted field is not closed"},
      {"csv", "a truncated gzip",
       [](const fs::path& d) {
         const std::string p = (d / "g.csv.gz").string();
         gzFile f = gzopen(p.c_str(), "wb");
         const std::string text(5000, '1');
         gzwrite(f, ("a\n" + text + "\n").data(), unsigned(text.size() + 3));
         gzclose(f);
         fs::resize_file(p, fs::file_size(p) - 6);
         data::read_csv(p);
       },
       "g.csv.gz: corrupt or truncated gzip data"},
      {"series", "a missing value under the default policy",
       [](const fs::path& d) {
         data::SeriesOptions o;
         o.columns = {"a"};
         data::read_series({write(d / "h.csv", "a\n1\nNA\n2\n")}, o);
       },
       "h.csv: line 3, column \"a\": missing value (1 missing in this column"},
      {"series", "the same file twice",
       [](const fs::path& d) {
         data::SeriesOptions o;
         o.columns = {"a"};
         const std::string p = write(d / "i.csv", "a\n1\n");
         data::read_series({p, (d / "." / "i.csv").string()}, o);
       },
       "is given twice"},
      {"series", "a column with no value",
       [](const fs::path& d) {
         data::SeriesOptions o;
         o.columns = {"a"};
         o.missing.policy = data::GapPolicy::interpolate;
         data::read_series({write(d / "j.csv", "a\nNA\nNA\n")}, o);
       },
       "j.csv: column \"a\" has no value"},
      {"npy", "bytes after the array",
       [](const fs::path& d) {
         data::read_npy(write(d / "k.npy", npy_bytes_of(data::NpyArray::from_values<float>({2}, {1, 2})) + "xx"));
       },
       "k.npy"},
      {"npy", "a truncated array",
       [](const fs::path& d) {
         std::string b = npy_bytes_of(data::NpyArray::from_values<float>({4}, {1, 2, 3, 4}));
         data::read_npy(write(d / "l.npy", b.substr(0, b.size() - 3)));
       },
       "l.npy"},
      {"npz", "two members for one array (x and x.npy)",
       [](const fs::path& d) {
         // np.savez never writes this, but a hand-made zip can: members "x.npy" and "x", one key.
         const std::string member = npy_bytes_of(data::NpyArray::from_values<float>({1}, {1}));
         const std::string p = (d / "m.npz").string();
         int err = 0;
         zip_t* z = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
         ASSERT_NE(z, nullptr);
         for (const char* name : {"x.npy", "x"})
           ASSERT_GE(zip_file_add(z, name, zip_source_buffer(z, member.data(), member.size(), 0), 0), 0);
         ASSERT_EQ(zip_close(z), 0);
         data::read_npz(p);
       },
       "m.npz: two members hold the array 'x'"},
      {"idx labels", "a label that is no class",
       [](const fs::path& d) { datasets::parse_idx_labels(idx_labels({3, 200, 1}), (d / "labels-idx1-ubyte").string()); },
       "labels-idx1-ubyte: label 200 of image 1"},
      {"idx labels", "fewer labels than the header says",
       [](const fs::path& d) {
         std::string s = idx_labels({1, 2, 3});
         datasets::parse_idx_labels(s.substr(0, s.size() - 1), (d / "short-idx1-ubyte").string());
       },
       "short-idx1-ubyte"},
      {"history csv", "a cell that only starts with a number",
       [](const fs::path& d) { read_history_csv(write(d / "n.csv", "epoch,loss\n0,0.5x\n")); },
       "n.csv: line 2: \"0.5x\" is not a number"},
      {"history json", "fewer values than epochs",
       [](const fs::path& d) { read_history_json(write(d / "o.json", R"({"epoch": [0, 1], "history": {"loss": [0.5]}})")); },
       "o.json: history 'loss' holds 1 values for 2 epochs"},
      {"experiment", "a misspelt callback key",
       [](const fs::path&) {
         Json spec = tiny_array_experiment();
         spec["callbacks"] = Json::parse(R"([{"class_name": "EarlyStopping", "confg": {"patience": 1}}])");
         run_quietly(spec);
       },
       "unknown key 'confg' in 'callbacks[]'"},
      {"experiment", "both model and model_path",
       [](const fs::path&) {
         Json spec = tiny_array_experiment();
         spec["model_path"] = "m.json";
         run_quietly(spec);
       },
       "both 'model' and 'model_path'"},
      {"experiment", "a fit key the data set never uses",
       [](const fs::path&) {
         Json spec = tiny_array_experiment();
         spec["fit"]["steps_per_epoch"] = 3;
         run_quietly(spec);
       },
       "fit.steps_per_epoch has no effect on the series data set"},
      {"experiment", "a data set path of the wrong type",
       [](const fs::path& d) {
         Json spec = series_experiment(write(d / "p.csv", "a\n1\n2\n3\n4\n5\n6\n7\n8\n"));
         spec["dataset"]["path"] = Json::object();
         run_quietly(spec);
       },
       "dataset.path: expected a string or a list of strings, got {}"},
  };
  expect_each_refused(cases, dir, /*one_line=*/true);
  std::set<std::string> readers;
  for (const Case& c : cases) readers.insert(c.reader);
  EXPECT_EQ(readers.size(), 8u);
  fs::remove_all(dir);
}

// A JSON number read into an integer: a fraction, or a value the integer cannot hold, is an error naming the
// key. The JSON library alone would truncate 2.5 to 2, wrap 2^40 in an int, and cast 1e300 to an int, which is
// undefined behaviour (the fuzzer found it in a history file's epoch list).
TEST(Readers, RefuseNumbersTheIntegerTheyFillCannotHold) {
  const fs::path dir = fs::temp_directory_path() / ("seqnet_numbers_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto model_with_units = [](const char* units) {
    return model_from_json(fmt::format(R"({{"class_name": "Sequential", "config": {{"name": "m", "layers": [
      {{"class_name": "InputLayer", "config": {{"batch_shape": [null, 5, 1], "name": "x"}}}},
      {{"class_name": "Dense", "config": {{"name": "d", "units": {}}}}}]}}}})", units));
  };
  const std::vector<Case> cases = {
      {"history json", "an epoch too big for an int",
       [](const fs::path& d) { read_history_json(write(d / "a.json", R"({"epoch": [1e300], "history": {}})")); },
       "a.json: epoch: expected a whole number from -2147483648 to 2147483647, got 1e+300"},
      {"history json", "a fractional epoch",
       [](const fs::path& d) { read_history_json(write(d / "b.json", R"({"epoch": [0.5], "history": {}})")); },
       "b.json: epoch: expected a whole number, got 0.5"},
      {"run.json", "an epoch count too big for an integer",
       [](const fs::path&) { runs_report_markdown({Json::parse(R"({"name": "r", "epochs": 1e300})")}, {}); },
       "run.json.epochs: expected a whole number from"},
      {"keras config", "units too big for an integer",
       [&](const fs::path&) { model_with_units("1e300"); }, "layer 'd': config key 'units': expected a whole number from"},
      {"keras config", "fractional units", [&](const fs::path&) { model_with_units("2.5"); },
       "layer 'd': config key 'units': expected a whole number, got 2.5"},
      {"callback arguments", "a patience too big for an int",
       [](const fs::path&) { callback_from_config("EarlyStopping", Json::parse(R"({"patience": 10000000000})")); },
       "EarlyStopping: argument 'patience': expected a whole number from -2147483648 to 2147483647, got 10000000000"},
      {"experiment", "a fractional epoch count",
       [](const fs::path&) {
         Json spec = tiny_array_experiment();
         spec["fit"]["epochs"] = 2.5;
         run_quietly(spec);
       },
       "fit.epochs: expected a whole number, got 2.5"},
      {"experiment", "a negative seed",
       [](const fs::path&) {
         Json spec = tiny_array_experiment();
         spec["seed"] = -1;
         run_quietly(spec);
       },
       "seed: expected a whole number from 0 to 18446744073709551615, got -1"},
      {"experiment", "a delay that puts a window's target past int64 rows",
       [](const fs::path& d) {
         Json spec = series_experiment(write(d / "q.csv", "a\n1\n2\n3\n4\n5\n6\n7\n8\n"));
         spec["dataset"]["delay"] = std::numeric_limits<int64_t>::max();
         run_quietly(spec);
       },
       "dataset.lookback + dataset.delay + 1 (the rows of a window and its target) is past int64: lookback 2, delay "
       "9223372036854775807"},
      {"imdb word index", "a rank too big for an int32",
       [](const fs::path& d) { datasets::imdb::get_word_index(write(d / "word_index.json", R"({"the": 4294967296})")); },
       "word_index.json: the rank of \"the\": expected a whole number from"},
  };
  expect_each_refused(cases, dir, /*one_line=*/false);
  // A whole number written as a float loses nothing and is read as that number, as Keras's int() would.
  EXPECT_NO_THROW(model_with_units("3.0"));
  fs::remove_all(dir);
}
