// Data-parallel training over MPI. Under `mpirun -np N`, fit() gives each rank its shard of every global
// batch, averages the gradients with one allreduce per step, and every rank applies the same optimizer
// step, so the weights stay identical. Rank 0 alone prints and writes files.
// Built without MPI (-DSEQNET_WITH_MPI=OFF) every function here is the single-process identity.
// init, finalize and compiled_with_mpi are in the full library (seqnet::seqnet); the rest is in seqnet::core,
// where a process is single until init installs MPI.
#pragma once
#include <cstdint>
#include <vector>

namespace seqnet::distributed {

bool compiled_with_mpi();
// Starts MPI when the process was launched by mpirun (and is a no-op otherwise), and makes training use it
// (also when the application called MPI_Init itself). Safe to call twice.
void init(int* argc, char*** argv);
void finalize();
bool active();  // MPI started and more than one rank
int rank();
int size();
inline bool is_root() { return rank() == 0; }

// In-place sums over all ranks (identity on one rank).
void allreduce_sum(float* values, int64_t n);
void allreduce_sum(double* values, int64_t n);
void broadcast(float* values, int64_t n, int root = 0);
void barrier();
// Stops every rank with a message (MPI_Abort), so that no rank waits forever on a dead peer.
[[noreturn]] void abort_all(const char* message, int code = 1);

// The rows [begin, end) of a global batch of `n` rows that this rank trains on.
std::pair<int64_t, int64_t> shard(int64_t n);

}  // namespace seqnet::distributed
