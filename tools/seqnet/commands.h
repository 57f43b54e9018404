#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace seqnet_cli {

struct TrainArgs {
  std::string experiment;
  std::optional<int> epochs;
  std::string data_dir;
  std::string out_dir;
  uint64_t seed = 1337;
  int threads = 0;
  int verbose = 1;
};
void add_train_options(CLI::App& cmd, TrainArgs& args);
int run_train(const TrainArgs& args);

}  // namespace seqnet_cli
