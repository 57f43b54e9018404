// seqnet: Keras-style sequence deep learning in C++. Include this one header for the whole API.
#pragma once
#include "seqnet/activations.h"
#include "seqnet/callbacks.h"
#include "seqnet/initializers.h"
#include "seqnet/layer.h"
#include "seqnet/layers/core.h"
#include "seqnet/losses.h"
#include "seqnet/metrics.h"
#include "seqnet/model.h"
#include "seqnet/optimizers.h"
#include "seqnet/random.h"
#include "seqnet/serialization.h"
#include "seqnet/tensor.h"
#include "seqnet/threads.h"

namespace seqnet {
const char* version();
}
