// The book's generator (windows worked out by hand), timeseries_dataset_from_array (Keras's documented
// examples) and per-column normalization (numpy's mean / std).
#include <gtest/gtest.h>

#include <limits>

#include <fstream>
#include <nlohmann/json.hpp>

#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::data;
using Json = nlohmann::json;

namespace {

const Json& expected() {
  static const Json j = [] {
    std::ifstream in(std::string(SEQNET_FIXTURE_DIR) + "/data/numpy_expectations.json");
    return Json::parse(in);
  }();
  return j;
}

// rows x 2: row r = [r, 100 + r]
Tensor two_column_series(int64_t rows) {
  Tensor t({rows, 2});
  for (int64_t r = 0; r < rows; ++r) t[r * 2] = static_cast<float>(r), t[r * 2 + 1] = 100.0f + r;
  return t;
}

Tensor arange(int64_t n, float scale = 1.0f) {
  Tensor t({n});
  for (int64_t i = 0; i < n; ++i) t[i] = scale * static_cast<float>(i);
  return t;
}

}  // namespace

TEST(TimeseriesGenerator, BookWindowsAndTargetsByHand) {
  GeneratorOptions o;
  o.lookback = 4;
  o.step = 2;
  o.delay = 1;
  o.batch_size = 3;
  o.target_column = 1;
  TimeseriesGenerator gen(two_column_series(24), o);
  EXPECT_EQ(gen.anchor(gen.anchors() - 1), 21);  // anchors below max_index = len - delay - 1
  auto [x, y] = gen.next_batch();
  ASSERT_EQ(x.shape(), (Shape{3, 2, 2}));  // (batch, lookback / step, features)
  // anchor 4: rows 0 and 2; target data[5][1] = 105
  const std::vector<float> want = {0, 100, 2, 102, /*anchor 5*/ 1, 101, 3, 103, /*anchor 6*/ 2, 102, 4, 104};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(x[static_cast<int64_t>(i)], want[i]) << i;
  EXPECT_EQ(y[0], 105.0f);
  EXPECT_EQ(y[1], 106.0f);
  EXPECT_EQ(y[2], 107.0f);
  // Anchors 7, 10, 13, 16; then 19 + 3 >= 22, so it starts over at min_index + lookback = 4.
  for (float first : {7.0f, 10.0f, 13.0f, 16.0f}) EXPECT_EQ(gen.next_batch().second[0], first + 101.0f);
  EXPECT_EQ(gen.next_batch().second[0], 105.0f);
  EXPECT_EQ(gen.steps_per_pass(), (22 - 0 - 4) / 3);
}

TEST(TimeseriesGenerator, ShuffleDrawsNumpysRandint) {
  GeneratorOptions o;
  o.lookback = 4;
  o.step = 2;
  o.delay = 1;
  o.max_index = 20;
  o.batch_size = 3;
  o.shuffle = true;
  o.seed = 5;
  o.target_column = 1;
  TimeseriesGenerator gen(two_column_series(24), o);
  for (const auto& batch : expected()["book_randint_seed5_4_20_b3x2"]) {
    auto [x, y] = gen.next_batch();
    for (int j = 0; j < 3; ++j) {
      const int64_t anchor = batch[j].get<int64_t>();
      EXPECT_EQ(y[j], 100.0f + anchor + 1);
      EXPECT_EQ(x[j * 4], static_cast<float>(anchor - 4));
    }
  }
}

TEST(TimeseriesGenerator, RejectsBadArguments) {
  GeneratorOptions o;
  o.lookback = 5;
  o.step = 2;  // not a multiple
  EXPECT_THROW(TimeseriesGenerator(two_column_series(24), o), Error);
  o.lookback = 4;
  o.target_column = 2;
  EXPECT_THROW(TimeseriesGenerator(two_column_series(24), o), Error);
  o.target_column = 1;
  o.min_index = 20;
  EXPECT_THROW(TimeseriesGenerator(two_column_series(24), o), Error);
  // A window and its target past int64 rows: an error, not a signed overflow in the anchor arithmetic.
  o.min_index = 0;
  o.delay = std::numeric_limits<int64_t>::max() - 2;
  try {
    TimeseriesGenerator(two_column_series(24), o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("min_index + lookback + delay + 1 is past int64"), std::string::npos) << e.what();
  }
}

// Keras docstring, example 1: indices 0..98, sequence_length=10, sampling_rate=2, sequence_stride=3.
TEST(TimeseriesDataset, KerasExampleStrideAndSamplingRate) {
  TimeseriesOptions o;
  o.sampling_rate = 2;
  o.sequence_stride = 3;
  TimeseriesDataset ds = timeseries_dataset_from_array(arange(99), Tensor(), 10, o);
  auto [x, y] = ds.arrays();
  ASSERT_EQ(x.shape(), (Shape{27, 10}));
  EXPECT_TRUE(y.empty());
  for (int j = 0; j < 10; ++j) {
    EXPECT_EQ(x[j], 2.0f * j);             // [0 2 4 ... 18]
    EXPECT_EQ(x[10 + j], 3.0f + 2 * j);    // [3 5 ... 21]
    EXPECT_EQ(x[26 * 10 + j], 78.0f + 2 * j);  // last: [78 80 ... 96]
  }
}

