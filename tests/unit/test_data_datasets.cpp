// Data set loaders. The real-data tests read SEQNET_DATA_DIR (else ../shared/data) and skip with a
// message when the files are absent; the IMDB values come from keras.datasets.imdb.load_data itself
// (tests/fixtures/data/imdb_expectations.json, make_data_fixtures.py). Jena is tested on files written here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::datasets;
using Json = nlohmann::json;

namespace {

#define SKIP_WITHOUT(relative)                                                                               \
  if (try_find_data_file(relative).empty())                                                                  \
  GTEST_SKIP() << "data file " << relative << " not found (set SEQNET_DATA_DIR to the folder that holds it, " \
               << "e.g. ../shared/data)"

const Json& imdb_expected() {
  static const Json j = [] {
    std::ifstream in(std::string(SEQNET_FIXTURE_DIR) + "/data/imdb_expectations.json");
    return Json::parse(in);
  }();
  return j;
}

// Loading is the slow part (~6 M ids): share one raw load between the IMDB tests.
const imdb::RawArrays& imdb_raw() {
  static const imdb::RawArrays raw = imdb::load_raw();
  return raw;
}

void check_imdb(const std::pair<imdb::Split, imdb::Split>& data, const Json& want) {
  const auto& [train, test] = data;
  ASSERT_EQ(static_cast<int64_t>(train.x.size()), want["n_train"].get<int64_t>());
  ASSERT_EQ(static_cast<int64_t>(test.x.size()), want["n_test"].get<int64_t>());
  auto head = [](const std::vector<int32_t>& v) { return std::vector<int32_t>(v.begin(), v.begin() + std::min<size_t>(20, v.size())); };
  EXPECT_EQ(head(train.x.front()), want["x_train0"].get<std::vector<int32_t>>());
  EXPECT_EQ(static_cast<int64_t>(train.x.front().size()), want["len_train0"].get<int64_t>());
  EXPECT_EQ(head(train.x.back()), want["x_train_last"].get<std::vector<int32_t>>());
  EXPECT_EQ(head(test.x.front()), want["x_test0"].get<std::vector<int32_t>>());
  EXPECT_EQ(static_cast<int64_t>(test.x.front().size()), want["len_test0"].get<int64_t>());
  EXPECT_EQ(std::vector<int32_t>(train.y.idata(), train.y.idata() + 10), want["y_train_first10"].get<std::vector<int32_t>>());
  EXPECT_EQ(std::vector<int32_t>(test.y.idata(), test.y.idata() + 10), want["y_test_first10"].get<std::vector<int32_t>>());
  int64_t lengths = 0, train_ids = 0, test_ids = 0, positives = 0;
  for (const auto& x : train.x) {
    lengths += static_cast<int64_t>(x.size());
    for (int32_t w : x) train_ids += w;
  }
  for (const auto& x : test.x)
    for (int32_t w : x) test_ids += w;
  for (int64_t i = 0; i < train.y.size(); ++i) positives += train.y.idata()[i];
  EXPECT_EQ(lengths, want["sum_train_lengths"].get<int64_t>());
  EXPECT_EQ(train_ids, want["sum_train_ids"].get<int64_t>());
  EXPECT_EQ(test_ids, want["sum_test_ids"].get<int64_t>());
  EXPECT_EQ(positives, want["y_train_sum"].get<int64_t>());
}

std::pair<imdb::Split, imdb::Split> load_from_raw(const imdb::LoadOptions& o) { return imdb::load_data(imdb_raw(), o); }

const Json& numpy_expected() {
  static const Json j = [] {
    std::ifstream in(std::string(SEQNET_FIXTURE_DIR) + "/data/numpy_expectations.json");
    return Json::parse(in);
  }();
  return j;
}

}  // namespace

