// seqnet: Keras-style sequence deep learning in C++. Include this one header for the whole API.
#pragma once
#include "seqnet/activations.h"
#include "seqnet/callbacks.h"
#include "seqnet/history.h"
#include "seqnet/data/csv.h"
#include "seqnet/data/data_dir.h"
#include "seqnet/data/imdb.h"
#include "seqnet/data/mnist.h"
#include "seqnet/data/normalization.h"
#include "seqnet/data/npy.h"
#include "seqnet/data/npz.h"
#include "seqnet/data/numpy_random.h"
#include "seqnet/data/pad_sequences.h"
#include "seqnet/data/series.h"
#include "seqnet/data/timeseries_dataset.h"
#include "seqnet/data/timeseries_generator.h"
#include "seqnet/data/tokenizer.h"
#include "seqnet/data/train_test_split.h"
#include "seqnet/data/weather.h"
#include "seqnet/distributed.h"
#include "seqnet/experiment.h"
#include "seqnet/initializers.h"
#include "seqnet/layer.h"
#include "seqnet/layers/conv.h"
#include "seqnet/layers/core.h"
#include "seqnet/layers/preprocessing.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/losses.h"
#include "seqnet/metrics.h"
#include "seqnet/model.h"
#include "seqnet/optimizers.h"
#include "seqnet/random.h"
#include "seqnet/saving.h"
#include "seqnet/serialization.h"
#include "seqnet/tensor.h"
#include "seqnet/threads.h"

namespace seqnet {
const char* version();
// The instruction-set variant of the kernels that runs: "avx2" or "avx512" in the default build (the widest
// the CPU has, or the one the environment variable SEQNET_KERNELS names), "native" in a -DSEQNET_NATIVE=ON
// build. Every variant computes the same results (docs/portability.md).
const char* kernel_variant();
}
