// pad_sequences: ragged lists of ids (or values) to one (n, maxlen) tensor, as keras.utils.pad_sequences.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::data {

enum class Side { pre, post };

struct PadOptions {
  std::optional<int64_t> maxlen;  // none: the longest sequence
  DType dtype = DType::int32;     // with int32, a float `value` is truncated toward zero, as numpy's cast
  Side padding = Side::pre;       // pre: right-align, fill on the left
  Side truncating = Side::pre;    // pre: keep the last maxlen items
  float value = 0.0f;
};

// Result shape (n, maxlen); empty sequences stay all `value`.
Tensor pad_sequences(const std::vector<std::vector<int32_t>>& sequences, const PadOptions& options = {});
Tensor pad_sequences(const std::vector<std::vector<float>>& sequences, const PadOptions& options = {});

}  // namespace seqnet::data
