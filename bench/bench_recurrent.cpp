// Micro-benchmarks of the recurrent kernels at the shapes of the benchmark setups (BENCHMARKS.md):
// the per-step recurrent GEMM (seqnet's register-blocked small_gemm against the BLAS), the fused gate
// kernels against the generic per-gate activation path, the all-steps weight-gradient GEMM, and the
// embedding gradient.
//
//   build-perf/bench/bench_recurrent --benchmark_filter=StepGemm
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/blas.h"
#include "kernels/rnn_kernels.h"
#include "seqnet/seqnet.h"

using namespace seqnet;

namespace {

std::vector<float> random_vec(size_t n, uint64_t seed, float scale = 0.5f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(-scale, scale);
  return v;
}

// The per-step product h(B, u) @ R(u, G*u) and its backward dgates(B, G*u) @ R^T(G*u, u), as (M, N, K).
// A: LSTM(8) B=64; C: GRU(8); E: GRU(32) B=128; F: GRU(64); I: LSTM(24) B=32; J: SimpleRNN(100) B=150.
void step_shapes(benchmark::internal::Benchmark* b) {
  b->Args({64, 32, 8})->Args({64, 8, 32})      // A forward, backward
      ->Args({64, 24, 8})->Args({64, 8, 24})    // C
      ->Args({128, 96, 32})->Args({128, 32, 96})  // E
      ->Args({128, 192, 64})->Args({128, 64, 192})  // F
      ->Args({32, 96, 24})->Args({32, 24, 96})  // I
      ->Args({150, 100, 100});                  // J
  b->ArgNames({"M", "N", "K"});
}

void set_flops(benchmark::State& st, double flops) {
  st.counters["GFLOP/s"] = benchmark::Counter(flops * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_StepGemm_Small(benchmark::State& st) {
  const long M = st.range(0), N = st.range(1), K = st.range(2);
  auto A = random_vec(size_t(M * K), 1), B = random_vec(size_t(K * N), 2), C = random_vec(size_t(M * N), 3);
  for (auto _ : st) {
    kernels::small_gemm(M, N, K, A.data(), K, B.data(), N, C.data(), N, true);
    benchmark::DoNotOptimize(C.data());
  }
  set_flops(st, 2.0 * double(M * N * K));
}
BENCHMARK(BM_StepGemm_Small)->Apply(step_shapes);

void BM_StepGemm_Blas(benchmark::State& st) {
  const long M = st.range(0), N = st.range(1), K = st.range(2);
  set_num_threads(1);
  auto A = random_vec(size_t(M * K), 1), B = random_vec(size_t(K * N), 2), C = random_vec(size_t(M * N), 3);
  for (auto _ : st) {
    kernels::gemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 1.0f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  set_flops(st, 2.0 * double(M * N * K));
}
BENCHMARK(BM_StepGemm_Blas)->Apply(step_shapes);

// The recurrent weight gradient of all steps at once: dR(u, G*u) += H^T (u, T*B) @ dG (T*B, G*u).
void BM_WeightGradGemm(benchmark::State& st) {
  const long u = st.range(0), Gu = st.range(1), rows = st.range(2);
  auto H = random_vec(size_t(rows * u), 1), D = random_vec(size_t(rows * Gu), 2), W = random_vec(size_t(u * Gu), 3);
  for (auto _ : st) {
    kernels::gemm(true, false, u, Gu, rows, 1.0f, H.data(), u, D.data(), Gu, 1.0f, W.data(), Gu);
    benchmark::DoNotOptimize(W.data());
  }
  set_flops(st, 2.0 * double(u * Gu * rows));
}
void BM_WeightGradGemm_SmallTN(benchmark::State& st) {
  const long u = st.range(0), Gu = st.range(1), rows = st.range(2);
  auto H = random_vec(size_t(rows * u), 1), D = random_vec(size_t(rows * Gu), 2), W = random_vec(size_t(u * Gu), 3);
  for (auto _ : st) {
    kernels::small_gemm_tn(u, Gu, rows, H.data(), u, D.data(), Gu, W.data(), Gu, true);
    benchmark::DoNotOptimize(W.data());
  }
  set_flops(st, 2.0 * double(u * Gu * rows));
}
BENCHMARK(BM_WeightGradGemm_SmallTN)
    ->Args({8, 32, 6400})
    ->Args({14, 96, 30720})
    ->Args({32, 96, 30720})
    ->Args({64, 192, 30720})
    ->Args({100, 100, 4200})
    ->ArgNames({"u", "Gu", "rows"});

BENCHMARK(BM_WeightGradGemm)
    ->Args({8, 32, 6400})      // A: LSTM(8), T*B = 100*64
    ->Args({32, 96, 30720})    // E: GRU(32), 240*128
    ->Args({64, 192, 30720})   // F: GRU(64)
    ->Args({100, 100, 4200})   // J: SimpleRNN(100), 28*150
    ->ArgNames({"u", "Gu", "rows"});

// Fused LSTM step against the generic path (per-gate activation calls, libm exp/tanh), (B, u).
void BM_LstmStep_Fused(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 4 * u;
  auto xw = random_vec(size_t(B * G), 1), h = random_vec(size_t(B * u), 2), c = random_vec(size_t(B * u), 3);
  auto R = random_vec(size_t(u * G), 4);
  std::vector<float> pre(size_t(B * G)), gates(size_t(B * G)), cn(size_t(B * u)), tc(size_t(B * u)), hn(size_t(B * u));
  for (auto _ : st) {
    kernels::lstm_fused_forward(xw.data(), h.data(), c.data(), R.data(), pre.data(), gates.data(), cn.data(), tc.data(),
                                hn.data(), B, u, nullptr, nullptr);
    benchmark::DoNotOptimize(hn.data());
  }
}
BENCHMARK(BM_LstmStep_Fused)->Args({64, 8})->Args({32, 24})->ArgNames({"B", "u"});

void BM_LstmStep_Generic(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 4 * u;
  set_num_threads(1);
  auto xw = random_vec(size_t(B * G), 1), h = random_vec(size_t(B * u), 2), c = random_vec(size_t(B * u), 3);
  auto R = random_vec(size_t(u * G), 4);
  std::vector<float> pre(size_t(B * G)), gates(size_t(B * G)), cn(size_t(B * u)), tc(size_t(B * u)), hn(size_t(B * u));
  for (auto _ : st) {
    kernels::gemm(false, false, B, G, u, 1.0f, h.data(), u, R.data(), G, 0.0f, pre.data(), G);
    for (long i = 0; i < B * G; ++i) pre[size_t(i)] += xw[size_t(i)];
    kernels::lstm_step_forward(Activation::tanh, Activation::sigmoid, pre.data(), gates.data(), c.data(), cn.data(),
                               tc.data(), hn.data(), B, u);
    benchmark::DoNotOptimize(hn.data());
  }
}
BENCHMARK(BM_LstmStep_Generic)->Args({64, 8})->Args({32, 24})->ArgNames({"B", "u"});

void BM_LstmStepBackward_Fused(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 4 * u;
  auto gates = random_vec(size_t(B * G), 1), cp = random_vec(size_t(B * u), 2), tc = random_vec(size_t(B * u), 3);
  auto dh = random_vec(size_t(B * u), 4), dc = random_vec(size_t(B * u), 5), RT = random_vec(size_t(G * u), 6);
  std::vector<float> dpre(size_t(B * G)), dhp(size_t(B * u)), dcp(size_t(B * u));
  for (auto _ : st) {
    kernels::lstm_fused_backward(gates.data(), cp.data(), tc.data(), dh.data(), dc.data(), RT.data(), dpre.data(),
                                 dhp.data(), dcp.data(), B, u, nullptr, nullptr);
    benchmark::DoNotOptimize(dhp.data());
  }
}
BENCHMARK(BM_LstmStepBackward_Fused)->Args({64, 8})->Args({32, 24})->ArgNames({"B", "u"});

// The LSTM steps with recurrent dropout (per-gate masks on h_prev), forward and backward, (B, u).
void BM_LstmStep_FusedRecurrentDropout(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 4 * u;
  auto xw = random_vec(size_t(B * G), 1), h = random_vec(size_t(B * u), 2), c = random_vec(size_t(B * u), 3);
  auto R = random_vec(size_t(u * G), 4), masks = random_vec(size_t(B * G), 5);
  std::vector<float> pre(size_t(B * G)), gates(size_t(B * G)), cn(size_t(B * u)), tc(size_t(B * u)), hn(size_t(B * u));
  std::vector<float> scratch(size_t(B * u));
  for (auto _ : st) {
    kernels::lstm_fused_forward(xw.data(), h.data(), c.data(), R.data(), pre.data(), gates.data(), cn.data(), tc.data(),
                                hn.data(), B, u, masks.data(), scratch.data());
    benchmark::DoNotOptimize(hn.data());
  }
}
BENCHMARK(BM_LstmStep_FusedRecurrentDropout)->Args({64, 8})->ArgNames({"B", "u"});

void BM_LstmStepBackward_FusedRecurrentDropout(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 4 * u;
  auto gates = random_vec(size_t(B * G), 1), cp = random_vec(size_t(B * u), 2), tc = random_vec(size_t(B * u), 3);
  auto dh = random_vec(size_t(B * u), 4), dc = random_vec(size_t(B * u), 5), RT = random_vec(size_t(G * u), 6);
  auto masks = random_vec(size_t(B * G), 7);
  std::vector<float> dpre(size_t(B * G)), dhp(size_t(B * u)), dcp(size_t(B * u)), scratch(size_t(B * u));
  for (auto _ : st) {
    kernels::lstm_fused_backward(gates.data(), cp.data(), tc.data(), dh.data(), dc.data(), RT.data(), dpre.data(),
                                 dhp.data(), dcp.data(), B, u, masks.data(), scratch.data());
    benchmark::DoNotOptimize(dhp.data());
  }
}
BENCHMARK(BM_LstmStepBackward_FusedRecurrentDropout)->Args({64, 8})->ArgNames({"B", "u"});

// The recurrent weight gradient over all steps, without and with per-sequence masks, (T, B, u, G).
void BM_RecurrentWeightGrad(benchmark::State& st) {
  const long T = st.range(0), B = st.range(1), u = st.range(2), G = st.range(3);
  auto H = random_vec(size_t(T * B * u), 1), D = random_vec(size_t(T * B * G * u), 2);
  auto masks = random_vec(size_t(G * B * u), 3);
  std::vector<float> dR(size_t(u * G * u));
  const bool masked = st.range(4) != 0;
  for (auto _ : st) {
    kernels::recurrent_weight_grad(H.data(), masked ? masks.data() : nullptr, D.data(), dR.data(), T * B, B, u, int(G));
    benchmark::DoNotOptimize(dR.data());
  }
}
BENCHMARK(BM_RecurrentWeightGrad)
    ->Args({100, 64, 8, 4, 0})->Args({100, 64, 8, 4, 1})    // A: LSTM(8)
    ->Args({100, 64, 8, 3, 0})->Args({100, 64, 8, 3, 1})    // C: GRU(8)
    ->Args({100, 64, 16, 3, 0})->Args({100, 64, 16, 3, 1})  // a GRU(16)
    ->Args({100, 64, 24, 4, 0})->Args({100, 64, 24, 4, 1})  // an LSTM(24)
    ->Args({240, 128, 32, 3, 0})->Args({240, 128, 32, 3, 1})  // E: GRU(32)
    ->Args({240, 128, 64, 3, 0})->Args({240, 128, 64, 3, 1})  // F: GRU(64)
    ->ArgNames({"T", "B", "u", "G", "masked"});

// Fused GRU (reset_after) step, forward and backward, (B, u).
void BM_GruStep_Fused(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 3 * u;
  auto xw = random_vec(size_t(B * G), 1), h = random_vec(size_t(B * u), 2), R = random_vec(size_t(u * G), 3);
  auto br = random_vec(size_t(G), 4);
  std::vector<float> rec(size_t(B * G)), gates(size_t(B * G)), hn(size_t(B * u));
  for (auto _ : st) {
    kernels::gru_fused_forward(xw.data(), h.data(), R.data(), br.data(), rec.data(), gates.data(), hn.data(), B, u,
                               nullptr, nullptr);
    benchmark::DoNotOptimize(hn.data());
  }
}
BENCHMARK(BM_GruStep_Fused)->Args({64, 8})->Args({128, 32})->Args({128, 64})->ArgNames({"B", "u"});

// The same step with recurrent dropout: one (B, u) x (u, u) product per gate on h * m_k.
void BM_GruStep_FusedRecurrentDropout(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 3 * u;
  auto xw = random_vec(size_t(B * G), 1), h = random_vec(size_t(B * u), 2), R = random_vec(size_t(u * G), 3);
  auto br = random_vec(size_t(G), 4), masks = random_vec(size_t(B * G), 5);
  std::vector<float> rec(size_t(B * G)), gates(size_t(B * G)), hn(size_t(B * u)), scratch(size_t(B * u));
  for (auto _ : st) {
    kernels::gru_fused_forward(xw.data(), h.data(), R.data(), br.data(), rec.data(), gates.data(), hn.data(), B, u,
                               masks.data(), scratch.data());
    benchmark::DoNotOptimize(hn.data());
  }
}
BENCHMARK(BM_GruStep_FusedRecurrentDropout)->Args({64, 8})->Args({128, 32})->Args({128, 64})->ArgNames({"B", "u"});

void BM_GruStepBackward_Fused(benchmark::State& st) {
  const long B = st.range(0), u = st.range(1), G = 3 * u;
  auto gates = random_vec(size_t(B * G), 1), rec = random_vec(size_t(B * G), 2), h = random_vec(size_t(B * u), 3);
  auto dh = random_vec(size_t(B * u), 4), RT = random_vec(size_t(G * u), 5);
  std::vector<float> dxw(size_t(B * G)), drec(size_t(B * G)), dhp(size_t(B * u));
  for (auto _ : st) {
    kernels::gru_fused_backward(gates.data(), rec.data(), h.data(), dh.data(), RT.data(), dxw.data(), drec.data(),
                                dhp.data(), B, u, nullptr, nullptr);
    benchmark::DoNotOptimize(dhp.data());
  }
}
BENCHMARK(BM_GruStepBackward_Fused)->Args({64, 8})->Args({128, 32})->Args({128, 64})->ArgNames({"B", "u"});

// Embedding gradient: the scatter-add of dy (B, T, E) into the (V, E) table rows of the ids.
// (64, 100, 500, 16): setups A-C; (32, 500, 10000, 128): setup D.
void BM_EmbeddingGrad(benchmark::State& st) {
  const int64_t B = st.range(0), T = st.range(1), V = st.range(2), E = st.range(3);
  Embedding emb(V, E);
  Rng rng(1);
  emb.build({-1, T}, rng);
  std::vector<int32_t> ids(size_t(B * T));
  for (auto& id : ids) id = int32_t(rng.randint(0, V));
  Tensor x = Tensor::ints({B, T}, ids);
  RunContext ctx;
  ctx.training = true;
  ctx.rng = &rng;
  emb.forward(x, ctx);
  Tensor dy({B, T, E});
  for (int64_t i = 0; i < dy.size(); ++i) dy[i] = rng.uniform(-1.0f, 1.0f);
  for (auto _ : st) {
    emb.backward(dy);
    benchmark::DoNotOptimize(emb.params()[0]->grad.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * B * T * E * int64_t(sizeof(float)));
}
BENCHMARK(BM_EmbeddingGrad)->Args({64, 100, 500, 16})->Args({32, 500, 10000, 128})->ArgNames({"B", "T", "V", "E"});

}  // namespace

BENCHMARK_MAIN();
