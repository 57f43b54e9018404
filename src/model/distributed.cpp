// The core's side of data-parallel training: every call goes to the installed communicator (MPI, when the full
// library's distributed::init started or found it), or is the single-process identity.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "model/communicator.h"
#include "seqnet/distributed.h"

namespace seqnet::distributed {

namespace {
detail::Communicator* g_communicator = nullptr;
}

void detail::install(Communicator* communicator) { g_communicator = communicator; }

int rank() { return g_communicator ? g_communicator->rank() : 0; }
int size() { return g_communicator ? g_communicator->size() : 1; }
bool active() { return size() > 1; }

void allreduce_sum(float* values, int64_t n) {
  if (active() && n > 0) g_communicator->allreduce_sum(values, n);
}
void allreduce_sum(double* values, int64_t n) {
  if (active() && n > 0) g_communicator->allreduce_sum(values, n);
}
void broadcast(float* values, int64_t n, int root) {
  if (active() && n > 0) g_communicator->broadcast(values, n, root);
}
void barrier() {
  if (active()) g_communicator->barrier();
}

void abort_all(const char* message, int code) {
  if (g_communicator) g_communicator->abort_all(message, code);
  std::fprintf(stderr, "seqnet: %s\n", message);
  std::exit(code);
}

std::pair<int64_t, int64_t> shard(int64_t n) {
  const int64_t r = rank(), s = size();
  // Contiguous, as even as possible: the first n % s ranks take one extra row.
  int64_t base = n / s, extra = n % s;
  int64_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

}  // namespace seqnet::distributed
