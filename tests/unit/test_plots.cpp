// History files and figures.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

#include "seqnet/history.h"
#include "seqnet/saving.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
namespace fs = std::filesystem;

namespace {
History sample_history() {
  History h;
  Logs l;
  for (int e = 0; e < 12; ++e) {
    l.set("loss", 0.7 * std::exp(-0.25 * e) + 0.05);
    l.set("acc", 0.55 + 0.4 * (1 - std::exp(-0.3 * e)));
    l.set("val_loss", 0.65 * std::exp(-0.2 * e) + 0.12 + 0.01 * e);
    l.set("val_acc", 0.55 + 0.32 * (1 - std::exp(-0.35 * e)));
    h.append(e, l);
  }
  return h;
}
std::string dir_for(const std::string& n) {
  fs::path p = fs::temp_directory_path() / ("seqnet_plot_" + n + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}
}  // namespace

TEST(HistoryFiles, CsvAndJsonRoundTrip) {
  History h = sample_history();
  std::string d = dir_for("io");
  fs::create_directories(d);
  write_history_csv(h, d + "/h.csv");
  write_history_json(h, d + "/h.json");
  std::string csv = read_file_bytes(d + "/h.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "epoch,acc,loss,val_acc,val_loss");
  for (const History& r : {read_history_csv(d + "/h.csv"), read_history_json(d + "/h.json")}) {
    EXPECT_EQ(r.epoch, h.epoch);
    for (const auto& [k, v] : h.history) EXPECT_EQ(r[k], v) << k;  // shortest round-trip text: exact
  }
  EXPECT_THROW(read_history_csv(d + "/h.json"), Error);
  fs::remove_all(d);
}

TEST(Plots, OneFigurePerMetricAsPngAndSvg) {
  History h = sample_history();
  std::string d = dir_for("fig");
  auto files = plot_history(h, d, {.png = true, .svg = true});
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(fs::path(files[0]).filename(), "loss.png");
  EXPECT_EQ(fs::path(files[1]).filename(), "loss.svg");
  EXPECT_EQ(fs::path(files[2]).filename(), "acc.png");
  std::string png = read_file_bytes(files[0]);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_GT(png.size(), 5000u);
  std::string svg = read_file_bytes(files[1]);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  if (const char* keep = std::getenv("SEQNET_PLOT_DIR")) {  // for looking at the figures
    fs::create_directories(keep);
    for (auto& f : files) fs::copy_file(f, fs::path(keep) / fs::path(f).filename(), fs::copy_options::overwrite_existing);
  }
  fs::remove_all(d);
  History train_only;
  Logs l;
  l.set("loss", 1.0);
  train_only.append(0, l);
  EXPECT_EQ(plot_history(train_only, d).size(), 1u);
  fs::remove_all(d);
}
