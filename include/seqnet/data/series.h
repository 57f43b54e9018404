// A time series read from one or many CSV files, with its missing values handled per column and on purpose:
// filled, interpolated, carried forward, or the row dropped — and a dropped row splits the series, so that
// no window and no target of a generator ever reaches across a gap or from one file into the next.
//
//   data::SeriesOptions o;
//   o.columns = {"TEMP", "DEWP", "PRES"};
//   o.missing = {data::GapPolicy::interpolate, .max_gap = 6};
//   data::Series s = data::read_series(data::expand_paths({"stations/*.csv.gz"}), o);
//   // s.values (rows, 3); s.runs: the unbroken stretches, for GeneratorOptions::runs; s.summary() for the log
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::data {

enum class GapPolicy {
  fail,         // an error naming the file, the line, the column and how many values are missing (the default)
  drop,         // the row is dropped: the series is split there
  interpolate,  // linear between the values around a gap of at most max_gap rows; a longer gap is dropped
  ffill,        // the last value before the gap, for at most max_gap rows; a longer gap is dropped
  fill,         // `value`
};

struct MissingValues {
  GapPolicy policy = GapPolicy::fail;
  float value = 0.0f;    // fill
  int64_t max_gap = 6;   // interpolate, ffill: the longest run of missing rows that is filled
};

struct SeriesOptions {
  std::vector<std::string> columns;                      // read these, in this order; the only ones checked
  MissingValues missing;                                 // every column's policy ...
  std::map<std::string, MissingValues> missing_columns;  // ... unless it has its own
  std::vector<std::string> na_values = {"NA", ""};       // cells that count as missing (after trimming)
  char delimiter = ',';
};

struct SeriesFile {
  std::string path;
  int64_t first_row = 0;  // its rows are values[first_row, first_row + rows)
  int64_t rows = 0;
  std::vector<int64_t> lines;  // 1-based source line of each row
};

struct ColumnGaps {
  int64_t missing = 0;  // cells missing in the files
  int64_t filled = 0;   // of those, filled by the column's policy (the others dropped their rows)
};

struct Series {
  std::vector<std::string> columns;
  Tensor values;                 // (rows, columns) float32: the files' rows one after another; NaN in dropped rows
  std::vector<SeriesFile> files;
  std::vector<std::pair<int64_t, int64_t>> runs;  // unbroken [begin, end) rows: within one file, no dropped row
  std::vector<ColumnGaps> gaps;  // per column
  std::vector<GapPolicy> policies;  // per column, as applied
  int64_t dropped_rows = 0;

  int64_t rows() const { return values.shape().empty() ? 0 : values.dim(0); }
  bool dropped(int64_t row) const;  // the row is in no run
  // What was done, for the log: "2 files, 70128 rows, 20 NA in TEMP/DEWP interpolated, 3 rows dropped (5 runs)".
  std::string summary() const;
};

// Reads every file (plain or compressed CSV, recognized by content) as its own stretch of the series.
Series read_series(const std::vector<std::string>& paths, const SeriesOptions& options);

// Each entry a path, or a glob pattern (with *, ? or [) that expands to its matches in sorted order; a pattern
// that matches nothing is an error.
std::vector<std::string> expand_paths(const std::vector<std::string>& patterns);

const char* gap_policy_name(GapPolicy policy);
GapPolicy gap_policy_from_name(const std::string& name);  // throws naming the known policies

}  // namespace seqnet::data
