// The seqnet command: summary, train, and friends. Every failure prints one clear line and exits 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>
#include <malloc.h>

#include "commands.h"
#include "experiment_commands.h"
#include "seqnet/distributed.h"
#include "seqnet/seqnet.h"

int main(int argc, char** argv) {
  // Training allocates the same large activation buffers every step. glibc would serve each from a fresh
  // mmap (page faults and zeroing by the kernel: ~10 % of a Conv1D model's step) and hand freed heap
  // back to the system; keeping freed memory in the heap reuses it instead. Peak memory is unchanged.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // Under `mpirun -np N seqnet train ...` every rank runs this; MPI starts only when mpirun launched us.
  seqnet::distributed::init(&argc, &argv);
  try {
    seqnet::kernel_variant();  // a bad SEQNET_KERNELS is reported here, before any work
  } catch (const seqnet::Error& e) {
    std::fprintf(stderr, "seqnet: error: %s\n", e.what());
    return 1;
  }
  CLI::App app{"seqnet: Keras-style sequence deep learning in C++"};
  app.set_version_flag("--version", [] {
    return std::string("seqnet ") + seqnet::version() + " (kernels: " + seqnet::kernel_variant() + ")";
  });
  app.require_subcommand(1);

  std::string model_path;
  int line_length = 0;
  auto* summary = app.add_subcommand("summary", "Print the Keras summary of a model (Keras JSON, .keras, .h5)");
  summary->add_option("model", model_path, "Keras model JSON (model.to_json()), config.json, .keras or .h5 model file")->required()->check(CLI::ExistingFile);
  summary->add_option("--line-length", line_length, "Table width (Keras default 88)")->check(CLI::Range(20, 1000));

  seqnet_cli::TrainArgs train_args;
  auto* train = app.add_subcommand("train", "Train a model from an experiment file and print the Keras-style log");
  seqnet_cli::add_train_options(*train, train_args);
  seqnet_cli::add_experiment_commands(app);

  seqnet_cli::BenchArgs bench_args;
  auto* bench = app.add_subcommand("bench", "Time training and inference of the benchmark setups A-J (see BENCHMARKS.md)");
  seqnet_cli::add_bench_options(*bench, bench_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "seqnet: error: %s (see seqnet --help)\n", e.what());
    return 1;
  }
  try {
    if (*summary) {
      return seqnet_cli::run_summary(model_path, line_length);
    } else if (*train) {
      return seqnet_cli::run_train(train_args);
    } else if (*bench) {
      return seqnet_cli::run_bench(bench_args, argv[0]);
    } else if (int rc = seqnet_cli::run_experiment_commands(argv[0]); rc >= 0) {
      return rc;
    }
  } catch (const std::exception& e) {  // seqnet::Error and the rest
    // Under mpirun one failing rank stops the whole job: the others would wait forever in their next
    // collective, and a plain exit would block this rank in MPI_Finalize.
    if (seqnet::distributed::active()) seqnet::distributed::abort_all((std::string("error: ") + e.what()).c_str());
    std::fprintf(stderr, "seqnet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
