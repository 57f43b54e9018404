#include "seqnet/distributed.h"

#include <cstdio>
#include <cstdlib>

#ifdef SEQNET_HAVE_MPI
#include <mpi.h>
#endif

namespace seqnet::distributed {

#ifdef SEQNET_HAVE_MPI
namespace {
bool g_started_here = false;
bool launched_by_mpirun() {
  // Open MPI, MPICH / Hydra and Slurm's PMI set one of these in every rank's environment.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}
bool mpi_up() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}
}  // namespace

bool compiled_with_mpi() { return true; }

void init(int* argc, char*** argv) {
  if (mpi_up() || !launched_by_mpirun()) return;
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  // A failing collective must not leave the other ranks waiting: errors abort the whole job.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  g_started_here = true;
  std::atexit([] {
    if (g_started_here && mpi_up()) MPI_Finalize();
  });
}

void finalize() {
  if (g_started_here && mpi_up()) MPI_Finalize();
}

int rank() {
  if (!mpi_up()) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  if (!mpi_up()) return 1;
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

bool active() { return size() > 1; }

void allreduce_sum(float* values, int64_t n) {
  if (!active() || n == 0) return;
  MPI_Allreduce(MPI_IN_PLACE, values, int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

void allreduce_sum(double* values, int64_t n) {
  if (!active() || n == 0) return;
  MPI_Allreduce(MPI_IN_PLACE, values, int(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void broadcast(float* values, int64_t n, int root) {
  if (!active() || n == 0) return;
  MPI_Bcast(values, int(n), MPI_FLOAT, root, MPI_COMM_WORLD);
}

void barrier() {
  if (active()) MPI_Barrier(MPI_COMM_WORLD);
}

void abort_all(const char* message, int code) {
  std::fprintf(stderr, "seqnet: rank %d: %s\n", rank(), message);
  std::fflush(stderr);
  if (mpi_up()) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}
#else
bool compiled_with_mpi() { return false; }
void init(int*, char***) {}
void finalize() {}
int rank() { return 0; }
int size() { return 1; }
bool active() { return false; }
void allreduce_sum(float*, int64_t) {}
void allreduce_sum(double*, int64_t) {}
void broadcast(float*, int64_t, int) {}
void barrier() {}
void abort_all(const char* message, int code) {
  std::fprintf(stderr, "seqnet: %s\n", message);
  std::exit(code);
}
#endif

std::pair<int64_t, int64_t> shard(int64_t n) {
  const int64_t r = rank(), s = size();
  // Contiguous, as even as possible: the first n % s ranks take one extra row.
  int64_t base = n / s, extra = n % s;
  int64_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

}  // namespace seqnet::distributed
