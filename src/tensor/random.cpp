#include "seqnet/random.h"

#include <cmath>
#include <numeric>

namespace seqnet {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

float Rng::uniform(float low, float high) { return low + (high - low) * uniform(); }

float Rng::normal(float mean, float stddev) {
  // Box-Muller in double precision, written out so that no standard-library distribution
  // (whose algorithm differs between implementations) decides the stream.
  if (has_spare_) {
    has_spare_ = false;
    return mean + stddev * static_cast<float>(spare_);
  }
  double u1, u2;
  do {
    u1 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
  } while (u1 <= 0.0);
  u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return mean + stddev * static_cast<float>(r * std::cos(theta));
}

float Rng::truncated_normal(float mean, float stddev) {
  for (;;) {
    float z = normal();
    if (std::fabs(z) <= 2.0f) return mean + stddev * z;
  }
}

int64_t Rng::randint(int64_t low, int64_t high) {
  uint64_t span = static_cast<uint64_t>(high - low);
  if (span == 0) return low;
  // Rejection sampling: no modulo bias.
  uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  uint64_t r;
  do {
    r = next_u64();
  } while (r >= limit);
  return low + static_cast<int64_t>(r % span);
}

std::vector<int64_t> Rng::permutation(int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(randint(0, i + 1))]);
  return p;
}

Rng Rng::fork() { return Rng(next_u64()); }

}  // namespace seqnet
