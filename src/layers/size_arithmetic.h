// Sizes computed from a layer's options and its input's declared shape. A config can ask for sizes whose sum
// or product is past int64 (units 2^62, padding 2^63 - 1, an Input of 2^62 steps upsampled), and signed
// overflow is undefined behaviour; these make it an error naming the layer. Tensor refuses the sizes that fit in
// int64 but not in memory.
#pragma once
#include <cstdint>
#include <fmt/format.h>

#include "seqnet/layer.h"

namespace seqnet {

inline int64_t size_sum(const Layer& layer, int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out))
    throw Error(fmt::format("{}: the size {} + {} is past int64", layer.where(), a, b));
  return out;
}

inline int64_t size_product(const Layer& layer, int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out))
    throw Error(fmt::format("{}: the size {} x {} is past int64", layer.where(), a, b));
  return out;
}

}  // namespace seqnet
