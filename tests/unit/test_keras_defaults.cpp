// Every key a Keras config leaves out takes Keras's default: each layer read from only its required arguments
// writes the same config as Keras 3 does for them (tests/fixtures/make_layer_defaults.py made the fixture).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "seqnet/seqnet.h"

using namespace seqnet;

namespace {

// Keys a newer Keras writes that seqnet leaves out on purpose, so that older Keras 3 releases still read its
// files: left out, they take exactly these values.
bool left_out_as_default(const std::string& key, const Json& keras) {
  static const Json defaults = {{"quantization_config", nullptr},  // Dense, Embedding (Keras 3.10+)
                                {"input_axes", nullptr},           // GlorotUniform and friends (Keras 3.13+)
                                {"output_axes", nullptr},
                                {"data_format", "channels_last"}};  // Flatten
  return defaults.contains(key) && defaults[key] == keras;
}

// Keras writes its dtype policy and initializers as objects with "module" / "registered_name"; seqnet may write
// the same values in the shorter forms Keras also reads. Numbers compare as float32.
bool same(const Json& keras, const Json& ours, const std::string& key) {
  if (key == "dtype") return true;  // float32 in both, written as a policy object or a name
  if (keras.is_object() && ours.is_object()) {
    for (const auto& [k, v] : keras.items()) {
      if (k == "module" || k == "registered_name" || k == "name") continue;
      if (!ours.contains(k)) {
        if (!left_out_as_default(k, v)) return false;
        continue;
      }
      if (!same(v, ours[k], k)) return false;
    }
    return true;
  }
  if (keras.is_number() && ours.is_number()) return float(keras.get<double>()) == float(ours.get<double>());
  if (keras.is_array() && ours.is_array()) {
    if (keras.size() != ours.size()) return false;
    for (size_t i = 0; i < keras.size(); ++i)
      if (!same(keras[i], ours[i], key)) return false;
    return true;
  }
  return keras == ours;
}

}  // namespace

TEST(KerasDefaults, EveryMissingKeyTakesKerasDefault) {
  std::ifstream in(std::string(SEQNET_FIXTURE_DIR) + "/keras_layer_defaults.json");
  const Json fixture = Json::parse(in);
  for (const auto& [cls, entry] : fixture["layers"].items()) {
    SCOPED_TRACE(cls);
    Json args = entry["args"];
    args["name"] = "l";
    const Json ours = layer_from_config(cls, args)->get_config();
    for (const auto& [key, value] : entry["config"].items()) {
      if (key == "name") continue;
      if (!ours.contains(key)) {
        EXPECT_TRUE(left_out_as_default(key, value)) << cls << ": seqnet writes no '" << key << "' (Keras: " << value.dump() << ")";
        continue;
      }
      EXPECT_TRUE(same(value, ours[key], key)) << cls << "." << key << ": Keras " << value.dump() << ", seqnet "
                                               << ours[key].dump();
    }
  }
}
