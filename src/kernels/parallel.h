// Splitting one kernel call over seqnet's threads. Internal header.
#pragma once
#include <algorithm>
#include <omp.h>

#include "kernels/fast_math.h"
#include "seqnet/threads.h"

namespace seqnet::kernels {

// Below this many flops a fork/join costs more than a second core saves: waking a sleeping OpenMP thread
// takes 50-100 us on a VM (futex wake, OMP_WAIT_POLICY=passive), the time of ~10 MFLOP on one core.
constexpr double kParallelFlops = 2e7;

// Calls part(begin, end) on consecutive pieces of [0, n) that start on multiples of `align`, one piece per
// thread of seqnet::num_threads(), when `flops` is worth it and no parallel region is running already
// (inside one, the caller's thread does it all). Kernels split only along axes whose elements are computed
// independently, so their results do not depend on the thread count. The caller's floating-point mode
// (denormal flushing) holds in every piece.
template <typename Part>
void split_range(long n, long align, double flops, Part&& part) {
  int parts = omp_in_parallel() || flops < kParallelFlops ? 1 : num_threads();
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

}  // namespace seqnet::kernels
