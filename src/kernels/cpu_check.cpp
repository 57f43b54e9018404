// Before anything else runs: a CPU without the instruction set seqnet was compiled for gets a clear message
// instead of an illegal-instruction crash somewhere later. This file alone is compiled for plain x86-64
// (CMakeLists.txt), so the check itself runs on any x86-64 CPU.
//
// A static library's object file is linked only when something refers to it: dispatch.cpp and tensor.cpp
// refer to cpu_check_linked, so every program that uses seqnet carries the check.
namespace seqnet::kernels {
extern const bool cpu_check_linked;
const bool cpu_check_linked = true;
}  // namespace seqnet::kernels

#if defined(SEQNET_BASELINE_X86_64_V3) && (defined(__x86_64__) || defined(__i386__))
#include <cstdio>
#include <cstdlib>

namespace {

__attribute__((constructor(101))) void require_baseline_instruction_set() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
      __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt"))
    return;
  std::fputs(
      "seqnet: this CPU lacks AVX2, FMA or BMI2 (x86-64-v3), which this build of seqnet needs; build seqnet on "
      "this machine with -DSEQNET_NATIVE=ON to run it here\n",
      stderr);
  std::_Exit(1);
}

}  // namespace
#endif
