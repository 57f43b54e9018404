// The recurrent layers alone against oneDNN's RNN primitives, same shapes, same process, same threads:
// forward (training) + backward of one batch, ms, median over interleaved rounds. oneDNN is the yardstick
// of issue 8 ("the recurrent layers at least as fast as oneDNN's RNN primitives"); the product does not
// link it. Built when Debian's libdnnl-dev is installed:
//
//   apt-get install libdnnl-dev && cmake -S . -B build-perf -G Ninja -DCMAKE_BUILD_TYPE=Release
//   ninja -C build-perf onednn_yardstick && build-perf/bench/onednn_yardstick [--rounds 7] [--threads 1,2]
//
// Shapes are the recurrent layers of the setups A-J (BENCHMARKS.md). Keras's GRU (reset_after=True) is
// oneDNN's "linear before reset" GRU; SimpleRNN is its vanilla RNN with tanh. oneDNN always produces the
// whole output sequence and takes a gradient for every step; seqnet's layer returns what the setup's layer
// returns (the last step unless return_sequences), which is the work a model asks of it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dnnl.hpp>
#include <functional>
#include <malloc.h>
#include <omp.h>
#include <string>
#include <unordered_map>
#include <vector>

#include "seqnet/seqnet.h"

using namespace seqnet;

