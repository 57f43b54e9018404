// Keras model configs: what model.to_json() writes and keras.models.model_from_json() reads.
// Both Keras 3 ({"module": "keras", "class_name": "Sequential", ...}) and Keras 2 / tf.keras
// ({"class_name": "Sequential", "config": {"layers": [...]}, "keras_version": "2.x"}) are read.
#pragma once
#include <memory>
#include <string>

#include "seqnet/model.h"

namespace seqnet {

std::unique_ptr<Model> model_from_json(const std::string& json_text);
std::unique_ptr<Model> model_from_json_file(const std::string& path);
// One layer from its Keras class name and config (the "config" dict of a layer entry).
LayerPtr layer_from_config(const std::string& class_name, const Json& config);
// A built-in callback from its Keras class name and constructor arguments ({"patience": 3, ...}): EarlyStopping,
// ModelCheckpoint, ReduceLROnPlateau, CSVLogger, TerminateOnNaN. An unknown argument is an error naming it.
CallbackPtr callback_from_config(const std::string& class_name, const Json& arguments);

}  // namespace seqnet
