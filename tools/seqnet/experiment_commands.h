// seqnet evaluate / predict / plot / report / datasets, and summary of any model file
// (experiment_commands.cpp). Every failure throws seqnet::Error, which main() prints as one line.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace seqnet_cli {

// Registers the subcommands evaluate, predict, plot, report and datasets on `app`.
void add_experiment_commands(CLI::App& app);
// Runs the one of them that was parsed and returns its exit status; -1 when none was given.
int run_experiment_commands(const char* argv0);
// seqnet summary: a Keras model JSON / config.json, a .keras file or a legacy .h5 model file.
int run_summary(const std::string& path, int line_length);

}  // namespace seqnet_cli