namespace {

struct Shape3 {
  char setup;
  const char* what;
  char cell;  // 'L' LSTM, 'G' GRU (reset_after), 'S' SimpleRNN
  int64_t B, T, C, U;
  bool bidirectional, return_sequences;
};

const Shape3 kShapes[] = {
    {'A', "LSTM(8)", 'L', 64, 100, 16, 8, false, false},
    {'C', "GRU(8)", 'G', 64, 100, 16, 8, false, false},
    {'E', "GRU(32)", 'G', 128, 240, 14, 32, false, false},
    {'F', "GRU(64), 2nd layer", 'G', 128, 240, 32, 64, false, false},
    {'G', "Bidirectional GRU(32)", 'G', 128, 240, 14, 32, true, false},
    {'I', "LSTM(24, rs)", 'L', 32, 6, 32, 24, false, true},
    {'J', "SimpleRNN(100)", 'S', 150, 28, 28, 100, false, false},
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void fill_random(const dnnl::memory& m, uint64_t seed) {
  const size_t n = m.get_desc().get_size() / sizeof(float);
  auto* p = static_cast<float*>(m.get_data_handle());
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) p[i] = rng.uniform(-0.3f, 0.3f);
}

// One oneDNN RNN layer, forward_training + backward, with every memory allocated once.
class OneDnnLayer {
 public:
  OneDnnLayer(const Shape3& s, dnnl::engine& eng) : eng_(eng), strm_(eng) {
    using namespace dnnl;
    using tag = memory::format_tag;
    using dt = memory::data_type;
    const memory::dim T = s.T, N = s.B, C = s.C, U = s.U, D = s.bidirectional ? 2 : 1;
    const memory::dim G = s.cell == 'L' ? 4 : s.cell == 'G' ? 3 : 1;
    const memory::dim Gb = s.cell == 'G' ? 4 : G;  // lbr GRU has an extra bias for the recurrent candidate
    const memory::dim out_c = s.bidirectional ? 2 * U : U;
    const auto dir = s.bidirectional ? rnn_direction::bidirectional_concat : rnn_direction::unidirectional_left2right;
    auto md = [](memory::dims d, tag t) { return memory::desc(d, dt::f32, t); };
    auto src_layer = md({T, N, C}, tag::tnc), dst_layer = md({T, N, out_c}, tag::tnc);
    // An explicit zero initial state: oneDNN 2.6 computes wrong weight_iter gradients without one.
    auto src_iter = md({1, D, N, U}, tag::ldnc), dst_iter = md({1, D, N, U}, tag::ldnc);
    auto src_iter_c = md({1, D, N, U}, tag::ldnc), dst_iter_c = md({1, D, N, U}, tag::ldnc);
    auto w_layer = md({1, D, C, G, U}, tag::any), w_iter = md({1, D, U, G, U}, tag::any);
    auto bias = md({1, D, Gb, U}, tag::ldgo);
    const bool lstm = s.cell == 'L';
    const prop_kind fwd = prop_kind::forward_training;
    if (s.cell == 'L') {
      lstm_forward::primitive_desc fpd(
          lstm_forward::desc(fwd, dir, src_layer, src_iter, src_iter_c, w_layer, w_iter, bias, dst_layer, dst_iter,
                             dst_iter_c),
          eng);
      lstm_backward::primitive_desc bpd(
          lstm_backward::desc(prop_kind::backward, dir, src_layer, src_iter, src_iter_c, w_layer, w_iter, bias,
                              dst_layer, dst_iter, dst_iter_c, src_layer, src_iter, src_iter_c, w_layer, w_iter, bias,
                              dst_layer, dst_iter, dst_iter_c),
          eng, fpd);
      setup(fpd, bpd, lstm);
      fwd_ = lstm_forward(fpd);
      bwd_ = lstm_backward(bpd);
    } else if (s.cell == 'G') {
      lbr_gru_forward::primitive_desc fpd(
          lbr_gru_forward::desc(fwd, dir, src_layer, src_iter, w_layer, w_iter, bias, dst_layer, dst_iter), eng);
      lbr_gru_backward::primitive_desc bpd(
          lbr_gru_backward::desc(prop_kind::backward, dir, src_layer, src_iter, w_layer, w_iter, bias, dst_layer,
                                 dst_iter, src_layer, src_iter, w_layer, w_iter, bias, dst_layer, dst_iter),
          eng, fpd);
      setup(fpd, bpd, lstm);
      fwd_ = lbr_gru_forward(fpd);
      bwd_ = lbr_gru_backward(bpd);
    } else {
      vanilla_rnn_forward::primitive_desc fpd(
          vanilla_rnn_forward::desc(fwd, algorithm::eltwise_tanh, dir, src_layer, src_iter, w_layer, w_iter, bias,
                                    dst_layer, dst_iter),
          eng);
      vanilla_rnn_backward::primitive_desc bpd(
          vanilla_rnn_backward::desc(prop_kind::backward, algorithm::eltwise_tanh, dir, src_layer, src_iter, w_layer,
                                     w_iter, bias, dst_layer, dst_iter, src_layer, src_iter, w_layer, w_iter, bias,
                                     dst_layer, dst_iter),
          eng, fpd);
      setup(fpd, bpd, lstm);
      fwd_ = vanilla_rnn_forward(fpd);
      bwd_ = vanilla_rnn_backward(bpd);
    }
  }

  void step() {
    fwd_.execute(strm_, fwd_args_);
    // Weight gradients accumulate in oneDNN as in seqnet; both start each step from zero.
    for (auto* m : {&d_w_layer_, &d_w_iter_, &d_bias_})
      std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    bwd_.execute(strm_, bwd_args_);
    strm_.wait();
  }

