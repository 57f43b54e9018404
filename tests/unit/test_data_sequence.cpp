// pad_sequences, train_test_split, numpy's RandomState and the Keras tokenizer, against numpy / Keras
// values in tests/fixtures/data/numpy_expectations.json (make_data_fixtures.py) or worked by hand.
#include <gtest/gtest.h>

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

std::vector<std::vector<int32_t>> rows_of(const Tensor& t) {
  std::vector<std::vector<int32_t>> out;
  for (int64_t r = 0; r < t.dim(0); ++r) out.emplace_back(t.idata() + r * t.dim(1), t.idata() + (r + 1) * t.dim(1));
  return out;
}

const std::vector<std::vector<int32_t>> kSeqs = {{1, 2, 3}, {4, 5}, {6, 7, 8, 9, 10}, {}};

}  // namespace

TEST(PadSequences, KerasDefaultsPrePreZeroInt32) {
  Tensor t = pad_sequences(kSeqs);
  EXPECT_EQ(t.dtype(), DType::int32);
  EXPECT_EQ(t.shape(), (Shape{4, 5}));
  EXPECT_EQ(rows_of(t), expected()["pad"]["default"].get<std::vector<std::vector<int32_t>>>());
}

TEST(PadSequences, PostPaddingPostTruncatingAndValue) {
  PadOptions o;
  o.maxlen = 3;
  o.padding = o.truncating = Side::post;
  EXPECT_EQ(rows_of(pad_sequences(kSeqs, o)), expected()["pad"]["maxlen3_post_post"].get<std::vector<std::vector<int32_t>>>());
  PadOptions v;
  v.maxlen = 2;
  v.value = -1;
  EXPECT_EQ(rows_of(pad_sequences(kSeqs, v)), expected()["pad"]["maxlen2_value"].get<std::vector<std::vector<int32_t>>>());
}

TEST(PadSequences, FloatValueIsTruncatedByTheInt32Cast) {
  PadOptions o;
  o.maxlen = 4;
  o.value = 1.7f;
  EXPECT_EQ(rows_of(pad_sequences(kSeqs, o)), expected()["pad"]["float_value_truncated"].get<std::vector<std::vector<int32_t>>>());
}

TEST(PadSequences, Float32) {
  PadOptions o;
  o.dtype = DType::float32;
  o.value = 0.25f;
  Tensor t = pad_sequences(std::vector<std::vector<float>>{{0.5f, 1.5f}, {2.5f}}, o);
  auto want = expected()["pad"]["float32"].get<std::vector<std::vector<float>>>();
  ASSERT_EQ(t.shape(), (Shape{2, 2}));
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c) EXPECT_FLOAT_EQ(t[r * 2 + c], want[r][c]);
  PadOptions bad;
  bad.maxlen = -1;
  EXPECT_THROW(pad_sequences(kSeqs, bad), Error);
}

TEST(NumpyRandomState, MatchesNumpyBitForBit) {
  NumpyRandomState a(1234);
  for (auto v : expected()["mt_uint32_seed1234"]) EXPECT_EQ(a.next_uint32(), v.get<uint32_t>());
  NumpyRandomState rs(113);
  std::vector<int64_t> train(25000), test(25000);
  for (int64_t i = 0; i < 25000; ++i) train[i] = test[i] = i;
  rs.shuffle(train);
  rs.shuffle(test);
  EXPECT_EQ(std::vector<int64_t>(train.begin(), train.begin() + 10), expected()["shuffle113_train_first10"].get<std::vector<int64_t>>());
  EXPECT_EQ(std::vector<int64_t>(test.begin(), test.begin() + 10), expected()["shuffle113_test_first10"].get<std::vector<int64_t>>());
  EXPECT_EQ(NumpyRandomState(0).permutation(10), expected()["permutation0_10"].get<std::vector<int64_t>>());
  NumpyRandomState r7(7);
  for (auto v : expected()["randint7_10_1000"]) EXPECT_EQ(r7.randint(10, 1000), v.get<int64_t>());
  NumpyRandomState r3(3);
  for (auto v : expected()["randint3_2pow40"]) EXPECT_EQ(r3.randint(0, int64_t{1} << 40), v.get<int64_t>());
}