TEST(DataDir, ClearErrorNamingWhereItLooked) {
  try {
    find_data_file("no_such_dataset/file.bin", "/nonexistent/explicit");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("/nonexistent/explicit/no_such_dataset/file.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("SEQNET_DATA_DIR"), std::string::npos) << msg;
  }
  EXPECT_EQ(data_dirs("/x").front(), "/x");
}

TEST(Imdb, KerasLoadDataDefaults) {
  SKIP_WITHOUT("imdb/keras_sequences/imdb_train.txt.gz");
  const auto& raw = imdb_raw();
  ASSERT_EQ(raw.x_train.size(), 25000u);
  ASSERT_EQ(raw.x_test.size(), 25000u);
  check_imdb(load_from_raw({}), imdb_expected()["default"]);
}

TEST(Imdb, NumWordsSkipTopMaxlenAndNoOov) {
  SKIP_WITHOUT("imdb/keras_sequences/imdb_train.txt.gz");
  imdb::LoadOptions a;
  a.num_words = 10000;
  check_imdb(load_from_raw(a), imdb_expected()["num_words10000"]);
  imdb::LoadOptions b;
  b.num_words = 5000;
  b.skip_top = 20;
  b.maxlen = 200;
  check_imdb(load_from_raw(b), imdb_expected()["num_words5000_skip_top20_maxlen200"]);
  imdb::LoadOptions c;
  c.num_words = 100;
  c.oov_char = std::nullopt;
  c.seed = 7;
  check_imdb(load_from_raw(c), imdb_expected()["no_oov_num_words100_seed7"]);
}

TEST(Imdb, WordIndexAndDecodedFirstReview) {
  SKIP_WITHOUT("imdb/imdb_word_index.json");
  SKIP_WITHOUT("imdb/keras_sequences/imdb_train.txt.gz");
  auto index = imdb::get_word_index();
  EXPECT_EQ(index.size(), 88584u);
  EXPECT_EQ(index.at("the"), 1);
  EXPECT_EQ(index.at("br"), 7);
  imdb::LoadOptions o;
  o.num_words = 10000;
  auto [train, test] = imdb::load_data(o);
  const std::string text = imdb::decode_review(train.x[0], index);
  EXPECT_EQ(text.rfind("? this film was just brilliant casting location scenery story direction", 0), 0u) << text;
}

TEST(Imdb, ReadsKerasNpzLayoutWithPickledObjectArrays) {
  // mini_imdb.npz: Keras's imdb.npz layout in miniature; expectations from keras.datasets.imdb.load_data.
  const Json& want = numpy_expected()["mini_imdb"];
  for (const auto& [name, kwargs] : want.items()) {
    imdb::LoadOptions o;
    o.path = std::string(SEQNET_FIXTURE_DIR) + "/data/mini_imdb.npz";
    if (kwargs["args"].contains("num_words")) o.num_words = kwargs["args"]["num_words"].get<int64_t>();
    if (kwargs["args"].contains("maxlen")) o.maxlen = kwargs["args"]["maxlen"].get<int64_t>();
    if (kwargs["args"].contains("skip_top")) o.skip_top = kwargs["args"]["skip_top"].get<int64_t>();
    if (kwargs["args"].contains("start_char")) o.start_char = std::nullopt;
    auto [train, test] = imdb::load_data(o);
    EXPECT_EQ(train.x, kwargs["x_train"].get<std::vector<std::vector<int32_t>>>()) << name;
    EXPECT_EQ(test.x, kwargs["x_test"].get<std::vector<std::vector<int32_t>>>()) << name;
    EXPECT_EQ(std::vector<int32_t>(train.y.idata(), train.y.idata() + train.y.size()), kwargs["y_train"].get<std::vector<int32_t>>()) << name;
    EXPECT_EQ(std::vector<int32_t>(test.y.idata(), test.y.idata() + test.y.size()), kwargs["y_test"].get<std::vector<int32_t>>()) << name;
  }
}

TEST(Mnist, SixtyThousandTrainingImagesFirstLabelFive) {
  SKIP_WITHOUT("mnist/train-images-idx3-ubyte.gz");
  auto [train, test] = mnist::load_data();
  ASSERT_EQ(train.x.shape(), (Shape{60000, 28, 28}));
  ASSERT_EQ(test.x.shape(), (Shape{10000, 28, 28}));
  EXPECT_EQ(train.y.idata()[0], 5);
  EXPECT_EQ(test.y.idata()[0], 7);
  std::vector<int> counts(10, 0);
  for (int64_t i = 0; i < train.y.size(); ++i) ++counts[static_cast<size_t>(train.y.idata()[i])];
  EXPECT_EQ(counts, (std::vector<int>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < 784 * 10; ++i) lo = std::min(lo, train.x[i]), hi = std::max(hi, train.x[i]);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
}

TEST(BeijingPm25, HourlyRowsOneHotWindAndNaPolicies) {
  SKIP_WITHOUT("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv");
  data::CsvTable t = beijing_pm25::load_data();
  EXPECT_EQ(t.rows(), 43824);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"No", "year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES",
                                                 "cbwd_NE", "cbwd_NW", "cbwd_SE", "cbwd_cv", "Iws", "Is", "Ir"}));
  EXPECT_EQ(t.column("pm2.5")[0], 0.0f);  // NA filled
  EXPECT_EQ(t.column("cbwd_NW")[0], 1.0f);
  EXPECT_FLOAT_EQ(t.column("Iws")[43823], 249.85f);
  beijing_pm25::Options o;
  o.pm25 = data::MissingPolicy::drop_row;
  o.cbwd = data::TextPolicy::drop;
  data::CsvTable d = beijing_pm25::load_data(o);
  EXPECT_EQ(d.rows(), 43824 - 2067);
  EXPECT_EQ(d.columns.size(), 12u);
  EXPECT_EQ(d.text["cbwd"].size(), static_cast<size_t>(d.rows()));
  EXPECT_EQ(d.lines.front(), 26);  // the first 24 rows have pm2.5 NA
}