 private:
  template <typename FwdPd, typename BwdPd>
  void setup(const FwdPd& f, const BwdPd& b, bool lstm) {
    using dnnl::memory;
    auto mem = [&](const memory::desc& d, uint64_t seed) {
      memory m(d, eng_);
      fill_random(m, seed);
      return m;
    };
    auto zero = [&](const memory::desc& d) {
      memory m(d, eng_);
      std::memset(m.get_data_handle(), 0, d.get_size());
      return m;
    };
    memory src_layer = mem(f.src_layer_desc(), 1), src_iter = zero(f.src_iter_desc());
    memory w_layer = mem(f.weights_layer_desc(), 2), w_iter = mem(f.weights_iter_desc(), 3);
    memory bias = mem(f.bias_desc(), 4), dst_layer = mem(f.dst_layer_desc(), 5), dst_iter = mem(f.dst_iter_desc(), 6);
    memory ws = zero(f.workspace_desc());
    fwd_args_ = {{DNNL_ARG_SRC_LAYER, src_layer}, {DNNL_ARG_SRC_ITER, src_iter}, {DNNL_ARG_WEIGHTS_LAYER, w_layer},
                 {DNNL_ARG_WEIGHTS_ITER, w_iter},  {DNNL_ARG_BIAS, bias},          {DNNL_ARG_DST_LAYER, dst_layer},
                 {DNNL_ARG_DST_ITER, dst_iter},    {DNNL_ARG_WORKSPACE, ws}};
    // The backward wants its own weight layouts.
    memory bw_layer = mem(b.weights_layer_desc(), 7), bw_iter = mem(b.weights_iter_desc(), 8);
    d_w_layer_ = zero(b.diff_weights_layer_desc());
    d_w_iter_ = zero(b.diff_weights_iter_desc());
    d_bias_ = zero(b.diff_bias_desc());
    memory d_dst_layer = mem(b.diff_dst_layer_desc(), 9), d_dst_iter = zero(b.diff_dst_iter_desc());
    memory d_src_layer = zero(b.diff_src_layer_desc()), d_src_iter = zero(b.diff_src_iter_desc());
    bwd_args_ = {{DNNL_ARG_SRC_LAYER, src_layer},       {DNNL_ARG_SRC_ITER, src_iter},
                 {DNNL_ARG_WEIGHTS_LAYER, bw_layer},    {DNNL_ARG_WEIGHTS_ITER, bw_iter},
                 {DNNL_ARG_BIAS, bias},                 {DNNL_ARG_DST_LAYER, dst_layer},
                 {DNNL_ARG_DST_ITER, dst_iter},         {DNNL_ARG_WORKSPACE, ws},
                 {DNNL_ARG_DIFF_DST_LAYER, d_dst_layer}, {DNNL_ARG_DIFF_DST_ITER, d_dst_iter},
                 {DNNL_ARG_DIFF_SRC_LAYER, d_src_layer}, {DNNL_ARG_DIFF_SRC_ITER, d_src_iter},
                 {DNNL_ARG_DIFF_WEIGHTS_LAYER, d_w_layer_}, {DNNL_ARG_DIFF_WEIGHTS_ITER, d_w_iter_},
                 {DNNL_ARG_DIFF_BIAS, d_bias_}};
    if (lstm) {
      memory src_iter_c = zero(f.src_iter_c_desc()), dst_iter_c = mem(f.dst_iter_c_desc(), 10);
      fwd_args_.insert({{DNNL_ARG_SRC_ITER_C, src_iter_c}, {DNNL_ARG_DST_ITER_C, dst_iter_c}});
      memory d_dst_iter_c = zero(b.diff_dst_iter_c_desc()), d_src_iter_c = zero(b.diff_src_iter_c_desc());
      bwd_args_.insert({{DNNL_ARG_SRC_ITER_C, src_iter_c},
                        {DNNL_ARG_DST_ITER_C, dst_iter_c},
                        {DNNL_ARG_DIFF_DST_ITER_C, d_dst_iter_c},
                        {DNNL_ARG_DIFF_SRC_ITER_C, d_src_iter_c}});
    }
  }

