// Facts from keras/src/datasets/imdb.py (Keras 3): one np.random.RandomState(seed) shuffles the train
// indices and then the test indices; start_char is prepended and index_from added; reviews with
// len >= maxlen are dropped; num_words defaults to the largest id over train and test; ids outside
// [skip_top, num_words) become oov_char (or are dropped when oov_char is None).
#include "seqnet/data/imdb.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "gzip_file.h"
#include "io/json_numbers.h"
#include "seqnet/data/data_dir.h"
#include "seqnet/data/npz.h"
#include "seqnet/data/numpy_random.h"
#include "seqnet/data/tokenizer.h"

namespace seqnet::datasets::imdb {
namespace {
// libarchive's message for the last error; it may have none (a null pointer).
std::string archive_message(archive* a) {
  const char* m = archive_error_string(a);
  return m ? m : "unknown libarchive error";
}

void parse_lines(const std::string& path, std::vector<std::vector<int32_t>>& x, std::vector<int32_t>& y) {
  const std::string text = data::detail::read_gzip(path);
  int64_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find('\n', i);
    if (end == std::string::npos) end = text.size();
    std::vector<int32_t> ids;
    bool first = true;
    size_t p = i;
    while (p < end) {
      while (p < end && (text[p] == ' ' || text[p] == '\r')) ++p;
      if (p >= end) break;
      int64_t v = 0;
      size_t s = p;
      while (p < end && text[p] >= '0' && text[p] <= '9' && v <= std::numeric_limits<int32_t>::max()) v = v * 10 + (text[p++] - '0');
      if (p == s || (p < end && text[p] != ' ' && text[p] != '\r') || v > std::numeric_limits<int32_t>::max())
        throw Error(path + ": line " + std::to_string(line) + ", column " + std::to_string(s - i + 1) + ": expected a non-negative integer");
      if (first) {
        if (v > 1) throw Error(path + ": line " + std::to_string(line) + ": label " + std::to_string(v) + " is not 0 or 1");
        y.push_back(static_cast<int32_t>(v));
        first = false;
      } else {
        ids.push_back(static_cast<int32_t>(v));
      }
    }
    if (first) {
      if (end < text.size() || end > i)
        throw Error(path + ": line " + std::to_string(line) + ": empty line (expected \"label id id ...\")");
    } else {
      x.push_back(std::move(ids));
    }
    i = end + 1;
    ++line;
  }
}

std::vector<std::vector<int32_t>> to_int32(const std::vector<std::vector<int64_t>>& lists, const std::string& what) {
  std::vector<std::vector<int32_t>> out;
  out.reserve(lists.size());
  for (const auto& l : lists) {
    std::vector<int32_t> v;
    v.reserve(l.size());
    for (int64_t id : l) {
      if (id < 0 || id > std::numeric_limits<int32_t>::max()) throw Error(what + ": word id " + std::to_string(id) + " out of range");
      v.push_back(static_cast<int32_t>(id));
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<int32_t> labels(const data::NpyArray& a, const std::string& what) {
  Tensor t = a.to_tensor();
  if (t.is_float() || t.rank() != 1) throw Error(what + ": labels must be a 1-D integer array, got " + t.shape_string());
  for (int64_t i = 0; i < t.size(); ++i)
    if (t.idata()[i] != 0 && t.idata()[i] != 1)
      throw Error(what + ": label " + std::to_string(t.idata()[i]) + " of review " + std::to_string(i) +
                  " is not 0 (negative) or 1 (positive)");
  return std::vector<int32_t>(t.idata(), t.idata() + t.size());
}

RawArrays from_npz(const std::string& path) {
  data::NpzArchive z = data::read_npz(path);
  for (const char* k : {"x_train", "y_train", "x_test", "y_test"})
    if (!z.count(k)) throw Error(path + ": no array \"" + k + "\" (expected Keras's imdb.npz)");
  RawArrays r;
  r.x_train = to_int32(z["x_train"].lists, path + ":x_train");
  r.x_test = to_int32(z["x_test"].lists, path + ":x_test");
  r.y_train = labels(z["y_train"], path + ":y_train");
  r.y_test = labels(z["y_test"], path + ":y_test");
  if (z["x_train"].type != data::NpyType::object || z["x_test"].type != data::NpyType::object)
    throw Error(path + ": x_train and x_test must be object arrays of int lists");
  return r;
}

Split shuffled(std::vector<std::vector<int32_t>>&& x, const std::vector<int32_t>& y, data::NumpyRandomState& rng) {
  std::vector<int64_t> idx(x.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  rng.shuffle(idx);
  Split s;
  s.x.reserve(x.size());
  std::vector<int32_t> ys;
  for (int64_t i : idx) {
    s.x.push_back(std::move(x[static_cast<size_t>(i)]));
    ys.push_back(y[static_cast<size_t>(i)]);
  }
  const int64_t n = static_cast<int64_t>(ys.size());
  s.y = Tensor::ints({n}, std::move(ys));
  return s;
}

void filter_long(Split& s, int64_t maxlen) {
  std::vector<std::vector<int32_t>> x;
  std::vector<int32_t> y;
  for (size_t i = 0; i < s.x.size(); ++i)
    if (static_cast<int64_t>(s.x[i].size()) < maxlen) {
      x.push_back(std::move(s.x[i]));
      y.push_back(s.y.idata()[i]);
    }
  s.x = std::move(x);
  const int64_t n = static_cast<int64_t>(y.size());
  s.y = Tensor::ints({n}, std::move(y));
}

bool is_tarball(const std::string& path) { return path.ends_with(".tar.gz") || path.ends_with(".tgz") || path.ends_with(".tar"); }

// The word index that goes with a tarball: the one beside it (shared/data keeps them together), else the
// data folders' (which may download it).
std::string word_index_for(const std::string& tarball, const std::string& data_dir) {
  std::filesystem::path beside = std::filesystem::path(tarball).parent_path() / "imdb_word_index.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(beside, ec)) return beside.string();
  return find_data_file("imdb/imdb_word_index.json", is_tarball(data_dir) ? "" : data_dir);
}

// Stanford's layout: <anything>/{train,test}/{pos,neg}/<id>_<rating>.txt. Returns false for other members
// (README, imdb.vocab, urls_*.txt, *.feat, train/unsup/...).
bool review_member(const std::string& name, int& split, int& label, std::string& file) {
  if (!name.ends_with(".txt")) return false;
  std::vector<std::string_view> parts;
  for (size_t i = 0; i < name.size();) {
    size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    if (j > i) parts.push_back(std::string_view(name).substr(i, j - i));
    i = j + 1;
  }
  if (parts.size() < 3) return false;
  std::string_view s = parts[parts.size() - 3], l = parts[parts.size() - 2];
  if ((s != "train" && s != "test") || (l != "pos" && l != "neg")) return false;
  split = s == "train" ? 0 : 1;
  label = l == "pos" ? 0 : 1;
  file = parts.back();
  return true;
}

}  // namespace

std::vector<int32_t> review_to_ids(std::string_view text, const std::unordered_map<std::string, int32_t>& word_index) {
  static const std::array<bool, 256> separator = [] {
    std::array<bool, 256> s{};
    for (const char* f = data::kKerasFilters; *f; ++f) s[static_cast<unsigned char>(*f)] = true;
    s[static_cast<unsigned char>(' ')] = true;
    return s;
  }();
  std::vector<int32_t> ids;
  std::string word;  // reused: no allocation per token
  auto flush = [&] {
    if (word.empty()) return;
    if (auto it = word_index.find(word); it != word_index.end()) ids.push_back(it->second);
    word.clear();
  };
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (separator[c]) flush();
    else word += static_cast<char>(c);
  }
  flush();
  return ids;
}

RawArrays load_raw_from_tarball(const std::string& tarball, const std::unordered_map<std::string, int32_t>& word_index) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  if (!a) throw Error(tarball + ": libarchive could not start");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), tarball.c_str(), 1 << 20) != ARCHIVE_OK)
    throw Error(tarball + ": cannot read as a tarball: " + archive_message(a.get()));
  // [train|test][pos|neg]: file name -> ids. std::map orders std::string as unsigned bytes, as Python 2
  // sorted the byte-string file names when imdb.npz was made.
  std::map<std::string, std::vector<int32_t>> reviews[2][2];
  std::string member, text;
  std::vector<char> buf(1 << 16);
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char* p = archive_entry_pathname(e);
    member = p ? p : "";
    int split = 0, label = 0;
    std::string file;
    if (archive_entry_filetype(e) != AE_IFREG || !review_member(member, split, label, file)) continue;
    text.clear();
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf.data(), buf.size())) > 0) text.append(buf.data(), static_cast<size_t>(n));
    if (n < 0) throw Error(tarball + ": member " + member + ": corrupt or truncated data: " + archive_message(a.get()));
    if (!reviews[split][label].emplace(file, review_to_ids(text, word_index)).second)
      throw Error(tarball + ": member " + member + " appears twice");
  }
  if (r != ARCHIVE_EOF)
    throw Error(tarball + ": corrupt or truncated tarball " + (member.empty() ? "at its start" : "after member " + member) + ": " +
                archive_message(a.get()));
  RawArrays raw;
  const char* names[2][2] = {{"train/pos", "train/neg"}, {"test/pos", "test/neg"}};
  for (int split = 0; split < 2; ++split) {
    auto& x = split == 0 ? raw.x_train : raw.x_test;
    auto& y = split == 0 ? raw.y_train : raw.y_test;
    for (int label = 0; label < 2; ++label) {
      if (reviews[split][label].empty())
        throw Error(tarball + ": no reviews under " + names[split][label] +
                    "/ (expected Stanford's aclImdb layout: aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt)");
      for (auto& [file, ids] : reviews[split][label]) {
        x.push_back(std::move(ids));
        y.push_back(label == 0 ? 1 : 0);
      }
    }
  }
  return raw;
}

