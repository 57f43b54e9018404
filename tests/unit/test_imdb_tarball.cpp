// IMDB from Stanford's aclImdb tarball: the tokenization that made Keras's imdb.npz, the npz order, and
// clear errors on damaged tarballs, on tarballs written here with libarchive; then, on the real data
// (SEQNET_DATA_DIR, else ../shared/data; skipped when absent), every id against keras_sequences.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "seqnet/seqnet.h"

using namespace seqnet;
using namespace seqnet::datasets;
namespace fs = std::filesystem;

namespace {

using Members = std::vector<std::pair<std::string, std::string>>;  // name (ending in '/': a folder), bytes

void write_tarball(const fs::path& path, const Members& members) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_gnutar(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& [name, bytes] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    const bool dir = name.ends_with("/");
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, dir ? 0755 : 0644);
    archive_entry_set_size(e, dir ? 0 : la_int64_t(bytes.size()));
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!dir) {
      ASSERT_EQ(archive_write_data(a, bytes.data(), bytes.size()), la_ssize_t(bytes.size()));
    }
    archive_entry_free(e);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "seqnet-imdb-tar-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

// Sets (or, with nullptr, unsets) an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(const char* n, const char* value) : name(n) {
    if (const char* v = std::getenv(n)) old = v;
    if (value) setenv(n, value, 1);
    else unsetenv(n);
  }
  ~ScopedEnv() {
    if (old) setenv(name.c_str(), old->c_str(), 1);
    else unsetenv(name.c_str());
  }
};

struct ScopedCwd {
  fs::path old = fs::current_path();
  explicit ScopedCwd(const fs::path& p) { fs::current_path(p); }
  ~ScopedCwd() { fs::current_path(old); }
};

const std::unordered_map<std::string, int32_t> kIndex = {
    {"the", 1}, {"and", 2}, {"a", 3}, {"br", 7}, {"it's", 8}, {"great", 9}, {"hello", 10}, {"world", 11},
    {"caf\xc3\xa9", 12},  // "café", as lower-cased text has it
    {"caf\xc3\x89", 13},  // "cafÉ": Python 2 lower-cased ASCII only, so "CAFÉ" became this
    {"don't", 14}, {"x", 15},
};

std::string index_json() {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [w, i] : kIndex) j[w] = i;
  return j.dump();
}

// A review long and varied enough that its compressed bytes span many gzip blocks.
std::string long_review(uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < 200000) s += std::to_string(rng()) + (rng() % 2 ? " the " : " a ");
  return s;
}

// The small aclImdb tarball: Stanford's layout (plus the unsup reviews, the .feat files and the lists
// that a loader must ignore), its members in no particular order.
Members small_acl_imdb() {
  return {
      {"aclImdb/", ""},
      {"aclImdb/README", "Large Movie Review Dataset v1.0\n"},
      {"aclImdb/imdb.vocab", "the\nand\n"},
      {"aclImdb/train/", ""},
      {"aclImdb/train/pos/", ""},
      {"aclImdb/train/pos/2_8.txt", "a\xc2\xa0the a"},  // U+00A0 does not split: "a\xc2\xa0the" is unknown
      {"aclImdb/train/pos/10_7.txt", "Hello, World! It's GREAT.<br /><br />the end"},
      {"aclImdb/train/unsup/0_0.txt", "the the the"},
      {"aclImdb/train/neg/5_3.txt", "and"},
      {"aclImdb/train/pos/1_9.txt", "CAF\xc3\x89 caf\xc3\xa9\tthe\nand\rx"},
      {"aclImdb/train/pos/10000_8.txt", "Don't... [x]{the}(a)"},
      {"aclImdb/train/urls_pos.txt", "http://www.imdb.com/title/tt0453418/usercomments\n"},
      {"aclImdb/train/labeledBow.feat", "9 0:9 1:1\n"},
      {"aclImdb/train/neg/0_1.txt", "the the"},
      {"aclImdb/train/pos/9_10.txt", "x_the-a"},
      {"aclImdb/test/pos/0_10.txt", "great"},
      {"aclImdb/test/neg/1_1.txt", "Nothing known here"},
      {"aclImdb/test/neg/0_2.txt", "world?!"},
  };
}

}  // namespace

