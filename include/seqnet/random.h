// A small seeded generator (xoshiro256**) whose streams are identical on every platform,
// so that the same seed gives bitwise-identical weights, shuffles and dropout masks.
#pragma once
#include <cstdint>
#include <vector>

namespace seqnet {

class Rng {
 public:
  explicit Rng(uint64_t seed = 1337);
  uint64_t next_u64();
  float uniform();                        // [0, 1)
  float uniform(float low, float high);   // [low, high)
  float normal(float mean = 0.0f, float stddev = 1.0f);
  float truncated_normal(float mean, float stddev);  // redraws beyond two standard deviations, as Keras does
  int64_t randint(int64_t low, int64_t high);        // [low, high)
  std::vector<int64_t> permutation(int64_t n);
  Rng fork();  // an independent stream derived from this one (one per layer, per epoch, ...)

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace seqnet
