// How the core reaches the other ranks of a data-parallel job: a Communicator installed by
// distributed::init (src/distributed/mpi.cpp, in the full library), or none, a single process. The core
// itself links no MPI. Internal header.
#pragma once
#include <cstdint>

namespace seqnet::distributed::detail {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void allreduce_sum(float* values, int64_t n) = 0;
  virtual void allreduce_sum(double* values, int64_t n) = 0;
  virtual void broadcast(float* values, int64_t n, int root) = 0;
  virtual void barrier() = 0;
  [[noreturn]] virtual void abort_all(const char* message, int code) = 0;
};

// nullptr: back to a single process. The communicator must outlive its use (a static object).
void install(Communicator* communicator);

}  // namespace seqnet::distributed::detail
