// seqnet bench [--model A..J|all] [--threads N[,M...]] [--steps N] [--jsonl FILE]
//
// Times the training step (Model::train_on_batch: forward, loss, backward, optimizer) and the inference
// step (Model::forward with training=false) of the ten setups A-J of ../shared/peers/bench_torch.py, at
// exactly its shapes, batch sizes, losses and optimizers (Keras defaults), on one fixed random batch.
// Warm-up, then the median of >= --steps steps (and >= --min-s seconds), thread configurations interleaved
// round by round as the peer script does. One line per (model, threads):
//
//   RESULT model=A threads=1 train_ms=... infer_ms=... infer_b1_ms=... peak_rss_mb=... train_gflops=... ...
//
// With several models each one runs in a child process of its own (this program re-executed), so that
// peak_rss_mb is the peak of that model alone.
#include <sys/resource.h>
#include <sys/wait.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "seqnet/seqnet.h"

extern char** environ;

namespace seqnet_cli {

using namespace seqnet;

namespace {

struct Setup {
  std::shared_ptr<Sequential> model;
  Tensor x, y;
  std::string desc;
  std::string skipped;  // non-empty: the setup cannot be built, and why
};

// Keras optimizer defaults, as the peer script: RMSprop(rho=0.9, eps=1e-7), Adam(eps=1e-7).
OptimizerPtr rmsprop(float lr) { return optimizers::RMSprop({.learning_rate = lr, .rho = 0.9f, .epsilon = 1e-7f}); }
OptimizerPtr adam() { return optimizers::Adam({.learning_rate = 1e-3f, .epsilon = 1e-7f}); }

Tensor random_ids(Rng& rng, int64_t B, int64_t T, int64_t V) {
  std::vector<int32_t> v(size_t(B * T));
  for (auto& id : v) id = int32_t(rng.randint(0, V));
  return Tensor::ints({B, T}, std::move(v));
}
Tensor random_normal(Rng& rng, Shape s) {
  Tensor t(std::move(s));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.normal();
  return t;
}
Tensor random_labels(Rng& rng, int64_t B, int64_t classes) {
  Tensor t({B});
  for (int64_t i = 0; i < B; ++i) t[i] = float(rng.randint(0, classes));
  return t;
}
Tensor random_uniform(Rng& rng, int64_t B) {
  Tensor t({B});
  for (int64_t i = 0; i < B; ++i) t[i] = rng.uniform();
  return t;
}

// scale < 1 shrinks the batch and time axes (CI smoke runs); 1 is the peer's exact setup.
Setup build_setup(char name, double scale, float recurrent_dropout) {
  set_random_seed(0);
  clear_session();
  Rng rng(0);
  auto sc = [&](int64_t v) { return std::max<int64_t>(1, int64_t(std::lround(double(v) * scale))); };
  auto rd = [&](RecurrentOptions o = {}) {
    o.recurrent_dropout = recurrent_dropout;
    return o;
  };
  Setup s;
  auto seq = std::make_shared<Sequential>();
  s.model = seq;
  namespace L = seqnet::layers;
  if (name == 'A' || name == 'B' || name == 'C') {
    const int64_t B = sc(64), T = sc(100), V = 500, E = 16;
    seq->add(Input({T}, {.dtype = DType::int32}));
    seq->add(L::Embedding(V, E));
    if (name == 'A') {
      seq->add(L::LSTM(8, rd()));
      s.desc = "Embedding(500,16) LSTM(8) Dense(1,sigmoid); B=64 T=100; BCE RMSprop(1e-4)";
    } else if (name == 'B') {
      seq->add(L::Dropout(0.3f));
      seq->add(L::LSTM(8, rd({.return_sequences = true})));
      seq->add(L::Dropout(0.3f));
      seq->add(L::LSTM(8, rd()));
      s.desc = "Embedding(500,16) Dropout(.3) LSTM(8,rs) Dropout(.3) LSTM(8) Dense(1,sigmoid); B=64 T=100; BCE RMSprop(1e-4)";
    } else {
      seq->add(L::GRU(8, rd()));
      s.desc = "Embedding(500,16) GRU(8) Dense(1,sigmoid); B=64 T=100; BCE RMSprop(1e-4)";
    }
    seq->add(L::Dense(1, {.activation = "sigmoid"}));
    seq->compile({.optimizer = rmsprop(1e-4f), .loss = "binary_crossentropy"});
    s.x = random_ids(rng, B, T, V);
    s.y = random_labels(rng, B, 2);
  } else if (name == 'D') {
    const int64_t B = sc(32), T = std::max<int64_t>(sc(500), 50), V = 10000, E = 128;
    seq->add(Input({T}, {.dtype = DType::int32}));
    seq->add(L::Embedding(V, E));
    seq->add(L::Conv1D(32, 7, {.activation = "relu"}));
    seq->add(L::MaxPooling1D(5));
    seq->add(L::Conv1D(32, 7, {.activation = "relu"}));
    seq->add(L::GlobalMaxPooling1D());
    seq->add(L::Dense(1, {.activation = "sigmoid"}));  // the peer's BCE-with-logits
    seq->compile({.optimizer = rmsprop(1e-3f), .loss = "binary_crossentropy"});
    s.x = random_ids(rng, B, T, V);
    s.y = random_labels(rng, B, 2);
    s.desc = "Embedding(10000,128) Conv1D(32,7,relu) MaxPool1D(5) Conv1D(32,7,relu) GlobalMaxPool1D Dense(1); B=32 T=500; BCE RMSprop(1e-3)";
  } else if (name >= 'E' && name <= 'H') {
    const int64_t B = sc(128), F = 14, T = name == 'H' ? std::max<int64_t>(sc(480), 30) : sc(240);
    seq->add(Input({T, F}));
    if (name == 'E') {
      seq->add(L::GRU(32, rd()));
      s.desc = "GRU(32) Dense(1); B=128 T=240 F=14; MAE RMSprop(1e-3)";
    } else if (name == 'F') {
      seq->add(L::GRU(32, rd({.return_sequences = true})));
      seq->add(L::GRU(64, rd()));
      s.desc = "GRU(32,rs) GRU(64) Dense(1); B=128 T=240 F=14; MAE RMSprop(1e-3)";
    } else if (name == 'G') {
      seq->add(L::Bidirectional(L::GRU(32, rd())));
      s.desc = "Bidirectional(GRU(32)) Dense(1); B=128 T=240 F=14; MAE RMSprop(1e-3)";
    } else {
      seq->add(L::Conv1D(32, 5, {.activation = "relu"}));
      seq->add(L::MaxPooling1D(3));
      seq->add(L::Conv1D(32, 5, {.activation = "relu"}));
      seq->add(L::GRU(32, rd()));
      s.desc = "Conv1D(32,5,relu) MaxPool1D(3) Conv1D(32,5,relu) GRU(32) Dense(1); B=128 T=480 F=14; MAE RMSprop(1e-3)";
    }
    seq->add(L::Dense(1));
    seq->compile({.optimizer = rmsprop(1e-3f), .loss = "mae"});
    s.x = random_normal(rng, {B, T, F});
    s.y = random_normal(rng, {B});
  } else if (name == 'I') {
    const int64_t B = sc(32), T = 20, F = 6;  // T stays: the conv and the Flatten fix it
    seq->add(Input({T, F}));
    seq->add(L::Conv1D(32, 10, {.activation = "swish"}));
    seq->add(L::MaxPooling1D(2));
    seq->add(L::Bidirectional(L::LSTM(24, rd({.return_sequences = true})),
                           {.backward_layer = L::GRU(16, rd({.return_sequences = true, .go_backwards = true}))}));
    seq->add(L::Bidirectional(L::LSTM(24, rd({.return_sequences = true})),
                           {.backward_layer = L::GRU(24, rd({.return_sequences = true, .go_backwards = true}))}));
    seq->add(L::Flatten());
    seq->add(L::Dense(256, {.activation = "swish"}));
    seq->add(L::Dense(1, {.activation = "relu"}));
    seq->compile({.optimizer = adam(), .loss = "mae"});
    s.x = random_normal(rng, {B, T, F});
    s.y = random_uniform(rng, B);
    s.desc = "conv-bidir: Conv1D(32,10,swish) MaxPool1D(2) Bi(LSTM(24,rs), GRU(16,rs)) Bi(LSTM(24,rs), GRU(24,rs)) "
             "Flatten Dense(256,swish) Dense(1,relu); B=32 T=20 F=6; MAE Adam";
  } else if (name == 'J') {
    const int64_t B = sc(150), T = 28, F = 28;
    seq->add(Input({T, F}));
    seq->add(L::SimpleRNN(100, rd()));
    seq->add(L::Dense(10, {.activation = "softmax"}));
    seq->compile({.optimizer = adam(), .loss = "sparse_categorical_crossentropy"});
    s.x = random_normal(rng, {B, T, F});
    s.y = random_labels(rng, B, 10);
    s.desc = "SimpleRNN(100,tanh) Dense(10); B=150 T=28 F=28; softmax-CE Adam";
  } else {
    throw Error(fmt::format("bench: unknown model '{}' (known: A..J, all)", name));
  }
  return s;
}

// Forward GEMM FLOPs of one batch (the peer's convention: Dense, Conv1D as im2col, RNN input and
// recurrent projections; pointwise ops, pooling, embeddings and the loss are not counted).
double layer_flops(Layer& l, int64_t B) {
  const Shape& in = l.input_shape();
  const Shape& out = l.output_shape();
  if (auto* d = dynamic_cast<Dense*>(&l)) {
    int64_t rows = B;
    for (size_t i = 1; i + 1 < in.size(); ++i) rows *= in[i];
    return 2.0 * double(rows) * double(in.back()) * double(d->units());
  }
  if (auto* c = dynamic_cast<Conv1D*>(&l))
    return 2.0 * double(B) * double(out[1]) * double(c->filters()) * double(in[2]) * double(c->kernel_size());
  if (auto* r = dynamic_cast<RNN*>(&l)) {
    const double G = r->num_states() == 2 ? 4 : (r->class_name() == "GRU" ? 3 : 1);
    const double u = double(r->units());
    return double(in[1]) * 2.0 * double(B) * G * u * (double(in[2]) + u);
  }
  if (auto* bi = dynamic_cast<Bidirectional*>(&l))
    return layer_flops(bi->forward_layer(), B) + layer_flops(bi->backward_layer(), B);
  return 0.0;
}

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(std::lround(q * double(v.size() - 1))))];
}

