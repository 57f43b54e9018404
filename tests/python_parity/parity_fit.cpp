// The C++ half of the Python package's parity test (python/tests/test_keras_api.py): the same model, seed and
// data as the Python side, trained through the C++ API; prints the history with every digit.
//   parity_fit X.npy Y.npy SEED
#include <cstdio>

#include <seqnet/seqnet.h>

using namespace seqnet;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: parity_fit X.npy Y.npy SEED\n");
    return 2;
  }
  try {
    Tensor x = data::read_npy(argv[1]).to_tensor(), y = data::read_npy(argv[2]).to_tensor();
    set_random_seed(std::stoull(argv[3]));
    Sequential model;
    model.add(Input({x.dim(1)}, {.dtype = DType::int32}));
    model.add(layers::Embedding(50, 8));
    model.add(layers::LSTM(4));
    model.add(layers::Dropout(0.25f));
    model.add(layers::Dense(1, {.activation = "sigmoid"}));
    model.compile({.optimizer = optimizers::RMSprop({.learning_rate = 1e-2f}), .loss = "binary_crossentropy",
                   .metrics = {"acc"}});
    History h = model.fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .validation_split = 0.25f});
    for (const auto& [key, values] : h.history) {
      std::printf("%s", key.c_str());
      for (double v : values) std::printf(" %.17g", v);
      std::printf("\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parity_fit: %s\n", e.what());
    return 1;
  }
  return 0;
}
