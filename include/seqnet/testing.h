// Hooks for tests of seqnet itself: not part of the API an application uses (seqnet.h does not include
// this header).
#pragma once
#include <optional>

#include "seqnet/layers/recurrent.h"

namespace seqnet::testing {

// The dropout masks of a recurrent layer's next training forward, instead of drawing them (empty tensors: draw):
// input masks (n, batch, features), recurrent masks (G, batch, units); n = 1, or G when recurrent_dropout > 0.
void set_dropout_masks(RNN& layer, Tensor input_masks, Tensor recurrent_masks);

// seqnet splits work over its threads only for 10x more work while they run on cores far apart (measured every
// 100 ms). A fixed answer instead (nullopt: measure again): the unit tests fix "near", so that the tests of one
// thread against two run the split paths whatever the machine's cores are doing.
void set_cores_far_apart(std::optional<bool> fixed);

}  // namespace seqnet::testing
