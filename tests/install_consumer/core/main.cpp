// Trains an LSTM through seqnet/core.h and seqnet::core alone; exits 0 when it learned.
#include <cstdio>
#include <seqnet/core.h>

int main() {
  using namespace seqnet;
  set_random_seed(1);
  // The sum of a sequence of 6 steps, a task an LSTM(8) learns in a few epochs.
  Sequential model;
  model.add(layers::LSTM(8, {.input_shape = Shape{6, 1}}));
  model.add(layers::Dense(1));
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.02f}), .loss = "mse"});
  Tensor x({128, 6, 1}), y({128, 1});
  Rng rng(2);
  for (int i = 0; i < 128; ++i) {
    float s = 0;
    for (int t = 0; t < 6; ++t) s += x[i * 6 + t] = rng.uniform(-1, 1);
    y[i] = s;
  }
  History h = model.fit(x, y, {.batch_size = 16, .epochs = 30, .verbose = 0});
  std::printf("seqnet %s core: LSTM loss %.4f -> %.4f\n", version(), h["loss"].front(), h["loss"].back());
  return h["loss"].back() < 0.2 * h["loss"].front() ? 0 : 1;
}
