// Keras config values shared by every layer's get_config / from_config:
// initializers, activations and shapes in the forms Keras 3 and Keras 2 write them.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "seqnet/initializers.h"
#include "seqnet/tensor.h"

namespace seqnet::config {

using Json = nlohmann::json;

// Keras 3: {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {...}, "registered_name": null}
Json initializer_to_json(const Initializer& init);
// Accepts the Keras 3 and Keras 2 dict forms and plain strings ("glorot_uniform", "Zeros").
Initializer initializer_from_json(const Json& j);
// Keras 2 writes null for an unknown size; we use -1.
Json shape_to_json(const Shape& shape);
Shape shape_from_json(const Json& j);
// Keras 3's dtype policy object.
Json dtype_policy_json();
// What a compile config gives each output of a model: a list in the order of `outputs`, or a dict by output name
// (every output once, no other key). Anything else is an error starting with `where` ("compile.loss").
std::vector<Json> entries_per_output(const Json& j, const std::vector<std::string>& outputs, const std::string& where);

}  // namespace seqnet::config
