// The kernel entry points the rest of seqnet calls (namespace kernels::baseline): each forwards to the
// variant chosen once, at the first call, from the CPU's features (kernels/dispatch.h).
#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "seqnet/tensor.h"

namespace seqnet::kernels {

#if defined(SEQNET_KERNELS_AVX2)
namespace avx2 {
extern const KernelTable kernel_table;
}
#endif
#if defined(SEQNET_KERNELS_AVX512)
namespace avx512 {
extern const KernelTable kernel_table;
}
#endif
#if defined(SEQNET_KERNELS_NATIVE)
namespace native {
extern const KernelTable kernel_table;
}
#endif

extern const bool cpu_check_linked;

namespace {

[[maybe_unused]] __attribute__((used)) const bool* const link_cpu_check = &cpu_check_linked;

#if defined(__x86_64__) || defined(__i386__)
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool cpu_has_avx512() {
  // x86-64-v4's AVX-512 subsets; libgcc also checks that the OS saves the AVX-512 registers.
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512cd");
}
#endif
[[maybe_unused]] bool always() { return true; }

std::vector<KernelVariant> make_variants() {
  std::vector<KernelVariant> v;
#if defined(SEQNET_KERNELS_AVX2)
  v.push_back({"avx2", "AVX2 and FMA", &cpu_has_avx2, &avx2::kernel_table});
#endif
#if defined(SEQNET_KERNELS_AVX512)
  v.push_back({"avx512", "AVX-512 F, VL, BW, DQ and CD", &cpu_has_avx512, &avx512::kernel_table});
#endif
#if defined(SEQNET_KERNELS_NATIVE)
  // Built with -march=native: runs where the build machine's instruction set does (cpu_check.cpp).
  v.push_back({"native", "the build machine's instruction set", &always, &native::kernel_table});
#endif
  return v;
}

std::string variant_names() {
  std::string names;
  for (const KernelVariant& v : kernel_variants()) names += (names.empty() ? "" : ", ") + std::string(v.name);
  return names;
}

const KernelVariant* find_variant(std::string_view name) {
  for (const KernelVariant& v : kernel_variants())
    if (name == v.name) return &v;
  throw Error("SEQNET_KERNELS=" + std::string(name) + ": this build has no such kernel variant (it has: " +
              variant_names() + ")");
}

const KernelVariant* check_runs(const KernelVariant* v) {
  if (!v->cpu_supports())
    throw Error(std::string("the ") + v->name + " kernels need " + v->needs + ", which this CPU lacks (variants: " +
                variant_names() + ")");
  return v;
}

const KernelVariant* choose() {
  if (const char* forced = std::getenv("SEQNET_KERNELS"); forced && *forced) return check_runs(find_variant(forced));
  const KernelVariant* best = nullptr;
  for (const KernelVariant& v : kernel_variants())
    if (v.cpu_supports()) best = &v;
  if (!best) throw Error("this CPU can run none of seqnet's kernel variants (" + variant_names() + ")");
  return best;
}

std::atomic<const KernelVariant*> active{nullptr};

const KernelTable& table() {
  const KernelVariant* v = active.load(std::memory_order_acquire);
  if (__builtin_expect(v == nullptr, 0)) {
    static const KernelVariant* first = choose();  // once, thread-safe
    const KernelVariant* expected = nullptr;
    active.compare_exchange_strong(expected, first);
    v = active.load(std::memory_order_acquire);
  }
  return *v->table;
}

}  // namespace

const std::vector<KernelVariant>& kernel_variants() {
  static const std::vector<KernelVariant> variants = make_variants();
  return variants;
}

const KernelVariant& active_kernel_variant() {
  table();
  return *active.load(std::memory_order_acquire);
}

void select_kernel_variant(std::string_view name) { active.store(check_runs(find_variant(name))); }

}  // namespace seqnet::kernels

namespace seqnet {
const char* kernel_variant() { return kernels::active_kernel_variant().name; }
}  // namespace seqnet