// Keras docstring, example 2: predict the step after a 10-step window with targets = data[10:].
TEST(TimeseriesDataset, KerasExampleTargetIsTheWindowsFirstRow) {
  Tensor data = arange(50);
  Tensor input = data.slice_rows(0, 40), targets = data.slice_rows(10, 50);
  TimeseriesDataset ds = timeseries_dataset_from_array(input, targets, 10);
  auto [x, y] = ds.batch(0);
  ASSERT_EQ(x.shape(), (Shape{31, 10}));
  for (int j = 0; j < 10; ++j) EXPECT_EQ(x[j], static_cast<float>(j));  // steps 0..9
  EXPECT_EQ(y[0], 10.0f);                                               // step 10
  EXPECT_EQ(y[30], 40.0f);
}

// Keras docstring, example 3: many-to-many, non-overlapping windows of X and Y = 2X.
TEST(TimeseriesDataset, KerasExampleManyToMany) {
  TimeseriesOptions o;
  o.sequence_stride = 20;
  auto xs = timeseries_dataset_from_array(arange(100), Tensor(), 20, o).arrays().first;
  auto ys = timeseries_dataset_from_array(arange(100, 2.0f), Tensor(), 20, o).arrays().first;
  ASSERT_EQ(xs.shape(), (Shape{5, 20}));
  for (int j = 0; j < 20; ++j) {
    EXPECT_EQ(xs[j], static_cast<float>(j));
    EXPECT_EQ(ys[20 + j], 2.0f * (20 + j));
  }
}

TEST(TimeseriesDataset, StartEndIndexFeaturesAndBatches) {
  Tensor data = two_column_series(20), targets = arange(20, 10.0f);
  TimeseriesOptions o;
  o.start_index = 5;
  o.end_index = 15;  // exclusive
  o.batch_size = 3;
  TimeseriesDataset ds(data, targets, 3, o);
  EXPECT_EQ(ds.num_windows(), 8);  // 15 - 5 - 2
  EXPECT_EQ(ds.num_batches(), 3);
  auto [x, y] = ds.next_batch();
  ASSERT_EQ(x.shape(), (Shape{3, 3, 2}));
  EXPECT_EQ(x[0], 5.0f);
  EXPECT_EQ(x[1], 105.0f);
  EXPECT_EQ(y[0], 50.0f);  // targets[start_index + 0]
  ds.next_batch();
  auto [x3, y3] = ds.next_batch();
  ASSERT_EQ(y3.dim(0), 2);       // the last batch is short
  EXPECT_EQ(y3[1], 120.0f);      // window [12, 13, 14]
  EXPECT_EQ(x3[(1 * 3 + 2) * 2], 14.0f);
  EXPECT_EQ(ds.next_batch().second[0], 50.0f);  // starts over
  o.end_index = 30;
  EXPECT_THROW(TimeseriesDataset(data, targets, 3, o), Error);
}

TEST(TimeseriesDataset, ShuffledStartPositionsMatchNumpy) {
  TimeseriesOptions o;
  o.sampling_rate = 2;
  o.sequence_stride = 3;
  o.shuffle = true;
  o.seed = 9;
  TimeseriesDataset ds(arange(99), arange(99), 10, o);
  EXPECT_EQ(ds.start_positions(), expected()["ts_positions_seed9_81_3"].get<std::vector<int64_t>>());
  auto [x, y] = ds.batch(0);
  EXPECT_EQ(y[0], static_cast<float>(ds.start_positions()[0]));
  EXPECT_EQ(x[1], static_cast<float>(ds.start_positions()[0] + 2));
}

TEST(ColumnNormalizer, FitOnTrainingRowsOnlyLikeNumpy) {
  Tensor d({5, 2}, std::vector<float>{1, 10, 2, 10, 3, 10, 6, 10, 100, 0});
  ColumnNormalizer n = ColumnNormalizer::fit(d, 0, 4);
  auto mean = expected()["norm_mean"].get<std::vector<double>>();
  auto sd = expected()["norm_std"].get<std::vector<double>>();
  EXPECT_NEAR(n.mean()[0], mean[0], 1e-9);
  EXPECT_NEAR(n.mean()[1], mean[1], 1e-9);
  EXPECT_NEAR(n.std()[0], sd[0], 1e-6);
  EXPECT_EQ(sd[1], 0.0);
  EXPECT_EQ(n.std()[1], 1.0);  // constant column: std 1, not a division by zero
  Tensor z = n.transform(d);
  EXPECT_NEAR(z[0], (1 - mean[0]) / sd[0], 1e-5);
  EXPECT_NEAR(z[8], (100 - mean[0]) / sd[0], 1e-4);  // row 4 was not used for fitting
  Tensor back = n.inverse_transform(z);
  for (int64_t i = 0; i < d.size(); ++i) EXPECT_NEAR(back[i], d[i], 1e-4);
  Tensor pred({2}, std::vector<float>{0.0f, 1.0f});
  Tensor units = n.inverse_column(pred, 0);
  EXPECT_NEAR(units[1], mean[0] + sd[0], 1e-5);
  ColumnNormalizer again = ColumnNormalizer::from_json(n.to_json());
  EXPECT_EQ(again.mean(), n.mean());
  EXPECT_EQ(again.std(), n.std());
  EXPECT_THROW(ColumnNormalizer::from_json("{\"mean\": [1]}"), Error);
  EXPECT_THROW(n.transform(Tensor({2, 3})), Error);
}

TEST(TimeseriesGenerator, AStateOfAnotherGeneratorIsRefused) {
  GeneratorOptions o;
  o.lookback = 4;
  o.delay = 1;
  o.batch_size = 3;
  o.target_column = 1;
  TimeseriesGenerator big(two_column_series(200), o), small(two_column_series(24), o);
  for (int i = 0; i < 20; ++i) big.next_batch();  // its next anchor is far beyond the small one's 18
  EXPECT_THROW(small.restore_state(big.save_state()), Error);
  small.restore_state(small.save_state());
}
