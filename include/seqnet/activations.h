// Activation functions by Keras name: linear, relu, sigmoid, tanh, softmax, swish / silu, gelu, elu,
// selu, softplus, softsign, hard_sigmoid (Keras 3: relu6(x + 3) / 6, i.e. x/6 + 0.5 clipped to [0, 1]),
// exponential; and hard_sigmoid_keras2 (Keras 1/2's hard_sigmoid, 0.2x + 0.5 clipped to [0, 1]), which
// the Keras JSON reader picks for "hard_sigmoid" in configs written by Keras 2 (docs/layers.md).
#pragma once
#include <string>

namespace seqnet {

enum class Activation { linear, relu, sigmoid, tanh, softmax, silu, gelu, elu, selu, softplus, softsign, hard_sigmoid, exponential,
                        hard_sigmoid_keras2 };

Activation activation_from_name(const std::string& name);  // throws seqnet::Error on an unknown name
const char* activation_name(Activation a);                   // the Keras 3 name ("silu" for swish)
// hard_sigmoid_keras2 is named "hard_sigmoid_keras2": Keras 3 has no such activation, and writing
// "hard_sigmoid" would silently turn it into Keras 3's x/6 + 0.5 when the config is read back.

// y = act(x) elementwise over n values; softmax acts on rows of `row` values.
void activation_forward(Activation a, const float* x, float* y, long n, long row);
// dx = dy * act'(x) (overwrites dx). x is the input, y the output of the forward pass.
void activation_backward(Activation a, const float* x, const float* y, const float* dy, float* dx, long n, long row);
// True when the backward pass needs only the output y (then x may be null).
bool activation_backward_needs_only_output(Activation a);

}  // namespace seqnet