namespace seqnet::kernels {

inline namespace baseline {

void small_gemm(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                bool accumulate) {
  table().small_gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}
void small_gemm_bias(long M, long N, long K, const float* A, long lda, const float* B, long ldb, const float* bias,
                     float* C, long ldc) {
  table().small_gemm_bias(M, N, K, A, lda, B, ldb, bias, C, ldc);
}
void small_gemm_tn(long M, long N, long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                   bool accumulate, float* column_sums) {
  table().small_gemm_tn(M, N, K, A, lda, B, ldb, C, ldc, accumulate, column_sums);
}
void transpose(const float* src, long rows, long cols, float* dst) { table().transpose(src, rows, cols, dst); }

void activation_forward(Activation a, const float* x, float* y, long n, long row) {
  table().activation_forward(a, x, y, n, row);
}
void activation_backward(Activation a, const float* x, const float* y, const float* dy, float* dx, long n, long row) {
  table().activation_backward(a, x, y, dy, dx, n, row);
}

void gate_matmul_forward(float* out, long ldo, const float* a, long rows, long k, const float* W, long ldw, long n,
                         int g0, int g1, const float* masks, long period, float* scratch, const float* bias) {
  table().gate_matmul_forward(out, ldo, a, rows, k, W, ldw, n, g0, g1, masks, period, scratch, bias);
}
void gate_matmul_backward(float* da, float* dW, const float* dout, long ldd, const float* a, long rows, long k,
                          const float* W, long ldw, long n, int g0, int g1, const float* masks, long period,
                          float* scratch) {
  table().gate_matmul_backward(da, dW, dout, ldd, a, rows, k, W, ldw, n, g0, g1, masks, period, scratch);
}
void activation_columns(Activation act, const float* x, float* y, long rows, long ld, long c0, long c1) {
  table().activation_columns(act, x, y, rows, ld, c0, c1);
}
void activation_columns_backward(Activation act, const float* x, const float* y, const float* dy, float* dx, long rows,
                                 long ld, long c0, long c1) {
  table().activation_columns_backward(act, x, y, dy, dx, rows, ld, c0, c1);
}
void lstm_step_forward(Activation act, Activation rec, const float* pre, float* gates, const float* c_prev, float* c,
                       float* tc, float* h, long B, long u) {
  table().lstm_step_forward(act, rec, pre, gates, c_prev, c, tc, h, B, u);
}
void lstm_step_backward(Activation act, Activation rec, const float* pre, const float* gates, const float* c_prev,
                        const float* c, const float* tc, const float* dh, const float* dc, float* dpre, float* dc_prev,
                        long B, long u) {
  table().lstm_step_backward(act, rec, pre, gates, c_prev, c, tc, dh, dc, dpre, dc_prev, B, u);
}
void recurrent_matmul(const float* h, const float* rmask, const float* R, float* out, long B, long u, int G,
                      bool accumulate, float* scratch) {
  table().recurrent_matmul(h, rmask, R, out, B, u, G, accumulate, scratch);
}
void recurrent_matmul_t(const float* d, const float* rmask, const float* RT, float* dh, long B, long u, int G,
                        bool accumulate, float* scratch) {
  table().recurrent_matmul_t(d, rmask, RT, dh, B, u, G, accumulate, scratch);
}
void recurrent_weight_grad(const float* H, const float* rmask, const float* D, float* dR, long TB, long B, long u,
                           int G, float* dbias) {
  table().recurrent_weight_grad(H, rmask, D, dR, TB, B, u, G, dbias);
}
void simple_rnn_fused_forward(const float* xw, const float* h_prev, const float* R, float* pre, float* h, long B,
                              long u, const float* rmask, float* scratch) {
  table().simple_rnn_fused_forward(xw, h_prev, R, pre, h, B, u, rmask, scratch);
}
void simple_rnn_fused_backward(const float* h, const float* dh, const float* RT, float* dpre, float* dh_prev, long B,
                               long u, const float* rmask, float* scratch) {
  table().simple_rnn_fused_backward(h, dh, RT, dpre, dh_prev, B, u, rmask, scratch);
}
void lstm_fused_forward(const float* xw, const float* h_prev, const float* c_prev, const float* R, float* pre,
                        float* gates, float* c, float* tc, float* h, long B, long u, const float* rmask,
                        float* scratch) {
  table().lstm_fused_forward(xw, h_prev, c_prev, R, pre, gates, c, tc, h, B, u, rmask, scratch);
}
void lstm_fused_backward(const float* gates, const float* c_prev, const float* tc, const float* dh, const float* dc,
                         const float* RT, float* dpre, float* dh_prev, float* dc_prev, long B, long u,
                         const float* rmask, float* scratch) {
  table().lstm_fused_backward(gates, c_prev, tc, dh, dc, RT, dpre, dh_prev, dc_prev, B, u, rmask, scratch);
}
void gru_fused_forward(const float* xw, const float* h_prev, const float* R, const float* b_rec, float* rec,
                       float* gates, float* h, long B, long u, const float* rmask, float* scratch) {
  table().gru_fused_forward(xw, h_prev, R, b_rec, rec, gates, h, B, u, rmask, scratch);
}
void gru_fused_backward(const float* gates, const float* rec, const float* h_prev, const float* dh, const float* RT,
                        float* dxw, float* drec, float* dh_prev, long B, long u, const float* rmask, float* scratch) {
  table().gru_fused_backward(gates, rec, h_prev, dh, RT, dxw, drec, dh_prev, B, u, rmask, scratch);
}

}  // namespace baseline
}  // namespace seqnet::kernels