RawArrays load_raw(const std::string& path) {
  if (path.ends_with(".npz")) return from_npz(path);
  if (is_tarball(path)) return load_raw_from_tarball(path, get_word_index(word_index_for(path, "")));
  std::string npz = try_find_data_file("imdb/imdb.npz", path);
  if (!npz.empty()) return from_npz(npz);
  std::string train = try_find_data_file("imdb/keras_sequences/imdb_train.txt.gz", path);
  std::string test = try_find_data_file("imdb/keras_sequences/imdb_test.txt.gz", path);
  if (!train.empty() && !test.empty()) {
    RawArrays r;
    parse_lines(train, r.x_train, r.y_train);
    parse_lines(test, r.x_test, r.y_test);
    return r;
  }
  for (const char* name : {"imdb/aclImdb_v1_train_test.tar.gz", "imdb/aclImdb_v1.tar.gz"})
    if (std::string tarball = try_find_data_file(name, path); !tarball.empty())
      return load_raw_from_tarball(tarball, get_word_index(word_index_for(tarball, path)));
  // Nothing here: Keras's imdb.npz, downloaded when allowed.
  try {
    return from_npz(find_data_file("imdb/imdb.npz", path));
  } catch (const Error& e) {
    std::string folders;
    for (const auto& d : data_dirs(path)) folders += "\n  " + d;
    throw Error("imdb: data not found. In each data folder D, looked for D/imdb/imdb.npz, "
                "D/imdb/keras_sequences/imdb_{train,test}.txt.gz, or D/imdb/aclImdb_v1.tar.gz (or "
                "aclImdb_v1_train_test.tar.gz) with D/imdb/imdb_word_index.json; the folders:" + folders + "\n" + e.what());
  }
}

