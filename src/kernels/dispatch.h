// Which instruction-set variant of the kernels runs (kernels/isa.h). At the first kernel call seqnet picks
// the widest variant the CPU supports, or the one named by the environment variable SEQNET_KERNELS
// (avx2, avx512; native in a -DSEQNET_NATIVE=ON build). Every variant computes the same bits: the same
// fused multiply-adds in the same order (kernels/simd.h). Internal header: tests and benchmarks select
// variants through it.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "kernels/activation_kernels.h"
#include "kernels/blas.h"
#include "kernels/rnn_kernels.h"

namespace seqnet::kernels {

// The dispatched kernels of one variant, filled by kernels/variant_table.cpp compiled for that variant.
struct KernelTable {
  decltype(&kernels::small_gemm) small_gemm;
  decltype(&kernels::small_gemm_bias) small_gemm_bias;
  decltype(&kernels::small_gemm_tn) small_gemm_tn;
  decltype(&kernels::transpose) transpose;
  decltype(&kernels::activation_forward) activation_forward;
  decltype(&kernels::activation_backward) activation_backward;
  decltype(&kernels::gate_matmul_forward) gate_matmul_forward;
  decltype(&kernels::gate_matmul_backward) gate_matmul_backward;
  decltype(&kernels::activation_columns) activation_columns;
  decltype(&kernels::activation_columns_backward) activation_columns_backward;
  decltype(&kernels::lstm_step_forward) lstm_step_forward;
  decltype(&kernels::lstm_step_backward) lstm_step_backward;
  decltype(&kernels::recurrent_matmul) recurrent_matmul;
  decltype(&kernels::recurrent_matmul_t) recurrent_matmul_t;
  decltype(&kernels::recurrent_weight_grad) recurrent_weight_grad;
  decltype(&kernels::simple_rnn_fused_forward) simple_rnn_fused_forward;
  decltype(&kernels::simple_rnn_fused_backward) simple_rnn_fused_backward;
  decltype(&kernels::lstm_fused_forward) lstm_fused_forward;
  decltype(&kernels::lstm_fused_backward) lstm_fused_backward;
  decltype(&kernels::gru_fused_forward) gru_fused_forward;
  decltype(&kernels::gru_fused_backward) gru_fused_backward;
};

struct KernelVariant {
  const char* name;       // "avx2", "avx512", "native"
  const char* needs;      // what the CPU must have, for messages: "AVX2 and FMA"
  bool (*cpu_supports)();
  const KernelTable* table;
};

// Every variant this build contains, narrowest first.
const std::vector<KernelVariant>& kernel_variants();
// The variant the kernels run now (chosen at the first call when none was selected).
const KernelVariant& active_kernel_variant();
// Runs the named variant from now on; throws seqnet::Error when the build lacks it or the CPU cannot run it.
void select_kernel_variant(std::string_view name);

}  // namespace seqnet::kernels
