// MT19937 (Matsumoto & Nishimura 1998) with the init_genrand seeding and the masked rejection sampling
// that numpy's legacy RandomState uses for shuffle and randint.
#include "seqnet/data/numpy_random.h"

#include <numeric>
#include <string>

#include "seqnet/tensor.h"

namespace seqnet::data {

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  mt_[0] = seed;
  for (uint32_t i = 1; i < 624; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + i;
  pos_ = 624;
}

uint32_t NumpyRandomState::next_uint32() {
  constexpr uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
  if (pos_ >= 624) {
    for (int i = 0; i < 624; ++i) {
      uint32_t y = (mt_[i] & upper) | (mt_[(i + 1) % 624] & lower);
      mt_[i] = mt_[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    pos_ = 0;
  }
  uint32_t y = mt_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t NumpyRandomState::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  for (int shift = 1; shift <= 32; shift *= 2) mask |= mask >> shift;
  uint64_t value;
  if (max <= 0xffffffffull) {
    while ((value = (next_uint32() & mask)) > max) {
    }
  } else {
    // numpy's next_uint64 for MT19937: two 32-bit draws, the first one high.
    auto next64 = [this] {
      uint64_t hi = next_uint32();
      return (hi << 32) | next_uint32();
    };
    while ((value = (next64() & mask)) > max) {
    }
  }
  return value;
}

int64_t NumpyRandomState::randint(int64_t low, int64_t high) {
  if (high <= low)
    throw Error("randint: need low < high, got [" + std::to_string(low) + ", " + std::to_string(high) + ")");
  return low + static_cast<int64_t>(interval(static_cast<uint64_t>(high - low - 1)));
}

std::vector<int64_t> NumpyRandomState::permutation(int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  shuffle(p);
  return p;
}

}  // namespace seqnet::data
