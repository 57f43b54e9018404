#include "seqnet/threads.h"

#include <cstdlib>
#include <omp.h>

#include "kernels/blas.h"

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
    openblas_set_num_threads(value);
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
#ifdef SEQNET_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

int num_threads() { return current(); }

namespace kernels {
BlasSingleThreaded::BlasSingleThreaded() {
#ifdef SEQNET_HAVE_OPENBLAS
  if (num_threads() > 1) openblas_set_num_threads(1);
#endif
}
BlasSingleThreaded::~BlasSingleThreaded() {
#ifdef SEQNET_HAVE_OPENBLAS
  if (num_threads() > 1) openblas_set_num_threads(num_threads());
#endif
}
}  // namespace kernels

}  // namespace seqnet
