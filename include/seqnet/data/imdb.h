// The IMDB sentiment data set with keras.datasets.imdb's semantics.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::datasets::imdb {

struct Split {
  std::vector<std::vector<int32_t>> x;  // reviews as word ids
  Tensor y;                             // int32 (n,): 1 positive, 0 negative
};

struct LoadOptions {
  std::optional<int64_t> num_words;  // keep ids < num_words (else oov_char); none: Keras's max id (see docs)
  int64_t skip_top = 0;              // ids < skip_top become oov_char
  std::optional<int64_t> maxlen;     // drop reviews whose length (with start_char) is >= maxlen
  uint32_t seed = 113;               // RandomState(seed) shuffles train, then (same stream) test
  std::optional<int32_t> start_char = 1;
  std::optional<int32_t> oov_char = 2;  // none: out-of-range words are dropped
  int32_t index_from = 3;
  // A folder (looked up as <dir>/imdb/...), an imdb.npz, or an aclImdb tarball (.tar.gz, .tgz, .tar: read
  // with load_raw_from_tarball); empty: the data folders (data_dir.h).
  std::string path;
};

// The four raw arrays of imdb.npz: word ranks, in the file's order, before load_data's processing.
struct RawArrays {
  std::vector<std::vector<int32_t>> x_train, x_test;
  std::vector<int32_t> y_train, y_test;
};
// `path` as LoadOptions::path. Without a file named, the first of these found in the data folders:
// imdb/imdb.npz; imdb/keras_sequences/imdb_{train,test}.txt.gz ("label id id ..." per line); Stanford's
// tarball imdb/aclImdb_v1_train_test.tar.gz or imdb/aclImdb_v1.tar.gz with imdb/imdb_word_index.json;
// else imdb.npz is downloaded (data_dir.h).
RawArrays load_raw(const std::string& path = "");

// The four arrays of imdb.npz rebuilt from Stanford's aclImdb tarball (aclImdb_v1.tar.gz, or the copy
// without train/unsup in shared/data) and Keras's word index: the reviews under {train,test}/{pos,neg}/
// (anything else is ignored), pos files sorted by file name as byte strings, then neg likewise; each
// review through review_to_ids. Identical to imdb.npz's arrays.
RawArrays load_raw_from_tarball(const std::string& tarball, const std::unordered_map<std::string, int32_t>& word_index);
// One review's word ranks as imdb.npz has them (Keras's Python 2 preprocessing): ASCII A-Z lower-cased
// (other bytes kept as they are), each of !"#$%&()*+,-./:;<=>?@[\]^_`{|}~, TAB and LF made a space,
// split on ' ' only (not on other Unicode spaces), empty tokens dropped, words missing from the index
// dropped. So "<br />" becomes the word "br".
std::vector<int32_t> review_to_ids(std::string_view text, const std::unordered_map<std::string, int32_t>& word_index);

std::pair<Split, Split> load_data(const LoadOptions& options = {});
// The same steps on raw arrays already in memory (options.path is ignored).
std::pair<Split, Split> load_data(RawArrays raw, const LoadOptions& options);

// imdb_word_index.json: word -> rank (1 is "the"). `path`: the .json, a data folder, or a tarball (the
// index beside it, else the data folders); empty: the data folders (downloaded when missing).
std::unordered_map<std::string, int32_t> get_word_index(const std::string& path = "");

// ids back to words: id -> word with rank id - index_from; ids with no word (0 padding, 1 start,
// 2 oov) become `unknown`. The first training review decodes to "? this film was just brilliant ...".
std::string decode_review(const std::vector<int32_t>& ids, const std::unordered_map<std::string, int32_t>& word_index,
                          int32_t index_from = 3, const std::string& unknown = "?");

}  // namespace seqnet::datasets::imdb
