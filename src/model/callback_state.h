// Tensors in a callback's saved state (Callback::save_state): shape and values as JSON, whose doubles give
// every float back exactly. Internal header.
#pragma once
#include <vector>

#include "seqnet/layer.h"
#include "seqnet/tensor.h"

namespace seqnet {

Json tensors_to_json(const std::vector<Tensor>& tensors);
std::vector<Tensor> tensors_from_json(const Json& j);

}  // namespace seqnet