using Clock = std::chrono::steady_clock;

// Runs fn at least min_steps times and for at least min_s seconds (at most max_steps); returns ms per call.
std::vector<double> run_for(const std::function<void()>& fn, int min_steps, double min_s, int max_steps) {
  std::vector<double> ms;
  const auto t0 = Clock::now();
  while (int(ms.size()) < min_steps ||
         (std::chrono::duration<double>(Clock::now() - t0).count() < min_s && int(ms.size()) < max_steps)) {
    const auto t = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  return ms;
}

std::vector<int> parse_threads(const std::string& spec) {
  std::vector<int> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    int v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || end != item.data() + item.size() || v < 1)
      throw Error("bench: --threads wants positive whole counts separated by commas (e.g. 1,2), got '" + item + "'");
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  if (out.empty()) throw Error("bench: --threads is empty");
  return out;
}

int bench_one(char name, const BenchArgs& a) {
  Setup s = build_setup(name, a.scale, a.recurrent_dropout);
  if (a.recurrent_dropout > 0) s.desc += fmt::format("; recurrent_dropout={}", a.recurrent_dropout);
  std::printf("# model=%c %s (kernels: %s)\n", name, s.desc.c_str(), kernel_variant());
  if (!s.skipped.empty()) {
    std::printf("RESULT model=%c skipped: needs %s\n", name, s.skipped.c_str());
    return 0;
  }
  Sequential& model = *s.model;
  const std::vector<int> threads = parse_threads(a.threads);
  const int64_t B = s.x.dim(0);
  double fwd_flops = 0.0;
  for (const auto& l : model.layers()) fwd_flops += layer_flops(*l, B);
  const double train_flops = 3.0 * fwd_flops;
  const Tensor x1 = s.x.slice_rows(0, 1);

  auto train_step = [&] { model.train_on_batch(s.x, s.y); };
  auto infer_step = [&] { model.forward(s.x, {.keep_for_backward = false}); };  // as predict runs it
  auto infer_b1 = [&] { model.forward(x1, {.keep_for_backward = false}); };

  const double warm_s = a.quick ? 0.0 : 0.3;
  for (int t : threads) {
    set_num_threads(t);
    run_for(train_step, a.quick ? 1 : 3, warm_s, 1 << 30);
    run_for(infer_step, a.quick ? 1 : 3, warm_s / 2, 1 << 30);
    run_for(infer_b1, a.quick ? 1 : 3, warm_s / 4, 1 << 30);
  }
  const int R = std::max(1, a.rounds);
  const int per_round = (a.steps + R - 1) / R;
  std::map<int, std::vector<double>> tt, ti, tb;
  for (int r = 0; r < R; ++r)
    for (int t : threads) {
      set_num_threads(t);
      auto v = run_for(train_step, per_round, a.min_s / R, a.max_steps / R);
      tt[t].insert(tt[t].end(), v.begin(), v.end());
      v = run_for(infer_step, per_round, a.min_s / 2 / R, 4 * a.max_steps / R);
      ti[t].insert(ti[t].end(), v.begin(), v.end());
      v = run_for(infer_b1, per_round, a.min_s / 4 / R, 4 * a.max_steps / R);
      tb[t].insert(tb[t].end(), v.begin(), v.end());
    }
  const double rss = peak_rss_mb();
  for (int t : threads) {
    const double tr = median(tt[t]), in = median(ti[t]), b1 = median(tb[t]);
    std::printf(
        "RESULT model=%c threads=%d train_ms=%.3f infer_ms=%.3f infer_b1_ms=%.4f peak_rss_mb=%.1f train_gflops=%.2f "
        "infer_gflops=%.2f train_p10_ms=%.3f train_p90_ms=%.3f infer_p10_ms=%.3f n_train=%zu n_infer=%zu "
        "fwd_mflop=%.2f train_mflop=%.2f params=%lld batch=%lld\n",
        name, t, tr, in, b1, rss, train_flops / (tr * 1e-3) / 1e9, fwd_flops / (in * 1e-3) / 1e9, pct(tt[t], 0.1),
        pct(tt[t], 0.9), pct(ti[t], 0.1), tt[t].size(), ti[t].size(), fwd_flops / 1e6, train_flops / 1e6,
        static_cast<long long>(model.count_params()), static_cast<long long>(B));
    std::fflush(stdout);
    if (!a.jsonl.empty()) {
      nlohmann::json rec = {{"impl", "seqnet"},
                            {"model", std::string(1, name)},
                            {"threads", t},
                            {"train_ms", tr},
                            {"infer_ms", in},
                            {"infer_b1_ms", b1},
                            {"peak_rss_mb", rss},
                            {"train_p10_ms", pct(tt[t], 0.1)},
                            {"train_p90_ms", pct(tt[t], 0.9)},
                            {"infer_p10_ms", pct(ti[t], 0.1)},
                            {"train_n", tt[t].size()},
                            {"infer_n", ti[t].size()},
                            {"fwd_mflop", fwd_flops / 1e6},
                            {"train_mflop", train_flops / 1e6},
                            {"train_gflops", train_flops / (tr * 1e-3) / 1e9},
                            {"infer_gflops", fwd_flops / (in * 1e-3) / 1e9},
                            {"params", model.count_params()},
                            {"batch", B},
                            {"scale", a.scale},
                            {"desc", s.desc}};
      // Appended (earlier runs' records stay), every write checked.
      FILE* f = std::fopen(a.jsonl.c_str(), "a");
      if (!f) throw Error("bench: cannot append to '" + a.jsonl + "': " + std::strerror(errno));
      const bool written = std::fprintf(f, "%s\n", rec.dump().c_str()) >= 0;
      const bool closed = std::fclose(f) == 0;
      if (!written || !closed) throw Error("bench: appending to '" + a.jsonl + "' failed: " + std::strerror(errno));
    }
  }
  return 0;
}