  dnnl::engine& eng_;
  dnnl::stream strm_;
  dnnl::primitive fwd_, bwd_;
  std::unordered_map<int, dnnl::memory> fwd_args_, bwd_args_;
  dnnl::memory d_w_layer_, d_w_iter_, d_bias_;
};

// seqnet's layer at the same shape: forward in training mode, backward, gradients zeroed each step.
class SeqnetLayer {
 public:
  explicit SeqnetLayer(const Shape3& s) {
    RecurrentOptions o{.return_sequences = s.return_sequences};
    std::shared_ptr<RNN> cell;
    if (s.cell == 'L') cell = layers::LSTM(s.U, o);
    else if (s.cell == 'G') cell = layers::GRU(s.U, o);
    else cell = layers::SimpleRNN(s.U, o);
    layer_ = s.bidirectional ? layers::Bidirectional(cell) : LayerPtr(cell);
    Rng rng(1);
    layer_->build({-1, s.T, s.C}, rng);
    x_ = random_tensor({s.B, s.T, s.C}, 2);
    RunContext ctx;
    dy_ = random_tensor(layer_->call(x_, ctx).shape(), 3);
  }
  void step() {
    for (Param* p : layer_->params()) p->grad.fill(0.0f);
    RunContext ctx;
    ctx.training = true;
    Rng rng(4);
    ctx.rng = &rng;
    layer_->call(x_, ctx);
    layer_->backward(dy_);
  }

 private:
  static Tensor random_tensor(Shape shape, uint64_t seed) {
    Tensor t(std::move(shape));
    Rng rng(seed);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
    return t;
  }
  LayerPtr layer_;
  Tensor x_, dy_;
};

// Median ms of `step` over `rounds` rounds, each the mean of enough calls to last ~50 ms.
double time_ms(const std::function<void()>& step, int calls) {
  const double t0 = now_ms();
  for (int i = 0; i < calls; ++i) step();
  return (now_ms() - t0) / calls;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t next = s.find(',', pos);
    out.push_back(std::stoi(s.substr(pos, next - pos)));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // The seqnet command's allocator settings (tools/seqnet/main.cpp): freed activation buffers stay in the heap
  // instead of being unmapped and faulted in again on the next call. oneDNN keeps its own scratchpad.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  int rounds = 7;
  std::vector<int> threads = {1, 2};
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = parse_list(argv[++i]);
    else if (a == "--setups" && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: onednn_yardstick [--rounds N] [--threads 1,2] [--setups ACEFGIJ]\n");
      return 2;
    }
  }
  const dnnl_version_t* v = dnnl_version();
  std::printf("# oneDNN %d.%d.%d (cpu runtime %s), seqnet %s; forward (training) + backward of one batch, ms, median of %d rounds\n",
              v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other", version(), rounds);
  std::printf("| setup | layer | B x T x C -> U | threads | seqnet ms | oneDNN ms | oneDNN / seqnet |\n|---|---|---|---|---|---|---|\n");
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  for (const Shape3& s : kShapes) {
    if (!only.empty() && only.find(s.setup) == std::string::npos) continue;
    OneDnnLayer ref(s, eng);
    SeqnetLayer ours(s);
    for (int t : threads) {
      set_num_threads(t);  // seqnet's pool; oneDNN's OpenMP regions follow omp_set_num_threads too
      omp_set_num_threads(t);
      ref.step();
      ours.step();  // warm-up: allocations, page faults, oneDNN's kernel generation
      const double once = std::max(time_ms([&] { ref.step(); }, 1), time_ms([&] { ours.step(); }, 1));
      const int calls = std::max(1, int(50.0 / std::max(once, 1e-3)));
      std::vector<double> a, b;
      for (int r = 0; r < rounds; ++r) {  // interleaved, so that drifts of the machine hit both
        a.push_back(time_ms([&] { ours.step(); }, calls));
        b.push_back(time_ms([&] { ref.step(); }, calls));
      }
      const double ms_ours = median(a), ms_ref = median(b);
      std::printf("| %c | %s | %lld x %lld x %lld -> %lld | %d | %.3f | %.3f | %.2fx |\n", s.setup, s.what, (long long)s.B,
                  (long long)s.T, (long long)s.C, (long long)s.U, t, ms_ours, ms_ref, ms_ref / ms_ours);
      std::fflush(stdout);
    }
  }
  return 0;
}
