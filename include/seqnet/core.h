// seqnet::core: tensors, layers, models, losses, optimizers, callbacks and Keras JSON configs, on OpenBLAS and
// OpenMP alone. Include this header and link seqnet::core (find_package(seqnet COMPONENTS core)) for an
// application that builds and trains models in code. Keras files (.keras, .h5: Model::save, load_model), NumPy
// and CSV files, the data sets, plots, experiments, ModelCheckpoint / CSVLogger and MPI need the full library,
// seqnet::seqnet, and seqnet/seqnet.h.
#pragma once
#include "seqnet/activations.h"
#include "seqnet/callbacks.h"
#include "seqnet/console.h"
#include "seqnet/distributed.h"
#include "seqnet/history.h"
#include "seqnet/initializers.h"
#include "seqnet/layer.h"
#include "seqnet/layers/conv.h"
#include "seqnet/layers/core.h"
#include "seqnet/layers/dot.h"
#include "seqnet/layers/layer_normalization.h"
#include "seqnet/layers/merge.h"
#include "seqnet/layers/preprocessing.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/layers/regularization.h"
#include "seqnet/layers/reshaping.h"
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
// The instruction-set variant of the kernels that runs: "avx2" or "avx512" in the default build (the widest
// the CPU has, or the one the environment variable SEQNET_KERNELS names), "native" in a -DSEQNET_NATIVE=ON
// build. Every variant computes the same results (docs/portability.md).
const char* kernel_variant();
}  // namespace seqnet
