#include "seqnet/data/tokenizer.h"

#include <algorithm>
#include <array>

#include "seqnet/tensor.h"

namespace seqnet::data {

const char* const kKerasFilters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";

std::vector<std::string> text_to_word_sequence(std::string_view text, std::string_view filters, bool lower, char split) {
  std::array<bool, 256> is_filter{};
  for (char f : filters) is_filter[static_cast<unsigned char>(f)] = true;
  std::vector<std::string> words;
  std::string word;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (lower && c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (is_filter[c] || static_cast<char>(c) == split) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += static_cast<char>(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

Tokenizer::Tokenizer(TokenizerOptions options) : o_(std::move(options)) {}

void Tokenizer::fit_on_texts(const std::vector<std::string>& texts) {
  for (const auto& t : texts)
    for (auto& w : text_to_word_sequence(t, o_.filters, o_.lower, o_.split)) {
      auto [it, fresh] = counts_.try_emplace(w, 0);
      if (fresh) order_.push_back(w);
      ++it->second;
    }
  std::vector<std::string> sorted = order_;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const std::string& a, const std::string& b) { return counts_.at(a) > counts_.at(b); });
  std::unordered_map<std::string, int32_t> index;
  int32_t next = 1;
  if (o_.oov_token) index[*o_.oov_token] = next++;
  for (const auto& w : sorted)
    if (!index.count(w)) index[w] = next++;
  set_word_index(std::move(index));
}

void Tokenizer::set_word_index(std::unordered_map<std::string, int32_t> word_index) {
  word_index_ = std::move(word_index);
  index_word_.clear();
  for (const auto& [w, i] : word_index_) {
    if (i <= 0) throw Error("Tokenizer: word \"" + w + "\" has id " + std::to_string(i) + "; ids start at 1");
    index_word_[i] = w;
  }
}

bool Tokenizer::usable(int32_t id) const { return !o_.num_words || id < *o_.num_words; }

std::vector<int32_t> Tokenizer::text_to_sequence(std::string_view text) const {
  std::vector<int32_t> ids;
  std::optional<int32_t> oov;
  if (o_.oov_token) {
    auto it = word_index_.find(*o_.oov_token);
    if (it != word_index_.end()) oov = it->second;
  }
  for (const auto& w : text_to_word_sequence(text, o_.filters, o_.lower, o_.split)) {
    auto it = word_index_.find(w);
    if (it != word_index_.end() && usable(it->second)) ids.push_back(it->second);
    else if (oov) ids.push_back(*oov);
  }
  return ids;
}

std::vector<std::vector<int32_t>> Tokenizer::texts_to_sequences(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(text_to_sequence(t));
  return out;
}

std::string Tokenizer::sequence_to_text(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    auto it = index_word_.find(id);
    const std::string* word = nullptr;
    if (it != index_word_.end() && usable(id)) word = &it->second;
    else if (o_.oov_token) word = &*o_.oov_token;
    if (!word) continue;
    if (!out.empty()) out += ' ';
    out += *word;
  }
  return out;
}

std::vector<std::string> Tokenizer::sequences_to_texts(const std::vector<std::vector<int32_t>>& sequences) const {
  std::vector<std::string> out;
  for (const auto& s : sequences) out.push_back(sequence_to_text(s));
  return out;
}

}  // namespace seqnet::data
