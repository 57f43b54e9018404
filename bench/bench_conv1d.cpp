// Conv1D and MaxPooling1D at the book's IMDB shape (Deep Learning with Python 6.4): batch 128,
// 500 steps, 128 embedding channels, Conv1D(32, 7, relu), then MaxPooling1D(5).
#include <benchmark/benchmark.h>

#include "kernels/blas.h"
#include "seqnet/seqnet.h"

using namespace seqnet;

namespace {

constexpr int64_t kBatch = 128, kSteps = 500, kChannels = 128, kFilters = 32, kKernel = 7;

Tensor uniform_tensor(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

void set_threads(benchmark::State& state) { set_num_threads(int(state.range(0))); }

void BM_Conv1D_Forward(benchmark::State& state) {
  set_threads(state);
  Conv1D conv(kFilters, kKernel, {.activation = "relu"});
  Rng rng(1);
  conv.build({-1, kSteps, kChannels}, rng);
  Tensor x = uniform_tensor({kBatch, kSteps, kChannels}, 2);
  RunContext ctx;
  for (auto _ : state) benchmark::DoNotOptimize(conv.call(x, ctx));
  const double flops = 2.0 * kBatch * conv.output_length(kSteps) * kKernel * kChannels * kFilters;
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void BM_Conv1D_Backward(benchmark::State& state) {
  set_threads(state);
  Conv1D conv(kFilters, kKernel, {.activation = "relu"});
  Rng rng(1);
  conv.build({-1, kSteps, kChannels}, rng);
  Tensor x = uniform_tensor({kBatch, kSteps, kChannels}, 2);
  RunContext ctx;
  Tensor y = conv.call(x, ctx);
  Tensor dy = uniform_tensor(y.shape(), 3);
  for (auto _ : state) benchmark::DoNotOptimize(conv.backward(dy));
  // Two GEMMs per backward: the kernel gradient and the input gradient.
  const double flops = 4.0 * kBatch * conv.output_length(kSteps) * kKernel * kChannels * kFilters;
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// The forward GEMM alone on an already unfolded input: the floor the im2col forward is measured against.
void BM_Conv1D_GemmOnly(benchmark::State& state) {
  set_threads(state);
  const int64_t rows = kBatch * (kSteps - kKernel + 1), kc = kKernel * kChannels;
  Tensor col = uniform_tensor({rows, kc}, 6), w = uniform_tensor({kc, kFilters}, 7), out({rows, kFilters});
  for (auto _ : state) {
    kernels::gemm(false, false, rows, kFilters, kc, 1.0f, col.data(), kc, w.data(), kFilters, 0.0f, out.data(), kFilters);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * rows * kc * kFilters, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

void BM_MaxPooling1D_ForwardBackward(benchmark::State& state) {
  set_threads(state);
  MaxPooling1D pool(5);
  Rng rng(1);
  const int64_t steps = kSteps - kKernel + 1;
  pool.build({-1, steps, kFilters}, rng);
  Tensor x = uniform_tensor({kBatch, steps, kFilters}, 4);
  RunContext ctx;
  Tensor y = pool.call(x, ctx);
  Tensor dy = uniform_tensor(y.shape(), 5);
  for (auto _ : state) {
    benchmark::DoNotOptimize(pool.call(x, ctx));
    benchmark::DoNotOptimize(pool.backward(dy));
  }
}

}  // namespace

BENCHMARK(BM_Conv1D_Forward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv1D_Backward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv1D_GemmOnly)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MaxPooling1D_ForwardBackward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
