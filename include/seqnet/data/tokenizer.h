// A word tokenizer matching Keras's text preprocessing (keras.preprocessing.text.Tokenizer) and the way
// the IMDB data set was tokenized: lower-case, filter characters become spaces, split on spaces.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace seqnet::data {

// Keras's default filters: !"#$%&()*+,-./:;<=>?@[\]^_`{|}~ plus TAB and LF.
extern const char* const kKerasFilters;

// Lower-cases ASCII A-Z only (bytes >= 0x80 are left alone, as Python 2's str.lower on bytes did for
// IMDB), turns each filter character into `split`, splits on `split` and drops empty tokens.
std::vector<std::string> text_to_word_sequence(std::string_view text, std::string_view filters = kKerasFilters,
                                               bool lower = true, char split = ' ');

struct TokenizerOptions {
  std::optional<int64_t> num_words;  // keep ids < num_words in texts_to_sequences (none: all)
  std::string filters = kKerasFilters;
  bool lower = true;
  char split = ' ';
  std::optional<std::string> oov_token;  // if set, gets id 1 and replaces unknown words
};

class Tokenizer {
 public:
  explicit Tokenizer(TokenizerOptions options = {});

  // Counts words; ids are ranks by count, most frequent first, ties in order of first appearance
  // (Keras's stable sort). Ids start at 1 (after the oov token, if any).
  void fit_on_texts(const std::vector<std::string>& texts);
  // Use a ready word index instead (e.g. imdb_word_index.json).
  void set_word_index(std::unordered_map<std::string, int32_t> word_index);

  std::vector<int32_t> text_to_sequence(std::string_view text) const;
  std::vector<std::vector<int32_t>> texts_to_sequences(const std::vector<std::string>& texts) const;
  // Ids joined by spaces; ids outside the index (or >= num_words) are skipped, or become the oov token.
  std::string sequence_to_text(const std::vector<int32_t>& ids) const;
  std::vector<std::string> sequences_to_texts(const std::vector<std::vector<int32_t>>& sequences) const;

  const std::unordered_map<std::string, int32_t>& word_index() const { return word_index_; }
  const std::map<int32_t, std::string>& index_word() const { return index_word_; }
  const std::unordered_map<std::string, int64_t>& word_counts() const { return counts_; }

 private:
  bool usable(int32_t id) const;
  TokenizerOptions o_;
  std::unordered_map<std::string, int64_t> counts_;
  std::vector<std::string> order_;  // words in order of first appearance
  std::unordered_map<std::string, int32_t> word_index_;
  std::map<int32_t, std::string> index_word_;
};

}  // namespace seqnet::data
