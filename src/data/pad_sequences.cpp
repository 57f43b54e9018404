// Facts from keras/src/utils/sequence_utils.py: fill with value, cast to dtype, then copy the (truncated)
// sequence to the right end (pre) or the left end (post) of its row.
#include "seqnet/data/pad_sequences.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace seqnet::data {
namespace {

template <typename T>
Tensor pad(const std::vector<std::vector<T>>& sequences, const PadOptions& o) {
  int64_t maxlen = 0;
  if (o.maxlen) {
    if (*o.maxlen < 0) throw Error("pad_sequences: maxlen must be >= 0, got " + std::to_string(*o.maxlen));
    maxlen = *o.maxlen;
  } else {
    for (const auto& s : sequences) maxlen = std::max<int64_t>(maxlen, static_cast<int64_t>(s.size()));
  }
  const int64_t n = static_cast<int64_t>(sequences.size());
  Tensor out({n, maxlen}, o.dtype);
  auto fill_row = [&](auto* row, auto cast) {
    for (int64_t i = 0; i < n; ++i) {
      const auto& s = sequences[static_cast<size_t>(i)];
      auto* r = row + i * maxlen;
      std::fill(r, r + maxlen, cast(o.value));
      const int64_t len = std::min<int64_t>(maxlen, static_cast<int64_t>(s.size()));
      if (len == 0) continue;
      const int64_t from = o.truncating == Side::pre ? static_cast<int64_t>(s.size()) - len : 0;
      const int64_t to = o.padding == Side::pre ? maxlen - len : 0;
      for (int64_t j = 0; j < len; ++j) r[to + j] = cast(static_cast<double>(s[static_cast<size_t>(from + j)]));
    }
  };
  if (o.dtype == DType::int32) {
    fill_row(out.idata(), [](double v) {
      if (!std::isfinite(v)) throw Error("pad_sequences: cannot cast a non-finite value to int32");
      return static_cast<int32_t>(std::trunc(v));
    });
  } else {
    fill_row(out.data(), [](double v) { return static_cast<float>(v); });
  }
  return out;
}

}  // namespace

Tensor pad_sequences(const std::vector<std::vector<int32_t>>& sequences, const PadOptions& options) {
  return pad(sequences, options);
}

Tensor pad_sequences(const std::vector<std::vector<float>>& sequences, const PadOptions& options) {
  return pad(sequences, options);
}

}  // namespace seqnet::data
