// The table of one kernel variant: compiled once per variant with that variant's instruction set, so that
// each entry is the variant's own function (kernels/isa.h).
#include "kernels/dispatch.h"

SEQNET_KERNELS_BEGIN

extern const KernelTable kernel_table;
const KernelTable kernel_table = {
    &small_gemm,           &small_gemm_bias,          &small_gemm_tn,
    &transpose,            &activation_forward,       &activation_backward,
    &gate_matmul_forward,  &gate_matmul_backward,     &activation_columns,
    &activation_columns_backward,                     &lstm_step_forward,
    &lstm_step_backward,   &recurrent_matmul,         &recurrent_matmul_t,
    &recurrent_weight_grad, &simple_rnn_fused_forward, &simple_rnn_fused_backward,
    &lstm_fused_forward,   &lstm_fused_backward,      &gru_fused_forward,
    &gru_fused_backward,
};

SEQNET_KERNELS_END
