#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace seqnet_cli {

struct TrainArgs {
  std::string experiment;
  std::optional<int> epochs;
  std::string data_dir;
  std::string out_dir;
  std::optional<uint64_t> seed;  // none: the experiment's "seed"
  int threads = 0;
  int verbose = 1;
  std::vector<std::string> overrides;  // --set key.path=value
  bool resume = false, restart = false;
};
void add_train_options(CLI::App& cmd, TrainArgs& args);
int run_train(const TrainArgs& args);

// seqnet bench: the setups A-J of ../shared/peers/bench_torch.py timed with seqnet (bench.cpp).
struct BenchArgs {
  std::string model = "all";
  std::string threads = "1,2";
  int steps = 20;
  double min_s = 1.0;
  int max_steps = 200;
  int rounds = 4;
  std::string jsonl;
  double scale = 1.0;
  float recurrent_dropout = 0.0f;  // set on every recurrent layer: what recurrent dropout costs a step
  bool quick = false;
  bool no_isolate = false;
};
void add_bench_options(CLI::App& cmd, BenchArgs& args);
int run_bench(const BenchArgs& args, const char* argv0);

}  // namespace seqnet_cli
