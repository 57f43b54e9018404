// Trains a tiny model through the installed headers and library; exits 0 when it learned.
#include <cstdio>
#include <seqnet/seqnet.h>

int main() {
  using namespace seqnet;
  set_random_seed(1);
  Sequential model;
  model.add(layers::Dense(8, {.activation = "tanh", .input_shape = Shape{2}}));
  model.add(layers::Dense(1));
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.05f}), .loss = "mse"});
  Tensor x({64, 2}), y({64, 1});
  Rng rng(2);
  for (int i = 0; i < 64; ++i) {
    x[2 * i] = rng.uniform(-1, 1);
    x[2 * i + 1] = rng.uniform(-1, 1);
    y[i] = x[2 * i] - 0.5f * x[2 * i + 1];
  }
  History h = model.fit(x, y, {.batch_size = 16, .epochs = 40, .verbose = 0});
  std::printf("seqnet %s: loss %.4f -> %.4f\n", version(), h["loss"].front(), h["loss"].back());
  return h["loss"].back() < 0.1 * h["loss"].front() ? 0 : 1;
}
