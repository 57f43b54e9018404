// Training history on disk and as figures.
//
//   History h = model.fit(...);
//   seqnet::write_history_csv(h, "history.csv");   // epoch,acc,loss,val_acc,val_loss (as CSVLogger)
//   seqnet::write_history_json(h, "history.json"); // {"epoch": [...], "history": {"loss": [...], ...}}
//   auto files = seqnet::plot_history(h, "figures");  // figures/loss.png, figures/acc.png, ...
//
// The figures follow the book's: one per metric, training values as dots, validation values as a
// line, with title, axis labels, tick labels and legend. Drawn with cairo (PNG and SVG).
#pragma once
#include <string>
#include <vector>

#include "seqnet/callbacks.h"

namespace seqnet {

void write_history_csv(const History& history, const std::string& path);
void write_history_json(const History& history, const std::string& path);
// Reads what write_history_csv or CSVLogger wrote (an "epoch" column, then one column per key).
History read_history_csv(const std::string& path);
History read_history_json(const std::string& path);

struct PlotOptions {
  bool png = true;
  bool svg = false;
  int width = 640;   // pixels (PNG) or points (SVG)
  int height = 480;
};

// One figure per metric ("loss", "acc", ...; each with its "val_" partner when logged). Creates
// out_dir if needed and returns the files written, in the history's key order.
std::vector<std::string> plot_history(const History& history, const std::string& out_dir, PlotOptions options = {});

}  // namespace seqnet
