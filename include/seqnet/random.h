// A small seeded generator (xoshiro256**) whose streams are identical on every platform,
// so that the same seed gives bitwise-identical weights, shuffles and dropout masks.
#pragma once
#include <cstdint>
#include <vector>

namespace seqnet {

class Rng {
 public:
  explicit Rng(uint64_t seed = 1337);
  // Inline: a dropout mask draws one value per element, and a call per draw would cost more than the draw.
  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  float uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }  // [0, 1)
  float uniform(float low, float high);   // [low, high)
  float normal(float mean = 0.0f, float stddev = 1.0f);
  float truncated_normal(float mean, float stddev);  // redraws beyond two standard deviations, as Keras does
  int64_t randint(int64_t low, int64_t high);        // [low, high)
  std::vector<int64_t> permutation(int64_t n);
  Rng fork();  // an independent stream derived from this one (one per layer, per epoch, ...)

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace seqnet
