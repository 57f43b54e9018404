// The activations' elementwise kernels behind seqnet::activation_forward / activation_backward
// (seqnet/activations.h says what each computes). Internal header.
#pragma once
#include "kernels/isa.h"
#include "seqnet/activations.h"

SEQNET_KERNELS_BEGIN

// y = act(x) over n values; softmax over rows of `row` values.
void activation_forward(Activation a, const float* x, float* y, long n, long row);
// dx = dy * act'(x) (x may be null when activation_backward_needs_only_output(a)).
void activation_backward(Activation a, const float* x, const float* y, const float* dy, float* dx, long n, long row);

SEQNET_KERNELS_END
