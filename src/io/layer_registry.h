// Reading a layer's Keras config: the helpers every layer's from_config uses, and the registry
// that maps Keras class names to them. A new layer adds one line to kLayerFactories.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/config_values.h"
#include "io/json_numbers.h"
#include "seqnet/layer.h"

namespace seqnet::config {

// "layer 'lstm_1': config key 'units'": where an error in a layer's config is.
inline std::string config_key(const Json& c, const char* key) {
  return "layer '" + c.value("name", std::string("?")) + "': config key '" + key + "'";
}
// config[key] as an integer: an error names the layer and the key when it is missing or not a whole number.
inline int64_t required_int(const Json& c, const char* key) {
  auto it = c.find(key);
  if (it == c.end()) throw Error(config_key(c, key) + " is missing");
  return whole_number_at<int64_t>(*it, config_key(c, key));
}

// Reads config[key] as T, with Keras's default when the key is missing or null; a wrongly typed value
// is an error naming the layer and the key.
template <typename T>
T get(const Json& c, const char* key, T fallback) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) return whole_number_at<T>(*it, config_key(c, key));
  try {
    return it->get<T>();
  } catch (const std::exception&) {
    throw Error(config_key(c, key) + " has the wrong type: " + it->dump());
  }
}
// Keras 3 writes tuples such as kernel_size [7]; Keras 2 may write 7.
int64_t get_int_or_first(const Json& c, const char* key, int64_t fallback);
std::string activation_of(const Json& c, const char* key = "activation");
// Refuses options seqnet does not implement instead of silently ignoring them.
void reject_if_set(const Json& c, const char* key, const char* why);
// Applies name, trainable and Keras 2's batch_input_shape / input_shape to a freshly made layer.
void apply_common(Layer& layer, const Json& c);

// The Keras class names kLayerFactories knows (aliases such as MaxPool1D included), in its order: what the
// layer harness (tests/support/layer_harness.h) enumerates.
std::vector<std::string> registered_layer_classes();

using LayerFactory = LayerPtr (*)(const Json& config);
struct LayerFactoryEntry {
  const char* class_name;
  LayerFactory make;
};

// Readers defined beside their layers (src/layers/*.cpp), listed in kLayerFactories (keras_json.cpp).

// src/layers/conv1d.cpp, src/layers/pooling.cpp
LayerPtr conv1d_from_config(const Json& c);
LayerPtr max_pooling1d_from_config(const Json& c);
LayerPtr average_pooling1d_from_config(const Json& c);
LayerPtr global_max_pooling1d_from_config(const Json& c);
LayerPtr global_average_pooling1d_from_config(const Json& c);
// src/layers/rnn.cpp, src/layers/rnn_wrappers.cpp
LayerPtr simple_rnn_from_config(const Json& c);
LayerPtr lstm_from_config(const Json& c);
LayerPtr gru_from_config(const Json& c);
LayerPtr bidirectional_from_config(const Json& c);      // {"layer": {...}, "backward_layer": {...}, "merge_mode"}
LayerPtr time_distributed_from_config(const Json& c);   // {"layer": {...}}
// src/layers/masking.cpp
LayerPtr masking_from_config(const Json& c);            // {"mask_value": number}
// src/layers/normalization.cpp
LayerPtr normalization_from_config(const Json& c);      // {"axis": [-1], "mean", "variance", "invert"}
// src/layers/merge.cpp
LayerPtr add_from_config(const Json& c);
LayerPtr subtract_from_config(const Json& c);
LayerPtr multiply_from_config(const Json& c);
LayerPtr average_from_config(const Json& c);
LayerPtr maximum_from_config(const Json& c);
LayerPtr minimum_from_config(const Json& c);
LayerPtr concatenate_from_config(const Json& c);   // {"axis": -1}
LayerPtr repeat_vector_from_config(const Json& c); // {"n": int}
// src/layers/reshaping.cpp
LayerPtr permute_from_config(const Json& c);         // {"dims": [int, ...]} (1-based)
LayerPtr cropping1d_from_config(const Json& c);      // {"cropping": int | [int, int]}
LayerPtr zero_padding1d_from_config(const Json& c);  // {"padding": int | [int, int], "data_format"}
LayerPtr up_sampling1d_from_config(const Json& c);   // {"size": int}
// src/layers/regularization.cpp
LayerPtr spatial_dropout1d_from_config(const Json& c);  // {"rate", "seed"}
LayerPtr gaussian_noise_from_config(const Json& c);     // {"stddev", "seed"}
// src/layers/layer_normalization.cpp
LayerPtr layer_normalization_from_config(const Json& c);  // {"axis": -1 | [-1], "epsilon", "center", "scale", ...}
// src/layers/dot.cpp
LayerPtr dot_from_config(const Json& c);  // {"axes": int | [int, int], "normalize"}
// data_format other than channels_last is an error naming the layer (conv and pooling readers).
void reject_channels_first(const Json& c, const char* class_name);

}  // namespace seqnet::config