std::string models_of(const std::string& spec) {
  if (spec == "all" || spec == "ALL") return "ABCDEFGHIJ";
  std::string out;
  for (char c : spec) {
    if (c == ',' || c == ' ') continue;
    char u = char(std::toupper(static_cast<unsigned char>(c)));
    if (u < 'A' || u > 'J') throw Error(fmt::format("bench: unknown model '{}' (known: A..J, all)", c));
    out.push_back(u);
  }
  if (out.empty()) throw Error("bench: --model is empty");
  return out;
}

}  // namespace

void add_bench_options(CLI::App& cmd, BenchArgs& a) {
  cmd.add_option("--model", a.model, "A..J, a list (A,E,J) or all")->capture_default_str();
  cmd.add_option("--threads", a.threads, "Thread counts to time, e.g. 1 or 1,2 (default: 1,2)")->capture_default_str();
  cmd.add_option("--steps", a.steps, "Minimum timed steps per thread count (median reported)")->capture_default_str();
  cmd.add_option("--min-s", a.min_s, "Minimum timed seconds of training per thread count")->capture_default_str();
  cmd.add_option("--max-steps", a.max_steps, "Maximum timed training steps per thread count")->capture_default_str();
  cmd.add_option("--rounds", a.rounds, "Rounds the timed steps are split into, thread counts interleaved")
      ->capture_default_str();
  cmd.add_option("--jsonl", a.jsonl, "Append one JSON record per result to this file");
  cmd.add_option("--scale", a.scale, "Shrink batch and time axes by this factor (smoke tests; 1 = the peer's shapes)")
      ->capture_default_str();
  cmd.add_option("--recurrent-dropout", a.recurrent_dropout,
                 "Set this recurrent_dropout on every recurrent layer (what it costs a training step)")
      ->capture_default_str();
  cmd.add_flag("--quick", a.quick, "One warm-up step, no minimum time (smoke tests)");
  cmd.add_flag("--no-isolate", a.no_isolate, "Run every model in this process (peak_rss_mb is then cumulative)");
}

