// Reads each file through read_csv with the missing cells kept as NaN, then applies every column's policy
// on that file alone (a gap never borrows values from another file) and cuts the runs at dropped rows.
#include "seqnet/data/series.h"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "seqnet/data/csv.h"

namespace seqnet::data {
namespace {

bool is_pattern(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// One file's column (rows strided by `width`), missing cells NaN: fill them by the policy; returns how many
// were filled. Cells left NaN drop their rows.
int64_t fill_gaps(float* v, int64_t rows, int64_t width, const MissingValues& m) {
  int64_t filled = 0;
  auto at = [&](int64_t r) -> float& { return v[r * width]; };
  for (int64_t r = 0; r < rows;) {
    if (!std::isnan(at(r))) {
      ++r;
      continue;
    }
    int64_t end = r;
    while (end < rows && std::isnan(at(end))) ++end;
    const int64_t gap = end - r;
    switch (m.policy) {
      case GapPolicy::fill:
        for (int64_t i = r; i < end; ++i) at(i) = m.value;
        filled += gap;
        break;
      case GapPolicy::ffill:
        if (r > 0 && gap <= m.max_gap) {
          for (int64_t i = r; i < end; ++i) at(i) = at(r - 1);
          filled += gap;
        }
        break;
      case GapPolicy::interpolate:
        // Between two known values only: a gap at the start or end of a file has nothing to draw the line to.
        if (r > 0 && end < rows && gap <= m.max_gap) {
          const double a = at(r - 1), b = at(end);
          for (int64_t i = r; i < end; ++i) at(i) = float(a + (b - a) * double(i - r + 1) / double(gap + 1));
          filled += gap;
        }
        break;
      case GapPolicy::fail:
      case GapPolicy::drop:
        break;
    }
    r = end;
  }
  return filled;
}

}  // namespace

const char* gap_policy_name(GapPolicy p) {
  switch (p) {
    case GapPolicy::fail: return "fail";
    case GapPolicy::drop: return "drop";
    case GapPolicy::interpolate: return "interpolate";
    case GapPolicy::ffill: return "ffill";
    case GapPolicy::fill: return "fill";
  }
  return "?";
}

GapPolicy gap_policy_from_name(const std::string& name) {
  for (GapPolicy p : {GapPolicy::fail, GapPolicy::drop, GapPolicy::interpolate, GapPolicy::ffill, GapPolicy::fill})
    if (name == gap_policy_name(p)) return p;
  throw Error("unknown missing-value policy '" + name + "' (known: fail, drop, interpolate, ffill, fill)");
}

std::vector<std::string> expand_paths(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const std::string& p : patterns) {
    if (!is_pattern(p)) {
      out.push_back(p);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(p.c_str(), GLOB_ERR, nullptr, &g);
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    if (rc == GLOB_NOMATCH || (rc == 0 && matches.empty())) throw Error("'" + p + "' matches no file");
    if (rc != 0) throw Error("'" + p + "': the folders cannot be read");
    std::sort(matches.begin(), matches.end());
    out.insert(out.end(), matches.begin(), matches.end());
  }
  return out;
}

bool Series::dropped(int64_t row) const {
  auto it = std::upper_bound(runs.begin(), runs.end(), row,
                             [](int64_t r, const std::pair<int64_t, int64_t>& run) { return r < run.first; });
  return it == runs.begin() || row >= std::prev(it)->second;
}

std::string Series::summary() const {
  std::string s = files.size() == 1 ? fmt::format("{} rows", rows()) : fmt::format("{} files, {} rows", files.size(), rows());
  // Group the filled columns by policy: "20 NA in TEMP/DEWP interpolated".
  for (GapPolicy p : {GapPolicy::interpolate, GapPolicy::ffill, GapPolicy::fill}) {
    int64_t filled = 0;
    std::string names;
    for (size_t c = 0; c < columns.size(); ++c)
      if (policies[c] == p && gaps[c].filled > 0) {
        filled += gaps[c].filled;
        names += (names.empty() ? "" : "/") + columns[c];
      }
    if (filled > 0)
      s += fmt::format(", {} NA in {} {}", filled, names,
                       p == GapPolicy::interpolate ? "interpolated" : p == GapPolicy::ffill ? "carried forward" : "filled");
  }
  int64_t missing = 0;
  for (const auto& g : gaps) missing += g.missing;
  if (missing == 0) s += ", no NA";
  s += fmt::format(", {} dropped", dropped_rows);
  if (runs.size() > files.size()) s += fmt::format(" ({} unbroken runs)", runs.size());
  return s;
}

Series read_series(const std::vector<std::string>& paths, const SeriesOptions& o) {
  if (paths.empty()) throw Error("read_series: no file");
  if (o.columns.empty()) throw Error("read_series: no column");
  Series s;
  s.columns = o.columns;
  const int64_t width = int64_t(o.columns.size());
  s.gaps.resize(size_t(width));
  for (const auto& c : o.columns) {
    auto it = o.missing_columns.find(c);
    s.policies.push_back((it != o.missing_columns.end() ? it->second : o.missing).policy);
  }
  for (const auto& [c, m] : o.missing_columns)
    if (std::find(o.columns.begin(), o.columns.end(), c) == o.columns.end())
      throw Error("read_series: a missing-value policy is given for column \"" + c + "\", which is not read");

  CsvOptions csv;
  csv.delimiter = o.delimiter;
  csv.na_values = o.na_values;
  csv.missing = MissingPolicy::keep;
  csv.text = TextPolicy::fail;
  csv.usecols = o.columns;
  std::vector<float> all;
  for (const std::string& path : paths) {
    CsvTable t = read_csv(path, csv);
    const int64_t rows = t.rows();
    if (rows == 0) throw Error(path + ": no data row");
    float* v = t.values.data();
    for (int64_t c = 0; c < width; ++c) {
      const std::string& name = o.columns[size_t(c)];
      auto it = o.missing_columns.find(name);
      const MissingValues& m = it != o.missing_columns.end() ? it->second : o.missing;
      int64_t missing = 0, first = -1;
      for (int64_t r = 0; r < rows; ++r)
        if (std::isnan(v[r * width + c])) {
          if (first < 0) first = r;
          ++missing;
        }
      if (missing == rows)
        throw Error(fmt::format("{}: column \"{}\" has no value (all {} rows missing)", path, name, rows));
      if (missing > 0 && m.policy == GapPolicy::fail)
        throw Error(fmt::format("{}: line {}, column \"{}\": missing value ({} missing in this column; choose a "
                                "policy: drop, interpolate, ffill or fill)",
                                path, t.lines[size_t(first)], name, missing));
      s.gaps[size_t(c)].missing += missing;
      s.gaps[size_t(c)].filled += fill_gaps(v + c, rows, width, m);
    }
    const int64_t offset = int64_t(all.size()) / std::max<int64_t>(width, 1);
    int64_t run_start = -1;
    for (int64_t r = 0; r <= rows; ++r) {
      bool keep = r < rows;
      for (int64_t c = 0; keep && c < width; ++c) keep = !std::isnan(v[r * width + c]);
      if (keep && run_start < 0) run_start = r;
      if (!keep && run_start >= 0) {
        s.runs.emplace_back(offset + run_start, offset + r);
        run_start = -1;
      }
      if (!keep && r < rows) ++s.dropped_rows;
    }
    all.insert(all.end(), v, v + rows * width);
    s.files.push_back({path, offset, rows, std::move(t.lines)});
  }
  const int64_t total = int64_t(all.size()) / width;
  s.values = Tensor({total, width}, std::move(all));
  return s;
}

}  // namespace seqnet::data
