// Hooks for tests of seqnet itself: not part of the API an application uses (seqnet.h does not include
// this header).
#pragma once
#include "seqnet/layers/recurrent.h"

namespace seqnet::testing {

// The dropout masks of a recurrent layer's next training forward, instead of drawing them (empty tensors: draw):
// input masks (n, batch, features), recurrent masks (G, batch, units); n = 1, or G when recurrent_dropout > 0.
void set_dropout_masks(RNN& layer, Tensor input_masks, Tensor recurrent_masks);

}  // namespace seqnet::testing
