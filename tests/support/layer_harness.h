// One harness for every layer in the registry (after ggml's test-backend-ops and Keras's run_layer_test):
// a case is a class name, a Keras config and an input shape; check_layer_case builds the layer from the
// config the way a model file does and checks, in order:
//   config    get_config -> layer_from_config -> get_config is the same JSON (Keras's round trip), and
//             the config's own keys survive it;
//   shapes    the output has the shape build() promised (the batch axis aside);
//   gradients the hand-written backward against central finite differences, input and every trainable weight;
//   reference forward and backward on the reference backend (src/backend: plain loops) against the CPU backend,
//             to the rounding of reordered sums;
//   threads   forward and backward on a batch big enough to be split, 1 thread against 2: bitwise equal
//             outputs, input gradients and weight gradients.
// A layer added to the registry fails LayerHarness.EveryRegisteredLayerHasCases until it has cases here.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gradcheck.h"
#include "seqnet/layer.h"

namespace seqnet::testing {

struct LayerCase {
  std::string class_name;
  Json config;                    // the layer's Keras config ("name" is added when missing)
  Shape input;                    // a concrete input shape, batch first
  bool int_ids = false;           // input of int32 ids in [0, id_limit) (Embedding)
  int32_t id_limit = 10;
  bool masked = false;            // pass a (batch, time) mask with padding at the end of some sequences
  GradCheckOptions grad = {};     // training, tolerances, check_input (set from int_ids)
  // Inputs of another kind than uniform in [-1, 1) (values away from an activation's kink, say).
  std::function<Tensor(const Shape& shape, uint64_t seed)> make_input;
  int64_t threads_batch = 256;    // the batch of the threads check, big enough to be split (0: skip it)
  // More inputs after `input` (merge layers, a recurrent layer's initial states): the layer is built and called on
  // the list, every output gets a gradient, and the gradients of every input and weight are checked.
  std::vector<Shape> extra_inputs;
  std::string label() const;      // "LSTM {"return_sequences":true}" for failure messages
};

void check_layer_case(const LayerCase& c);

}  // namespace seqnet::testing
