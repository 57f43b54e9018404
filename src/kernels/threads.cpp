#include "seqnet/threads.h"

#include <cstdlib>
#include <omp.h>

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

}  // namespace seqnet