TEST(ImdbTarball, TokenizesAsKerasMadeImdbNpz) {
  // Punctuation and HTML become spaces ("<br />" leaves "br"); only A-Z is lower-cased.
  EXPECT_EQ(imdb::review_to_ids("Hello, World! It's GREAT.<br /><br />the end", kIndex),
            (std::vector<int32_t>{10, 11, 8, 9, 7, 7, 1}));
  EXPECT_EQ(imdb::review_to_ids("CAF\xc3\x89 caf\xc3\xa9", kIndex), (std::vector<int32_t>{13, 12}));
  // TAB and LF split; CR is not a filter character, so "and\rx" is one (unknown) word.
  EXPECT_EQ(imdb::review_to_ids("the\tand\na\rx", kIndex), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(imdb::review_to_ids("a\xc2\xa0the a", kIndex), (std::vector<int32_t>{3}));
  EXPECT_EQ(imdb::review_to_ids("x_the-a~b|c", kIndex), (std::vector<int32_t>{15, 1, 3}));
  EXPECT_EQ(imdb::review_to_ids("Don't... [x]{the}(a)", kIndex), (std::vector<int32_t>{14, 15, 1, 3}));
  EXPECT_TRUE(imdb::review_to_ids("", kIndex).empty());
  EXPECT_TRUE(imdb::review_to_ids("  ,,  ", kIndex).empty());
  // The same words as the general Keras tokenizer gives.
  for (const char* text : {"Hello, World! It's GREAT.<br /><br />the end", "CAF\xc3\x89\tthe\nand", "x_the-a~b|c \"a\" `the`"}) {
    std::vector<int32_t> want;
    for (const auto& w : data::text_to_word_sequence(text))
      if (auto it = kIndex.find(w); it != kIndex.end()) want.push_back(it->second);
    EXPECT_EQ(imdb::review_to_ids(text, kIndex), want) << text;
  }
}

TEST(ImdbTarball, SmallTarballInNpzOrderWithLabels) {
  TempDir tmp;
  const fs::path tar = tmp.path / "aclImdb_v1.tar.gz";
  write_tarball(tar, small_acl_imdb());
  write_bytes(tmp.path / "imdb_word_index.json", index_json());

  imdb::RawArrays raw = imdb::load_raw_from_tarball(tar.string(), kIndex);
  // pos sorted as byte strings ("10000_8" < "10_7" < "1_9" < "2_8" < "9_10"; not numerically), then neg.
  const std::vector<std::vector<int32_t>> x_train = {{14, 15, 1, 3}, {10, 11, 8, 9, 7, 7, 1}, {13, 12, 1}, {3}, {15, 1, 3}, {1, 1}, {2}};
  EXPECT_EQ(raw.x_train, x_train);
  EXPECT_EQ(raw.y_train, (std::vector<int32_t>{1, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(raw.x_test, (std::vector<std::vector<int32_t>>{{9}, {11}, {}}));
  EXPECT_EQ(raw.y_test, (std::vector<int32_t>{1, 0, 0}));

  // A path naming a tarball selects it, with the word index beside it.
  imdb::RawArrays via_path = imdb::load_raw(tar.string());
  EXPECT_EQ(via_path.x_train, raw.x_train);
  EXPECT_EQ(via_path.x_test, raw.x_test);
  imdb::LoadOptions o;
  o.path = tar.string();
  o.seed = 1;
  auto [train, test] = imdb::load_data(o);
  ASSERT_EQ(train.x.size(), 7u);
  int64_t ids = 0;
  for (const auto& x : train.x) {
    EXPECT_EQ(x.front(), 1);  // start_char
    ids += int64_t(x.size()) - 1;
  }
  EXPECT_EQ(ids, 4 + 7 + 3 + 1 + 3 + 2 + 1);
  EXPECT_EQ(imdb::get_word_index(tar.string()).at("hello"), 10);

  // A data folder holding imdb/<tarball> and the index: found after imdb.npz and keras_sequences.
  fs::create_directories(tmp.path / "data" / "imdb");
  fs::copy_file(tar, tmp.path / "data" / "imdb" / "aclImdb_v1.tar.gz");
  write_bytes(tmp.path / "data" / "imdb" / "imdb_word_index.json", index_json());
  fs::create_directories(tmp.path / "work");
  ScopedCwd cwd(tmp.path / "work");  // no ../shared/data from here
  ScopedEnv data_dir("SEQNET_DATA_DIR", nullptr), cache("SEQNET_CACHE_DIR", (tmp.path / "cache").c_str()), offline("SEQNET_OFFLINE", "1");
  EXPECT_EQ(imdb::load_raw((tmp.path / "data").string()).x_train, raw.x_train);
}

TEST(ImdbTarball, DamagedTarballsRaiseErrorsNamingTheFile) {
  TempDir tmp;
  Members members = small_acl_imdb();
  members.push_back({"aclImdb/train/neg/7_2.txt", long_review(1)});
  members.push_back({"aclImdb/test/pos/7_9.txt", long_review(2)});
  const fs::path good = tmp.path / "good.tar.gz";
  write_tarball(good, members);
  const std::string bytes = read_bytes(good);
  ASSERT_GT(bytes.size(), 100000u);

  auto expect_error = [&](const fs::path& p, const std::string& what) {
    try {
      imdb::load_raw_from_tarball(p.string(), kIndex);
      ADD_FAILURE() << what << ": expected an Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << what << ": " << e.what();
    }
  };
  const fs::path truncated = tmp.path / "truncated.tar.gz";
  write_bytes(truncated, bytes.substr(0, bytes.size() / 2));
  expect_error(truncated, "truncated");
  const fs::path corrupt = tmp.path / "corrupt.tar.gz";
  std::string flipped = bytes;
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i) flipped[i] = char(~flipped[i]);
  write_bytes(corrupt, flipped);
  expect_error(corrupt, "corrupt");
  const fs::path text = tmp.path / "not_a.tar.gz";
  write_bytes(text, "this is not a tarball\n");
  expect_error(text, "not a tarball");
  expect_error(tmp.path / "missing.tar.gz", "missing");

  Members no_test_neg;
  for (const auto& m : small_acl_imdb())
    if (!m.first.starts_with("aclImdb/test/neg/")) no_test_neg.push_back(m);
  const fs::path partial = tmp.path / "partial.tar.gz";
  write_tarball(partial, no_test_neg);
  try {
    imdb::load_raw_from_tarball(partial.string(), kIndex);
    ADD_FAILURE() << "expected an Error for a tarball without test/neg";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no reviews under test/neg/"), std::string::npos) << e.what();
  }
}

TEST(ImdbTarball, RealTarballGivesKerasSequencesExactly) {
  const std::string tar = try_find_data_file("imdb/aclImdb_v1_train_test.tar.gz").empty()
                              ? try_find_data_file("imdb/aclImdb_v1.tar.gz")
                              : try_find_data_file("imdb/aclImdb_v1_train_test.tar.gz");
  const std::string train_txt = try_find_data_file("imdb/keras_sequences/imdb_train.txt.gz");
  if (tar.empty() || train_txt.empty() || try_find_data_file("imdb/imdb_word_index.json").empty())
    GTEST_SKIP() << "imdb/aclImdb_v1_train_test.tar.gz (or aclImdb_v1.tar.gz), imdb/imdb_word_index.json and "
                    "imdb/keras_sequences/ not all found (set SEQNET_DATA_DIR to the folder that holds imdb/, "
                    "e.g. ../shared/data)";
  // keras_sequences' own folder, so that an imdb.npz elsewhere cannot stand in for it.
  const std::string folder = fs::path(train_txt).parent_path().parent_path().parent_path().string();
  imdb::RawArrays want = imdb::load_raw(folder);

  const auto t0 = std::chrono::steady_clock::now();
  imdb::RawArrays got = imdb::load_raw(tar);  // the tarball path forces the tarball source
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("read %s (50,000 reviews) in %.2f s\n", tar.c_str(), seconds);

  ASSERT_EQ(got.x_train.size(), 25000u);
  ASSERT_EQ(got.x_test.size(), 25000u);
  EXPECT_EQ(got.y_train, want.y_train);
  EXPECT_EQ(got.y_test, want.y_test);
  for (size_t i = 0; i < 25000; ++i) {
    ASSERT_EQ(got.x_train[i], want.x_train[i]) << "train review " << i;
    ASSERT_EQ(got.x_test[i], want.x_test[i]) << "test review " << i;
  }

  auto [train, test] = imdb::load_data(std::move(got), {});
  const std::vector<int32_t> head(train.x[0].begin(), train.x[0].begin() + 10);
  EXPECT_EQ(head, (std::vector<int32_t>{1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65}));
  EXPECT_EQ(train.x[0].size(), 218u);
  EXPECT_EQ(std::vector<int32_t>(test.x[0].begin(), test.x[0].begin() + 10),
            (std::vector<int32_t>{1, 591, 202, 14, 31, 6, 717, 10, 10, 18142}));
  EXPECT_EQ(std::vector<int32_t>(train.y.idata(), train.y.idata() + 10), (std::vector<int32_t>{1, 0, 0, 1, 0, 0, 1, 0, 1, 0}));
}
