// Loading the committed Keras fixtures (tests/fixtures/*.json), and the small helpers every test file wants.
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "seqnet/tensor.h"

namespace seqnet::testing {

// Parses tests/fixtures/<name>; fails the calling test with a clear message when it is missing.
nlohmann::json load_fixture(const std::string& name);
// A float tensor from a (possibly nested) JSON list of numbers, with the given shape.
Tensor tensor_from_json(const nlohmann::json& values, const Shape& shape);
Tensor tensor_from_json(const nlohmann::json& values);  // shape inferred from the nesting

// The message of the seqnet::Error that f throws, or "(no error)".
std::string error_of(const std::function<void()>& f);
// A fresh, empty folder of this process under the system's temporary folder: seqnet_<tag>_<pid>.
std::filesystem::path temp_dir(const std::string& tag);

}  // namespace seqnet::testing
