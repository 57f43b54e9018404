// MPI for data-parallel training: distributed::init starts MPI when the process was launched by mpirun (or
// finds it started by the application) and installs it as the core's communicator. Built without MPI
// (-DSEQNET_WITH_MPI=OFF, or no MPI found) init and finalize do nothing and training is single-process.
#include <cstdio>
#include <cstdlib>

#include "model/communicator.h"
#include "seqnet/distributed.h"

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

class MpiCommunicator : public detail::Communicator {
 public:
  int rank() const override {
    if (!mpi_up()) return 0;
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }
  int size() const override {
    if (!mpi_up()) return 1;
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }
  void allreduce_sum(float* values, int64_t n) override {
    MPI_Allreduce(MPI_IN_PLACE, values, int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  void allreduce_sum(double* values, int64_t n) override {
    MPI_Allreduce(MPI_IN_PLACE, values, int(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  }
  void broadcast(float* values, int64_t n, int root) override {
    MPI_Bcast(values, int(n), MPI_FLOAT, root, MPI_COMM_WORLD);
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  [[noreturn]] void abort_all(const char* message, int code) override {
    std::fprintf(stderr, "seqnet: rank %d: %s\n", rank(), message);
    std::fflush(stderr);
    if (mpi_up()) MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
  }
};

MpiCommunicator g_mpi;
}  // namespace

bool compiled_with_mpi() { return true; }

void init(int* argc, char*** argv) {
  detail::install(&g_mpi);  // also when the application started MPI itself
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
#else
bool compiled_with_mpi() { return false; }
void init(int*, char***) {}
void finalize() {}
#endif

}  // namespace seqnet::distributed
