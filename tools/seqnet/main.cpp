// The seqnet command: summary, train, and friends. Every failure prints one clear line and exits 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>

#include "commands.h"
#include "seqnet/seqnet.h"

int main(int argc, char** argv) {
  CLI::App app{"seqnet: Keras-style sequence deep learning in C++"};
  app.set_version_flag("--version", std::string("seqnet ") + seqnet::version());
  app.require_subcommand(1);

  std::string model_path;
  int line_length = 0;
  auto* summary = app.add_subcommand("summary", "Print the Keras summary of a model config (Keras JSON, .keras)");
  summary->add_option("model", model_path, "Keras model JSON (model.to_json()) or config.json")->required()->check(CLI::ExistingFile);
  summary->add_option("--line-length", line_length, "Table width (Keras default 88)");

  seqnet_cli::TrainArgs train_args;
  auto* train = app.add_subcommand("train", "Train a model from an experiment file and print the Keras-style log");
  seqnet_cli::add_train_options(*train, train_args);

  seqnet_cli::BenchArgs bench_args;
  auto* bench = app.add_subcommand("bench", "Time training and inference of the benchmark setups A-J (see BENCHMARKS.md)");
  seqnet_cli::add_bench_options(*bench, bench_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*summary) {
      auto model = seqnet::model_from_json_file(model_path);
      model->summary(line_length);
    } else if (*train) {
      return seqnet_cli::run_train(train_args);
    } else if (*bench) {
      return seqnet_cli::run_bench(bench_args, argv[0]);
    }
  } catch (const seqnet::Error& e) {
    std::fprintf(stderr, "seqnet: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seqnet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
