#include "seqnet/data/sequence_tasks.h"

#include <algorithm>
#include <fmt/format.h>
#include <set>
#include <utility>

#include "seqnet/random.h"

namespace seqnet::data {

namespace {
void one_hot(Tensor& t, int64_t sample, const std::string& text, const std::string& symbols) {
  const int64_t steps = t.dim(1), k = t.dim(2);
  for (int64_t s = 0; s < steps; ++s) {
    const auto pos = symbols.find(text[size_t(s)]);
    t[(sample * steps + s) * k + int64_t(pos)] = 1.0f;
  }
}
}  // namespace

SequenceTask addition_problems(int64_t n, int digits, uint64_t seed, bool reverse_question) {
  if (digits < 1 || digits > 9) throw Error(fmt::format("addition_problems: digits must be in 1..9, got {}", digits));
  // Pairs distinct up to order: 1..digits-digit numbers give (10^digits)^2 / 2 of them at most.
  int64_t limit = 1;
  for (int i = 0; i < digits; ++i) limit *= 10;
  if (n <= 0 || n > limit * (limit + 1) / 2 - 1)
    throw Error(fmt::format("addition_problems: {} distinct problems of {} digits do not exist", n, digits));
  const int in_len = 2 * digits + 1, out_len = digits + 1;
  SequenceTask t{Tensor({n, in_len, 12}), Tensor({n, out_len, 12}), "0123456789+ "};
  Rng rng(seed);
  // A number of 1..digits digits, each digit uniform (Keras's example draws the length first, then the digits).
  auto number = [&] {
    const int64_t len = rng.randint(1, digits + 1);
    int64_t v = 0;
    for (int64_t i = 0; i < len; ++i) v = v * 10 + rng.randint(0, 10);
    return v;
  };
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t i = 0; i < n;) {
    int64_t a = number(), b = number();
    if (!seen.insert({std::min(a, b), std::max(a, b)}).second) continue;
    std::string q = fmt::format("{}+{}", a, b);
    q.resize(size_t(in_len), ' ');
    if (reverse_question) std::reverse(q.begin(), q.end());
    std::string ans = std::to_string(a + b);
    ans.resize(size_t(out_len), ' ');
    one_hot(t.x, i, q, t.symbols);
    one_hot(t.y, i, ans, t.symbols);
    ++i;
  }
  return t;
}

SequenceTask reversal_problems(int64_t n, int length, uint64_t seed) {
  if (length < 1) throw Error(fmt::format("reversal_problems: length must be positive, got {}", length));
  if (n <= 0) throw Error(fmt::format("reversal_problems: n must be positive, got {}", n));
  SequenceTask t{Tensor({n, length, 10}), Tensor({n, length, 10}), "0123456789"};
  Rng rng(seed);
  std::string s(size_t(length), '0');
  for (int64_t i = 0; i < n; ++i) {
    for (auto& c : s) c = char('0' + rng.randint(0, 10));
    one_hot(t.x, i, s, t.symbols);
    one_hot(t.y, i, std::string(s.rbegin(), s.rend()), t.symbols);
  }
  return t;
}

std::string decode_sequence(const Tensor& p, int64_t sample, const std::string& symbols) {
  const int64_t steps = p.dim(1), k = p.dim(2);
  std::string out;
  for (int64_t s = 0; s < steps; ++s) {
    const float* row = p.data() + (sample * steps + s) * k;
    out += symbols.at(size_t(std::max_element(row, row + k) - row));
  }
  return out;
}

double exact_match(const Tensor& pred, const Tensor& y) {
  if (pred.shape() != y.shape() || pred.rank() != 3)
    throw Error(fmt::format("exact_match: predictions {} and targets {} must be (samples, steps, symbols) alike",
                            pred.shape_string(), y.shape_string()));
  const int64_t n = pred.dim(0), steps = pred.dim(1), k = pred.dim(2);
  int64_t right = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool all = true;
    for (int64_t s = 0; s < steps && all; ++s) {
      const float* p = pred.data() + (i * steps + s) * k;
      const float* t = y.data() + (i * steps + s) * k;
      all = std::max_element(p, p + k) - p == std::max_element(t, t + k) - t;
    }
    right += all;
  }
  return n ? double(right) / double(n) : 0.0;
}

}  // namespace seqnet::data
