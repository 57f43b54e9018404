// Loading the committed Keras fixtures (tests/fixtures/*.json).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "seqnet/tensor.h"

namespace seqnet::testing {

// Parses tests/fixtures/<name>; fails the calling test with a clear message when it is missing.
nlohmann::json load_fixture(const std::string& name);
// A float tensor from a (possibly nested) JSON list of numbers, with the given shape.
Tensor tensor_from_json(const nlohmann::json& values, const Shape& shape);
Tensor tensor_from_json(const nlohmann::json& values);  // shape inferred from the nesting

}  // namespace seqnet::testing
