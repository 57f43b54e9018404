#pragma once

namespace seqnet {

// Threads used by seqnet's own loops (OpenMP) and by the BLAS behind GEMM.
// The default comes from SEQNET_NUM_THREADS, else the number of cores.
void set_num_threads(int n);
int num_threads();

}  // namespace seqnet
