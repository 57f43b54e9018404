// Splitting one kernel call over seqnet's threads. Internal header.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <omp.h>

#include "kernels/fast_math.h"
#include "seqnet/threads.h"

namespace seqnet::kernels {
// Whether seqnet's threads now run on cores that share no cache (threads.cpp): then every value one thread
// wrote and another reads crosses between them at several times the cost, and a split pays only for 10x more
// work. Whatever the answer, results are the same: it only decides how work is split.
bool cores_far_apart();
}  // namespace seqnet::kernels

SEQNET_KERNELS_BEGIN

// Below this many flops a fork/join costs more than a second core saves. Measured on a 2-vCPU VM: with
// libgomp's default wait policy (idle threads spin a while, then sleep) a fork/join takes 1 us right after
// another and 3-5 us after 1-5 ms idle, the time of ~1 MFLOP on one core; with OMP_WAIT_POLICY=passive
// (threads sleep at once) 55-200 us, a futex wake on a VM, the time of ~10 MFLOP. On cores far apart, 10x
// (the notes' LSTM(8) took 0.45 ms a training step on one thread and 0.86 ms on two).
// Whether `flops` of work are worth splitting over the threads. The cores' distance is asked only of work past
// the first threshold (it reads the clock; the recurrent step's small products never get that far).
inline bool worth_splitting(double flops) {
  static const double threshold = [] {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    const bool passive = policy && (std::string_view(policy) == "passive" || std::string_view(policy) == "PASSIVE");
    return passive ? 2e7 : 3e6;
  }();
  return flops >= threshold && (flops >= 10.0 * threshold || !cores_far_apart());
}

// Calls part(begin, end) on consecutive pieces of [0, n) that start on multiples of `align`, one piece per
// thread of seqnet::num_threads(), when `flops` is worth it and no parallel region encloses the call (inside
// one, the caller's thread does it all; also inside a region that an `if` clause left to one thread, where
// a split would start a nested team of new threads: that cost I's training step 0.6 -> 3.9 ms). Kernels
// split only along axes whose elements are computed independently, so their results do not depend on the
// thread count. The caller's floating-point mode (denormal flushing) holds in every piece.
template <typename Part>
void split_range(long n, long align, double flops, Part&& part) {
  int parts = omp_get_level() > 0 || num_threads() < 2 || !worth_splitting(flops) ? 1 : num_threads();
  parts = int(std::min<long>(parts, n / align));
  if (parts <= 1) {
    part(0L, n);
    return;
  }
  // Rounded up twice (to a whole share, then to the alignment), so that the parts cover all of [0, n).
  const long per_part = ((n + parts - 1) / parts + align - 1) / align * align;
  const FloatMode mode;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    FloatMode::Scope same_mode(mode);
    const long begin = p * per_part, end = std::min(n, begin + per_part);
    if (begin < end) part(begin, end);
  }
}

SEQNET_KERNELS_END
