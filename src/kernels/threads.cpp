#include "seqnet/threads.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <omp.h>

#include "kernels/parallel.h"
#include "seqnet/testing.h"

#ifdef SEQNET_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace seqnet {

namespace {
int& current() {
  static int n = [] {
    int value = omp_get_num_procs();
    if (const char* env = std::getenv("SEQNET_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) value = v;
    }
    omp_set_num_threads(value);
#ifdef SEQNET_HAVE_OPENBLAS
    // The BLAS stays on one thread; kernels::gemm splits large products over seqnet's OpenMP threads.
    // OpenBLAS's own pool would spin for ~0.1 s after every call (its THREAD_TIMEOUT), on the very cores
    // the recurrent shards and the Bidirectional directions run on next.
    openblas_set_num_threads(1);
#endif
    return value;
  }();
  return n;
}
}  // namespace

void set_num_threads(int n) {
  if (n < 1) n = 1;
  current() = n;
  omp_set_num_threads(n);
}

int num_threads() { return current(); }

namespace kernels {

namespace {
void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Nanoseconds for a cache line to go from one of seqnet's threads to another and back, measured by handing a
// counter to and fro; 0 when no second thread came. A thread that is not running (both on one vCPU until the
// scheduler moves one, which takes up to ~100 ms after a team starts, or the other vCPU busy elsewhere) makes
// every trip wait for a time slice: the measurement gives up after kGiveUpNs and answers that long. The call
// still ends at the region's barrier, when the partner next runs: one time slice instead of one per trip.
double cross_core_round_trip_ns() {
  constexpr int kTrips = 32;
  constexpr int64_t kGiveUpNs = 200'000;
  constexpr int kAbandoned = -2;
  struct alignas(64) Line {
    std::atomic<int> turn{0};
  } line;
  double ns = 0.0;
  const auto start = std::chrono::steady_clock::now();
  auto waited_too_long = [&] {
    return std::chrono::steady_clock::now() - start > std::chrono::nanoseconds(kGiveUpNs);
  };
#pragma omp parallel num_threads(2)
  {
    if (omp_get_num_threads() == 2) {
      if (omp_get_thread_num() == 1) {
        // Every move of this thread is a compare-exchange, so that it never overwrites an abandonment.
        int expected = 0;
        bool going = line.turn.compare_exchange_strong(expected, -1, std::memory_order_acq_rel);  // arrived
        for (int i = 0; i < kTrips && going; ++i) {
          int turn;
          while ((turn = line.turn.load(std::memory_order_acquire)) != 2 * i + 1 && turn != kAbandoned) relax();
          expected = 2 * i + 1;
          going = turn != kAbandoned &&
                  line.turn.compare_exchange_strong(expected, 2 * i + 2, std::memory_order_acq_rel);
        }
      } else {
        // The clock is read once every 256 spins: it costs about as much as a trip.
        auto wait_for = [&](int want) {
          for (unsigned spins = 1; line.turn.load(std::memory_order_acquire) != want; ++spins) {
            relax();
            if (spins % 256 == 0 && waited_too_long()) return false;
          }
          return true;
        };
        bool done = wait_for(-1);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < kTrips && done; ++i) {
          line.turn.store(2 * i + 1, std::memory_order_release);
          done = wait_for(2 * i + 2);
        }
        if (done) {
          ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kTrips;
        } else {
          line.turn.exchange(kAbandoned, std::memory_order_acq_rel);
          ns = double(kGiveUpNs);
        }
      }
    }
  }
  return ns;
}

std::atomic<int> fixed_answer{-1};  // -1: measure; 0, 1: testing::set_cores_far_apart
}  // namespace

bool cores_far_apart() {
  if (const int fixed = fixed_answer.load(std::memory_order_relaxed); fixed >= 0) return fixed == 1;
  // A KVM guest's two vCPUs sit sometimes on cores that share a cache (a round trip of ~50 ns), sometimes on
  // cores that do not (~400 ns); the hypervisor moves them within minutes. Measured again every 100 ms (a few
  // microseconds), outside any parallel region.
  constexpr int64_t kRecheckNs = 100'000'000;
  constexpr double kFarNs = 200.0;
  static std::atomic<int64_t> checked_at{INT64_MIN / 2};
  static std::atomic<bool> far{false};
  if (num_threads() < 2 || omp_get_level() > 0) return far.load(std::memory_order_relaxed);
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now - checked_at.load(std::memory_order_relaxed) < kRecheckNs) return far.load(std::memory_order_relaxed);
  checked_at.store(now, std::memory_order_relaxed);
  far.store(cross_core_round_trip_ns() > kFarNs, std::memory_order_relaxed);
  return far.load(std::memory_order_relaxed);
}

}  // namespace kernels

void testing::set_cores_far_apart(std::optional<bool> fixed) {
  kernels::fixed_answer.store(fixed ? int(*fixed) : -1, std::memory_order_relaxed);
}

}  // namespace seqnet
