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
#include <optional>
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

// A text column (wind direction, station) as numbers: one 0/1 column per category, named "<column>_<category>",
// or one column of category ids, 1 for the first category and 0 for one not in the list.
enum class TextEncoding { one_hot, category };

struct TextColumn {
  TextEncoding encoding = TextEncoding::one_hot;
  // The categories, in order. Empty: every distinct value of the files, sorted (Series::categories says which).
  std::vector<std::string> categories;
};

// Features of the time of day and of the year, as sin and cos of their angle on the clock and on the calendar
// (so 23:00 lies next to 00:00 and 31 December next to 1 January): "hour_sin", "hour_cos", "day_sin", "day_cos",
// appended after the columns.
struct TimeFeatures {
  // A date/time text column: ISO 8601 ("2010-01-02 03:00", "2010-01-02T03:00:00", "2010-01-02"), or
  // day.month.year as Jena writes it ("02.01.2010 03:00:00") ...
  std::string column;
  // ... or numeric columns (Beijing's year, month, day, hour); hour may be left empty (midnight).
  std::string year, month, day, hour;
};

struct SeriesOptions {
  std::vector<std::string> columns;                      // read these, in this order; the only ones checked
  MissingValues missing;                                 // every column's policy ...
  std::map<std::string, MissingValues> missing_columns;  // ... unless it has its own
  std::vector<std::string> na_values = {"NA", ""};       // cells that count as missing (after trimming)
  char delimiter = ',';
  // Columns among `columns` that hold text, each encoded in its place. Their missing cells follow their policy
  // (fail, drop or ffill: there is no line to draw between two categories).
  std::map<std::string, TextColumn> text_columns;
  std::optional<TimeFeatures> time;
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
  std::vector<std::string> columns;  // the features: numeric columns, encoded text columns, time features
  Tensor values;                 // (rows, columns) float32: the files' rows one after another; NaN in dropped rows
  std::vector<SeriesFile> files;
  std::vector<std::pair<int64_t, int64_t>> runs;  // unbroken [begin, end) rows: within one file, no dropped row
  std::vector<std::string> sources;  // the columns read (SeriesOptions::columns)
  std::vector<ColumnGaps> gaps;      // per column read
  std::vector<GapPolicy> policies;   // per column read, as applied
  int64_t dropped_rows = 0;
  std::map<std::string, std::vector<std::string>> categories;  // of each text column, as encoded
  int64_t unknown_categories = 0;  // cells whose category is not in a given list (encoded as none / id 0)

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
