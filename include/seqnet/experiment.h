// Experiments: a JSON file that names a data set and its preparation, a Keras model config, the
// compile / fit settings and the callbacks — what `seqnet train EXPERIMENT.json` runs. See
// docs/experiments.md for every key.
//
//   seqnet::ExperimentOptions o;
//   o.out_dir = "runs/weather_gru";          // history.csv/.json, figures, best.keras, test.json, report.md, run.json
//   auto r = seqnet::run_experiment_file("experiments/weather_gru.json", o);
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seqnet/callbacks.h"
#include "seqnet/layer.h"
#include "seqnet/model.h"

namespace seqnet {

struct ExperimentOptions {
  std::optional<int> epochs;     // overrides fit.epochs
  std::string data_dir;          // where data sets are looked up first
  std::string out_dir;           // run outputs; empty: none written
  std::optional<uint64_t> seed;  // overrides the experiment's seed
  int verbose = 1;
  // "dotted.path=JSON value" edits applied to the experiment before it runs, e.g.
  // "fit.steps_per_epoch=20", "dataset.train_samples=2000", "fit.batch_size=64" (a value that is not
  // valid JSON is taken as a string).
  std::vector<std::string> overrides;
  // An out_dir holding an interrupted run (its checkpoint/ folder, written after every epoch) is continued
  // from its last completed epoch, to the same result as an uninterrupted run: `automatic` does so when
  // there is one and starts afresh otherwise; `resume` requires one; `restart` discards it.
  enum class Resume { automatic, resume, restart };
  Resume resume = Resume::automatic;
};

struct ExperimentResult {
  std::string name;
  std::string kind = "train";  // "train" or "baseline"
  std::string description;     // the experiment file's description
  std::string data_description;
  History history;
  Logs test;                   // evaluation on the test split ("loss", metrics), if the experiment has one
  int epochs_run = 0;
  double seconds_per_epoch = 0;
  // The reported metric: "acc", "mae", "mse", ... ("loss" is shown under the loss's name).
  std::string metric;
  std::string metric_key;      // its key in the history ("acc", "loss", ...)
  std::optional<double> best_val;  // best val_<metric_key> over the epochs
  int best_epoch = 0;              // 1-based epoch of best_val
  std::optional<double> test_metric;
  // Common-sense / last-value baselines by metric ("mae", "mse"), normalized units.
  std::map<std::string, double> baseline_val, baseline_test;
  std::optional<double> baseline_mae;  // = baseline_val["mae"], for forecasting experiments
  std::optional<double> target_std;    // to turn a normalized MAE back into units
  std::string units;                   // of the target ("°C"), when target_std is set
  std::vector<std::string> files;      // files written into the run folder
  uint64_t seed = 0;                   // the seed the run used
  std::vector<std::string> overrides;  // the edits it ran with (--set, and --epochs as fit.epochs=N)
};

// Runs an experiment given as JSON; base_dir resolves relative paths ("model_path").
ExperimentResult run_experiment(Json spec, const std::string& base_dir, const ExperimentOptions& options);
ExperimentResult run_experiment_file(const std::string& path, const ExperimentOptions& options);

// Reads an experiment file and applies options.overrides.
Json load_experiment_spec(const std::string& path, const std::vector<std::string>& overrides = {});
// Sets spec[a][b][c] = value for "a.b.c=value" (value parsed as JSON, else taken as a string).
void apply_override(Json& spec, const std::string& assignment);

// The test split of an experiment's data set, prepared as `seqnet train` prepares it, and a model's
// evaluation on it (what `seqnet evaluate MODEL.keras --experiment EXP.json` prints).
struct TestEvaluation {
  Logs logs;
  std::string data_description;
  std::map<std::string, double> baseline_test;
  std::optional<double> target_std;
  std::string units;
};
TestEvaluation evaluate_on_experiment(Model& model, const Json& spec, const ExperimentOptions& options);

// The run folder's summary (run.json), what `seqnet report` reads.
Json run_summary_json(const ExperimentResult& result);
// One Markdown table over runs (run.json contents), with reference figures beside them:
// `references` maps an experiment name to {"source", "metric", "value", "note"} (see read_reference_table).
std::string runs_report_markdown(const std::vector<Json>& runs, const std::map<std::string, Json>& references);
// The "Reference results" table of docs/experiments.md: | experiment | source | metric | value | note |.
std::map<std::string, Json> read_reference_table(const std::string& markdown_path);

}  // namespace seqnet
