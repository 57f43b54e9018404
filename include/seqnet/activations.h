// Activation functions by Keras name: linear, relu, sigmoid, tanh, softmax, swish / silu, gelu, elu,
// selu, softplus, softsign, hard_sigmoid (Keras 3: relu6(x + 3) / 6, i.e. x/6 + 0.5 clipped to [0, 1]),
// exponential.
#pragma once
#include <string>

namespace seqnet {

enum class Activation { linear, relu, sigmoid, tanh, softmax, silu, gelu, elu, selu, softplus, softsign, hard_sigmoid, exponential };

Activation activation_from_name(const std::string& name);  // throws seqnet::Error on an unknown name
const char* activation_name(Activation a);                   // the Keras 3 name ("silu" for swish)

// y = act(x) elementwise over n values; softmax acts on rows of `row` values.
void activation_forward(Activation a, const float* x, float* y, long n, long row);
// dx = dy * act'(x) (overwrites dx). x is the input, y the output of the forward pass.
void activation_backward(Activation a, const float* x, const float* y, const float* dy, float* dx, long n, long row);
// True when the backward pass needs only the output y (then x may be null).
bool activation_backward_needs_only_output(Activation a);

}  // namespace seqnet