std::pair<Split, Split> load_data(const LoadOptions& o) { return load_data(load_raw(o.path), o); }

std::pair<Split, Split> load_data(RawArrays raw, const LoadOptions& o) {
  if (raw.x_train.size() != raw.y_train.size() || raw.x_test.size() != raw.y_test.size())
    throw Error("imdb: the number of reviews and labels differ");
  data::NumpyRandomState rng(o.seed);
  Split train = shuffled(std::move(raw.x_train), raw.y_train, rng);
  Split test = shuffled(std::move(raw.x_test), raw.y_test, rng);

  for (Split* s : {&train, &test})
    for (auto& x : s->x) {
      for (auto& w : x) w += o.index_from;
      if (o.start_char) x.insert(x.begin(), *o.start_char);
    }
  if (o.maxlen && *o.maxlen) {
    filter_long(train, *o.maxlen);
    filter_long(test, *o.maxlen);
    if (train.x.empty() || test.x.empty())
      throw Error("imdb: after filtering for sequences shorter than maxlen=" + std::to_string(*o.maxlen) +
                  ", no sequence was kept. Increase maxlen.");
  }
  int64_t num_words = o.num_words.value_or(0);
  if (!num_words)
    for (Split* s : {&train, &test})
      for (const auto& x : s->x)
        for (int32_t w : x) num_words = std::max<int64_t>(num_words, w);
  for (Split* s : {&train, &test})
    for (auto& x : s->x) {
      if (o.oov_char) {
        for (auto& w : x)
          if (!(o.skip_top <= w && w < num_words)) w = *o.oov_char;
      } else {
        std::erase_if(x, [&](int32_t w) { return !(o.skip_top <= w && w < num_words); });
      }
    }
  return {std::move(train), std::move(test)};
}

std::unordered_map<std::string, int32_t> get_word_index(const std::string& path) {
  std::string file = path.ends_with(".json") ? path
                     : is_tarball(path)    ? word_index_for(path, "")
                                           : find_data_file("imdb/imdb_word_index.json", path);
  std::ifstream in(file);
  if (!in) throw Error(file + ": cannot open for reading");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file + ": " + e.what());
  }
  if (!j.is_object()) throw Error(file + ": expected a JSON object of word -> rank");
  std::unordered_map<std::string, int32_t> index;
  index.reserve(j.size());
  for (auto& [word, rank] : j.items()) {
    if (!rank.is_number_integer()) throw Error(file + ": the rank of \"" + word + "\" is not an integer");
    index[word] = whole_number_at<int32_t>(rank, file + ": the rank of \"" + word + "\"");
  }
  return index;
}

std::string decode_review(const std::vector<int32_t>& ids, const std::unordered_map<std::string, int32_t>& word_index,
                          int32_t index_from, const std::string& unknown) {
  std::unordered_map<int32_t, const std::string*> inverse;
  inverse.reserve(word_index.size());
  for (const auto& [w, i] : word_index) inverse[i] = &w;
  std::string out;
  for (size_t k = 0; k < ids.size(); ++k) {
    auto it = inverse.find(ids[k] - index_from);
    if (k) out += ' ';
    out += ids[k] - index_from >= 1 && it != inverse.end() ? *it->second : unknown;
  }
  return out;
}

}  // namespace seqnet::datasets::imdb