TEST(JenaClimate, LoaderOnAFileInTheKerasFormat) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("seqnet_jena_" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir + "/jena_climate");
  const std::string path = dir + "/jena_climate/jena_climate_2009_2016.csv";
  {
    std::ofstream out(path);
    out << "\"Date Time\",\"p (mbar)\",\"T (degC)\",\"Tpot (K)\",\"Tdew (degC)\",\"rh (%)\",\"VPmax (mbar)\","
           "\"VPact (mbar)\",\"VPdef (mbar)\",\"sh (g/kg)\",\"H2OC (mmol/mol)\",\"rho (g/m**3)\",\"wv (m/s)\","
           "\"max. wv (m/s)\",\"wd (deg)\"\n";
    out << "01.01.2009 00:10:00,996.52,-8.02,265.40,-8.90,93.30,3.33,3.11,0.22,1.94,3.12,1307.75,1.03,1.75,152.30\n";
    for (int i = 2; i <= 30; ++i)
      out << "01.01.2009 step " << i << ",996." << 50 + i << "," << -8.0 + 0.1 * i << ",265.40,-8.90,93.30,3.33,3.11,0.22,1.94,3.12,1307.75,1.03,1.75,152.30\n";
  }
  data::CsvTable t = jena_climate::load_data(dir);
  EXPECT_EQ(t.rows(), 30);
  ASSERT_EQ(t.columns.size(), 14u);
  EXPECT_EQ(t.columns[1], "T (degC)");
  EXPECT_FLOAT_EQ(t.values[0], 996.52f);
  EXPECT_FLOAT_EQ(t.values[1], -8.02f);
  EXPECT_EQ(t.text["Date Time"][0], "01.01.2009 00:10:00");
  EXPECT_EQ(jena_climate::load_data(path).rows(), 30);
  // The book's pipeline on it: normalize on the first 20 rows, windows with the generator.
  auto norm = data::ColumnNormalizer::fit(t.values, 0, 20);
  data::GeneratorOptions g;
  g.lookback = 6;
  g.step = 2;
  g.delay = 3;
  g.batch_size = 4;
  g.target_column = 1;
  data::TimeseriesGenerator gen(norm.transform(t.values), g);
  auto [x, y] = gen.next_batch();
  EXPECT_EQ(x.shape(), (Shape{4, 3, 14}));
  EXPECT_NEAR(norm.inverse(y[0], 1), -8.0 + 0.1 * 10, 1e-4);  // anchor 6, target row 9 = the 10th row
  std::filesystem::remove_all(dir);
  EXPECT_THROW(jena_climate::load_data(dir), Error);
}