TEST(TrainTestSplit, MatchesSklearnPermutation) {
  std::vector<float> xs;
  std::vector<int32_t> ys;
  for (int i = 0; i < 10; ++i) xs.push_back(static_cast<float>(i)), xs.push_back(100.0f + i), ys.push_back(i);
  Tensor x({10, 2}, xs), y = Tensor::ints({10}, ys);
  SplitOptions o;
  o.test_size = 0.3;
  o.random_state = 42;
  Split s = train_test_split(x, y, o);
  auto test = expected()["split42_n10_test3"]["test"].get<std::vector<int32_t>>();
  auto train = expected()["split42_n10_test3"]["train"].get<std::vector<int32_t>>();
  ASSERT_EQ(s.x_test.shape(), (Shape{3, 2}));
  ASSERT_EQ(s.x_train.shape(), (Shape{7, 2}));
  EXPECT_EQ(std::vector<int32_t>(s.y_test.idata(), s.y_test.idata() + 3), test);
  EXPECT_EQ(std::vector<int32_t>(s.y_train.idata(), s.y_train.idata() + 7), train);
  EXPECT_EQ(s.x_test[1], 100.0f + test[0]);
}

TEST(TrainTestSplit, NoShuffleKeepsOrderAndCountsRoundUp) {
  Tensor x({5, 1}, std::vector<float>{0, 1, 2, 3, 4}), y({5}, std::vector<float>{0, 1, 0, 1, 0});
  SplitOptions o;
  o.shuffle = false;
  o.test_size = 0.3;  // ceil(1.5) = 2
  Split s = train_test_split(x, y, o);
  EXPECT_EQ(s.x_train.shape(), (Shape{3, 1}));
  EXPECT_EQ(s.x_test[0], 3.0f);
  o.test_size = 2;  // a count
  EXPECT_EQ(train_test_split(x, y, o).x_test.dim(0), 2);
  o.test_size = 5;
  EXPECT_THROW(train_test_split(x, y, o), Error);
  EXPECT_THROW(train_test_split(x, Tensor({4}), {}), Error);
}

TEST(TrainTestSplit, StratifyKeepsClassProportions) {
  std::vector<int32_t> labels;
  for (int i = 0; i < 80; ++i) labels.push_back(0);
  for (int i = 0; i < 20; ++i) labels.push_back(1);
  Tensor x({100, 1}), y = Tensor::ints({100}, labels);
  for (int i = 0; i < 100; ++i) x[i] = static_cast<float>(i);
  SplitOptions o;
  o.test_size = 0.25;
  o.random_state = 1;
  o.stratify = true;
  Split s = train_test_split(x, y, o);
  ASSERT_EQ(s.y_test.dim(0), 25);
  int ones = 0;
  for (int i = 0; i < 25; ++i) ones += s.y_test.idata()[i];
  EXPECT_EQ(ones, 5);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(labels[static_cast<size_t>(s.x_test[i])], s.y_test.idata()[i]);
}

TEST(Tokenizer, KerasFiltersLowerCaseAndSpaces) {
  auto words = text_to_word_sequence("Hello, World! It's <br />a\tTEST--of\nthe \"filters\"... caf\xC3\x89");
  std::vector<std::string> want = {"hello", "world", "it's", "br", "a", "test", "of", "the", "filters", "caf\xC3\x89"};
  EXPECT_EQ(words, want);
  // Only the space splits: other whitespace (here U+00A0) stays inside a token.
  EXPECT_EQ(text_to_word_sequence("a\xC2\xA0" "b c").size(), 2u);
}

TEST(Tokenizer, WordIndexByCountTiesInFirstSeenOrder) {
  Tokenizer tok;
  tok.fit_on_texts({"the cat sat on the mat", "The dog sat."});
  // counts: the 3, sat 2, then cat, on, mat, dog (1 each, first-seen order)
  EXPECT_EQ(tok.word_index().at("the"), 1);
  EXPECT_EQ(tok.word_index().at("sat"), 2);
  EXPECT_EQ(tok.word_index().at("cat"), 3);
  EXPECT_EQ(tok.word_index().at("dog"), 6);
  EXPECT_EQ(tok.text_to_sequence("The dog ate the cat"), (std::vector<int32_t>{1, 6, 1, 3}));
  EXPECT_EQ(tok.sequence_to_text({1, 6, 99, 3}), "the dog cat");

  TokenizerOptions o;
  o.num_words = 3;
  o.oov_token = "<OOV>";
  Tokenizer small(o);
  small.fit_on_texts({"the cat sat on the mat", "The dog sat."});
  EXPECT_EQ(small.word_index().at("<OOV>"), 1);
  EXPECT_EQ(small.word_index().at("the"), 2);
  EXPECT_EQ(small.texts_to_sequences({"the sat zebra"})[0], (std::vector<int32_t>{2, 1, 1}));
  EXPECT_EQ(small.sequences_to_texts({{2, 3}})[0], "the <OOV>");
}
