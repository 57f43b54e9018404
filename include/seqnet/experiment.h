// Experiments: a JSON file that names a data set and its preparation, a Keras model config, and the
// compile / fit settings — what `seqnet train EXPERIMENT.json` runs. See docs/experiments.md.
#pragma once
#include <optional>
#include <string>

#include "seqnet/callbacks.h"
#include "seqnet/layer.h"

namespace seqnet {

struct ExperimentOptions {
  std::optional<int> epochs;   // overrides fit.epochs
  std::string data_dir;        // where data sets are looked up first
  std::string out_dir;         // run outputs; empty: none written
  std::optional<uint64_t> seed;  // overrides the experiment's seed
  int verbose = 1;
};

struct ExperimentResult {
  std::string name;
  History history;
  Logs test;                   // evaluation on the test split ("loss", metrics), if the experiment has one
  double seconds_per_epoch = 0;
  std::optional<double> baseline_mae;  // the common-sense baseline, for forecasting experiments
  std::optional<double> target_std;    // to turn normalized MAE back into units
};

ExperimentResult run_experiment(const Json& spec, const std::string& base_dir, const ExperimentOptions& options);
ExperimentResult run_experiment_file(const std::string& path, const ExperimentOptions& options);

}  // namespace seqnet
