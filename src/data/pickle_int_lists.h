// A minimal pickle reader for one thing only: a NumPy object array (as np.save pickles it) whose
// elements are Python lists of ints. Anything else is refused with a message naming what was found.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::data::detail {

// Returns the elements in C order and sets `shape`. `name` and byte offsets appear in errors.
std::vector<std::vector<int64_t>> unpickle_int_list_array(const uint8_t* data, size_t size, const std::string& name,
                                                          Shape& shape);

}  // namespace seqnet::data::detail
