// The instruction-set variants of the kernels. The hot kernels (small_gemm.cpp, rnn_kernels.cpp,
// activation_kernels.cpp) are compiled once per variant (CMakeLists.txt: avx2 = x86-64-v3, avx512 = x86-64-v4,
// or one native variant), each into its own inline namespace: every function, template and inline helper of
// a variant has names of its own, so the linker can never hand AVX-512 code to a CPU without it (an inline
// function shared by name between variants would be kept in one copy, whichever came first). The rest of
// seqnet is compiled once, for the baseline, in namespace `baseline`, where dispatch.cpp's entry points call
// the variant chosen at startup (kernels/dispatch.h). Internal header.
#pragma once

#ifndef SEQNET_KERNEL_ISA
#define SEQNET_KERNEL_ISA baseline
#endif

#define SEQNET_KERNELS_BEGIN                     \
  namespace seqnet::kernels {                    \
  inline namespace SEQNET_KERNEL_ISA {
#define SEQNET_KERNELS_END \
  }                        \
  }
