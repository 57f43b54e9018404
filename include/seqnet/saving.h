// Keras model files in and out.
//
//   model.save("best.keras");                 // Keras 3 format: zip of config.json, metadata.json, model.weights.h5
//   auto m = seqnet::load_model("best.keras"); // also .keras files written by Keras 3, and legacy .h5
//   model.save_weights("w.weights.h5");        // Keras 3 weights layout
//   model.load_weights("old.h5");              // also Keras 2 / tf.keras weight files
//
// A saved model holds its compile config, the optimizer state (iteration, learning rate, slots) and,
// in metadata.json, the epochs trained and the shuffling generator, so that
// fit(..., {.epochs = N, .initial_epoch = m->epochs_completed}) continues exactly where training stopped.
// Writes are atomic: a temporary file in the same directory, fsync, rename, fsync of the directory.
// Damaged or unsupported files throw seqnet::Error naming the file, the layer and the weight.
#pragma once
#include <memory>
#include <string>

#include "seqnet/model.h"

namespace seqnet {

// ".keras" writes the Keras 3 format; ".h5" / ".hdf5" the legacy Keras format (model_config + model_weights).
void save_model(Model& model, const std::string& path);
// Reads .keras (Keras 3) and legacy .h5 model files, by their content. With compile, a file that
// holds a compile config comes back compiled, with its optimizer state.
std::unique_ptr<Model> load_model(const std::string& path, bool compile = true);
// ".weights.h5": Keras 3's layout (layers/<layer>/vars/<i>, optimizer/vars/<i>).
void save_weights(Model& model, const std::string& path);
// .weights.h5 (Keras 3) or legacy .h5 (Keras 2 / tf.keras: layer_names / weight_names), by content.
void load_weights(Model& model, const std::string& path);

// In-memory forms, for tests and fuzzing: the bytes of a .keras file.
std::string model_to_keras_bytes(Model& model);
std::unique_ptr<Model> model_from_keras_bytes(const std::string& bytes, bool compile = true, const std::string& what = ".keras data");
std::unique_ptr<Model> model_from_h5_bytes(const std::string& bytes, bool compile = true, const std::string& what = ".h5 data");

// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename, fsync dir).
void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file_bytes(const std::string& path);

}  // namespace seqnet
