// seqnet train EXPERIMENT.json [--epochs N] [--data-dir D] [--out DIR] [--seed S] [--threads T] [--set k=v]...
//              [--resume | --restart]
#include "commands.h"
#include "seqnet/experiment.h"
#include "seqnet/threads.h"

namespace seqnet_cli {

void add_train_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("experiment", a.experiment, "Experiment file (JSON, see docs/experiments.md)")->required()->check(CLI::ExistingFile);
  cmd.add_option("--epochs", a.epochs, "Override the experiment's epoch count");
  cmd.add_option("--data-dir", a.data_dir, "Folder holding the data sets (default: $SEQNET_DATA_DIR, ../shared/data)");
  cmd.add_option("--out", a.out_dir,
                 "Run folder: history.csv/.json, figures, best.keras, test.json, run.json, report.md");
  cmd.add_option("--seed", a.seed, "Random seed (weights, shuffles, dropout); default: the experiment's");
  cmd.add_option("--threads", a.threads, "Threads (default: $SEQNET_NUM_THREADS or all cores)")->check(CLI::PositiveNumber);
  cmd.add_option("--verbose", a.verbose, "0 silent, 1 progress bar, 2 one line per epoch");
  cmd.add_option("--set", a.overrides,
                 "Edit the experiment before it runs: key.path=JSON value, e.g. --set fit.steps_per_epoch=20 "
                 "--set dataset.train_samples=2000 (repeatable)");
  auto* resume = cmd.add_flag("--resume", a.resume,
                              "Continue the interrupted run in --out from its last completed epoch (an error if there "
                              "is none); without --resume or --restart an interrupted run is continued, a finished one "
                              "replaced");
  cmd.add_flag("--restart", a.restart, "Start over in --out, discarding an interrupted run there")->excludes(resume);
}

int run_train(const TrainArgs& a) {
  if (a.threads > 0) seqnet::set_num_threads(a.threads);
  seqnet::ExperimentOptions o;
  o.epochs = a.epochs;
  o.data_dir = a.data_dir;
  o.out_dir = a.out_dir;
  o.seed = a.seed;
  o.verbose = a.verbose;
  o.overrides = a.overrides;
  if ((a.resume || a.restart) && a.out_dir.empty()) throw seqnet::Error("--resume and --restart need --out (the run folder)");
  o.resume = a.resume    ? seqnet::ExperimentOptions::Resume::resume
             : a.restart ? seqnet::ExperimentOptions::Resume::restart
                         : seqnet::ExperimentOptions::Resume::automatic;
  seqnet::run_experiment_file(a.experiment, o);
  return 0;
}

}  // namespace seqnet_cli