int run_bench(const BenchArgs& a, const char* argv0) {
  const std::string models = models_of(a.model);
  if (a.scale <= 0 || a.scale > 1) throw Error("bench: --scale must be in (0, 1]");
  if (a.steps < 1) throw Error("bench: --steps must be >= 1");
  if (a.recurrent_dropout < 0 || a.recurrent_dropout >= 1) throw Error("bench: --recurrent-dropout must be in [0, 1)");
  parse_threads(a.threads);  // a bad list is one error here, not one per model process
  if (models.size() == 1 || a.no_isolate) {
    for (char m : models) bench_one(m, a);
    return 0;
  }
  // One child process per model: peak RSS per model, no state carried between models.
  int rc_all = 0;
  for (char m : models) {
    std::vector<std::string> args = {argv0,          "bench",       "--model",  std::string(1, m),
                                     "--threads",    a.threads,     "--steps",  std::to_string(a.steps),
                                     "--min-s",      fmt::format("{}", a.min_s), "--max-steps", std::to_string(a.max_steps),
                                     "--rounds",     std::to_string(a.rounds),   "--scale",     fmt::format("{}", a.scale)};
    if (!a.jsonl.empty()) args.insert(args.end(), {"--jsonl", a.jsonl});
    if (a.quick) args.push_back("--quick");
    if (a.recurrent_dropout > 0) args.insert(args.end(), {"--recurrent-dropout", fmt::format("{}", a.recurrent_dropout)});
    std::vector<char*> cargs;
    for (auto& s : args) cargs.push_back(s.data());
    cargs.push_back(nullptr);
    std::fflush(stdout);
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, cargs.data(), environ) != 0)
      throw Error("bench: cannot start a child process for model " + std::string(1, m));
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "seqnet: error: bench of model %c failed\n", m);
      rc_all = 1;
    }
  }
  return rc_all;
}

}  // namespace seqnet_cli
