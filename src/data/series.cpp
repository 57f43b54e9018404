// Reads each file through read_csv with the missing cells kept as NaN, then applies every column's policy
// on that file alone (a gap never borrows values from another file) and cuts the runs at dropped rows.
#include "seqnet/data/series.h"

#include <glob.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>

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
    for (size_t c = 0; c < sources.size(); ++c)
      if (policies[c] == p && gaps[c].filled > 0) {
        filled += gaps[c].filled;
        names += (names.empty() ? "" : "/") + sources[c];
      }
    if (filled > 0)
      s += fmt::format(", {} NA in {} {}", filled, names,
                       p == GapPolicy::interpolate ? "interpolated" : p == GapPolicy::ffill ? "carried forward" : "filled");
  }
  int64_t missing = 0;
  for (const auto& g : gaps) missing += g.missing;
  if (missing == 0) s += ", no NA";
  s += fmt::format(", {} dropped", dropped_rows);
  if (unknown_categories > 0) s += fmt::format(", {} cells of a category not in the list (encoded as none)", unknown_categories);
  if (runs.size() > files.size()) s += fmt::format(" ({} unbroken runs)", runs.size());
  return s;
}

namespace {

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t days_in_month(int64_t y, int64_t m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

struct Moment {
  int64_t year = 0, month = 0, day = 0;
  double hours = 0;  // of the day, with minutes and seconds
};

// The 4 time features of a moment: hour of day and day of year as angles, each as sin and cos.
void time_features(const Moment& t, float* out) {
  constexpr double kTwoPi = 6.283185307179586;
  const double hour_angle = kTwoPi * t.hours / 24.0;
  const double year_days = leap(t.year) ? 366.0 : 365.0;
  const double day_of_year = double(days_from_civil(t.year, t.month, t.day) - days_from_civil(t.year, 1, 1));
  const double day_angle = kTwoPi * (day_of_year + t.hours / 24.0) / year_days;
  out[0] = float(std::sin(hour_angle));
  out[1] = float(std::cos(hour_angle));
  out[2] = float(std::sin(day_angle));
  out[3] = float(std::cos(day_angle));
}

bool valid(const Moment& t) {
  return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= days_in_month(t.year, t.month) && t.hours >= 0 &&
         t.hours < 24;
}

// "2010-01-02", "2010-01-02 03:00", "2010-01-02T03:00:00", "02.01.2010 03:00:00" (Jena's day.month.year).
bool parse_moment(const std::string& s, Moment& t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, n = 0;
  double sec = 0;
  const char* c = s.c_str();
  if (std::sscanf(c, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3) {
  } else if (std::sscanf(c, "%2d.%2d.%4d%n", &d, &mo, &y, &n) == 3) {
  } else {
    return false;
  }
  c += n;
  if (*c == 'T' || *c == ' ') {
    int m = 0;
    if (std::sscanf(c + 1, "%2d:%2d%n", &h, &mi, &m) != 2) return false;
    c += 1 + m;
    if (*c == ':') {
      if (std::sscanf(c + 1, "%lf%n", &sec, &m) != 1) return false;
      c += 1 + m;
    }
  }
  if (*c == 'Z') ++c;
  if (*c != '\0' || mi < 0 || mi > 59 || sec < 0 || sec >= 61) return false;
  t = {y, mo, d, h + mi / 60.0 + sec / 3600.0};
  return valid(t);
}

}  // namespace

Series read_series(const std::vector<std::string>& paths, const SeriesOptions& o) {
  if (paths.empty()) throw Error("read_series: no file");
  if (o.columns.empty()) throw Error("read_series: no column");
  for (size_t i = 0; i < paths.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (std::filesystem::weakly_canonical(paths[i]) == std::filesystem::weakly_canonical(paths[j]))
        throw Error("read_series: '" + paths[i] + "' is given twice (as '" + paths[j] + "'): its rows would count twice");
  auto policy_of = [&](const std::string& c) -> const MissingValues& {
    auto it = o.missing_columns.find(c);
    return it != o.missing_columns.end() ? it->second : o.missing;
  };
  auto listed = [&](const std::string& c) { return std::find(o.columns.begin(), o.columns.end(), c) != o.columns.end(); };
  auto time_part = [&](const std::string& c) {
    return o.time && !c.empty() &&
           (c == o.time->column || c == o.time->year || c == o.time->month || c == o.time->day || c == o.time->hour);
  };
  for (const auto& [c, m] : o.missing_columns)
    if (!listed(c) && !time_part(c))
      throw Error("read_series: a missing-value policy is given for column \"" + c + "\", which is not read");
  for (const auto& [c, t] : o.text_columns) {
    if (!listed(c)) throw Error("read_series: text column \"" + c + "\" is not one of the columns read");
    const GapPolicy p = policy_of(c).policy;
    if (p == GapPolicy::interpolate || p == GapPolicy::fill)
      throw Error(std::string("read_series: text column \"") + c + "\": missing categories can fail, drop their rows or " +
                  "ffill, not " + gap_policy_name(p));
  }
  // Every column the files must have: the features, then what the time features are computed from.
  std::vector<std::string> usecols = o.columns;
  std::vector<std::string> time_parts;
  if (o.time) {
    const TimeFeatures& tf = *o.time;
    const bool from_text = !tf.column.empty(), from_parts = !tf.year.empty() || !tf.month.empty() || !tf.day.empty();
    if (from_text == from_parts || (from_parts && (tf.year.empty() || tf.month.empty() || tf.day.empty())))
      throw Error("read_series: time features come from one date/time column, or from year, month and day columns "
                  "(and hour)");
    time_parts = from_text ? std::vector<std::string>{tf.column} : std::vector<std::string>{tf.year, tf.month, tf.day};
    if (!from_text && !tf.hour.empty()) time_parts.push_back(tf.hour);
    for (const auto& c : time_parts)
      if (!listed(c)) usecols.push_back(c);
  }
  CsvOptions csv;
  csv.delimiter = o.delimiter;
  csv.na_values = o.na_values;
  csv.missing = MissingPolicy::keep;
  csv.text = TextPolicy::fail;
  csv.usecols = usecols;
  for (const auto& [c, t] : o.text_columns) csv.text_columns[c] = TextPolicy::keep_text;
  if (o.time && !o.time->column.empty()) csv.text_columns[o.time->column] = TextPolicy::keep_text;
  std::vector<CsvTable> tables;
  for (const std::string& path : paths) {
    tables.push_back(read_csv(path, csv));
    if (tables.back().rows() == 0) throw Error(path + ": no data row");
  }
  auto is_na = [&](const std::string& cell) {
    return std::find(o.na_values.begin(), o.na_values.end(), cell) != o.na_values.end();
  };

  Series s;
  // Categories: as given, or every distinct value in the files, sorted.
  for (const auto& [c, t] : o.text_columns) {
    std::vector<std::string> cats = t.categories;
    if (cats.empty()) {
      std::set<std::string> seen;
      for (const auto& table : tables)
        for (const auto& cell : table.text.at(c))
          if (!is_na(cell)) seen.insert(cell);
      cats.assign(seen.begin(), seen.end());
    }
    if (cats.empty()) throw Error("read_series: text column \"" + c + "\" has no value in any file");
    s.categories[c] = cats;
  }
  // The feature columns: each column in its place (a one-hot text column as one per category), then time.
  struct Feature {
    std::string source;
    int64_t first = 0, width = 1;
  };
  std::vector<Feature> features;
  for (const auto& c : o.columns) {
    Feature f{c, int64_t(s.columns.size()), 1};
    auto t = o.text_columns.find(c);
    if (t != o.text_columns.end() && t->second.encoding == TextEncoding::one_hot) {
      for (const auto& cat : s.categories[c]) s.columns.push_back(c + "_" + cat);
      f.width = int64_t(s.categories[c].size());
    } else {
      s.columns.push_back(c);
    }
    features.push_back(f);
  }
  const int64_t time_first = int64_t(s.columns.size());
  if (o.time)
    for (const char* n : {"hour_sin", "hour_cos", "day_sin", "day_cos"}) s.columns.push_back(n);
  const int64_t width = int64_t(s.columns.size());
  s.sources = o.columns;
  s.gaps.resize(o.columns.size());
  for (const auto& c : o.columns) s.policies.push_back(policy_of(c).policy);

  std::vector<float> all;
  for (size_t fi = 0; fi < tables.size(); ++fi) {
    const CsvTable& t = tables[fi];
    const std::string& path = paths[fi];
    const int64_t rows = t.rows();
    std::vector<float> v(size_t(rows * width), std::numeric_limits<float>::quiet_NaN());
    auto fail_missing = [&](const std::string& name, int64_t first, int64_t missing) {
      throw Error(fmt::format("{}: line {}, column \"{}\": missing value ({} missing in this column; choose a policy: "
                              "drop, interpolate, ffill or fill)",
                              path, t.lines[size_t(first)], name, missing));
    };
    for (size_t k = 0; k < o.columns.size(); ++k) {
      const std::string& name = o.columns[k];
      const MissingValues& m = policy_of(name);
      const Feature& f = features[k];
      int64_t missing = 0, first = -1;
      auto text = o.text_columns.find(name);
      if (text == o.text_columns.end()) {
        const int64_t src = t.column_index(name), src_width = int64_t(t.columns.size());
        for (int64_t r = 0; r < rows; ++r) {
          const float x = t.values.data()[r * src_width + src];
          v[size_t(r * width + f.first)] = x;
          if (std::isnan(x) && missing++ == 0) first = r;
        }
        // A column with no value at all is a wrong column name or an empty sensor: an error, unless the policy
        // says what to put there.
        if (missing == rows && m.policy != GapPolicy::fill)
          throw Error(fmt::format("{}: column \"{}\" has no value (all {} rows missing)", path, name, rows));
        if (missing > 0 && m.policy == GapPolicy::fail) fail_missing(name, first, missing);
        s.gaps[k].missing += missing;
        s.gaps[k].filled += fill_gaps(v.data() + f.first, rows, width, m);
        continue;
      }
      // A text column: missing cells by the policy, then each cell encoded.
      std::vector<std::string> cells = t.text.at(name);
      for (int64_t r = 0; r < rows; ++r)
        if (is_na(cells[size_t(r)]) && missing++ == 0) first = r;
      if (missing == rows) throw Error(fmt::format("{}: column \"{}\" has no value (all {} rows missing)", path, name, rows));
      if (missing > 0 && m.policy == GapPolicy::fail) fail_missing(name, first, missing);
      s.gaps[k].missing += missing;
      for (int64_t r = 0; r < rows;) {
        if (!is_na(cells[size_t(r)])) {
          ++r;
          continue;
        }
        int64_t end = r;
        while (end < rows && is_na(cells[size_t(end)])) ++end;
        if (m.policy == GapPolicy::ffill && r > 0 && end - r <= m.max_gap) {
          for (int64_t i = r; i < end; ++i) cells[size_t(i)] = cells[size_t(r - 1)];
          s.gaps[k].filled += end - r;
        }
        r = end;
      }
      const auto& cats = s.categories[name];
      for (int64_t r = 0; r < rows; ++r) {
        const std::string& cell = cells[size_t(r)];
        if (is_na(cell)) continue;  // NaN: the row is dropped
        const auto it = std::find(cats.begin(), cats.end(), cell);
        const int64_t id = it == cats.end() ? -1 : it - cats.begin();
        if (id < 0) ++s.unknown_categories;
        float* out = v.data() + r * width + f.first;
        if (text->second.encoding == TextEncoding::category) {
          out[0] = float(id + 1);
        } else {
          for (int64_t j = 0; j < f.width; ++j) out[j] = j == id ? 1.0f : 0.0f;
        }
      }
    }
    if (o.time) {
      const TimeFeatures& tf = *o.time;
      // A missing date or time drops its row when any column it is read from has the drop policy.
      GapPolicy p = GapPolicy::fail;
      std::vector<int64_t> part_index;  // numeric parts: their columns in the file's table
      for (const std::string& part : time_parts) {
        if (policy_of(part).policy == GapPolicy::drop) p = GapPolicy::drop;
        if (tf.column.empty()) part_index.push_back(t.column_index(part));
      }
      for (int64_t r = 0; r < rows; ++r) {
        Moment m;
        std::string shown;
        bool ok = false, missing = false;
        if (!tf.column.empty()) {
          shown = t.text.at(tf.column)[size_t(r)];
          missing = is_na(shown);
          ok = !missing && parse_moment(shown, m);
        } else {
          double parts[4] = {0, 0, 0, 0};
          for (size_t i = 0; i < time_parts.size(); ++i) {
            parts[i] = t.values.data()[r * int64_t(t.columns.size()) + part_index[i]];
            missing = missing || std::isnan(parts[i]);
            shown += (i ? "/" : "") + fmt::format("{}", parts[i]);
          }
          ok = !missing && parts[0] == std::floor(parts[0]) && parts[1] == std::floor(parts[1]) &&
               parts[2] == std::floor(parts[2]) && std::fabs(parts[0]) < 1e6 && std::fabs(parts[1]) < 100 &&
               std::fabs(parts[2]) < 100;
          if (ok) {
            m = {int64_t(parts[0]), int64_t(parts[1]), int64_t(parts[2]), parts[3]};
            ok = valid(m);
          }
        }
        if (ok) {
          time_features(m, v.data() + r * width + time_first);
        } else if (!(missing && p == GapPolicy::drop)) {
          const std::string what = tf.column.empty() ? tf.year + "/" + tf.month + "/" + tf.day + (tf.hour.empty() ? "" : "/" + tf.hour)
                                                     : tf.column;
          throw Error(fmt::format("{}: line {}, column \"{}\": {} is not a date and time{}", path, t.lines[size_t(r)],
                                  what, missing ? "a missing value" : "\"" + shown + "\"",
                                  missing ? " (a drop policy for it drops such rows)"
                                          : " (ISO 8601 such as 2010-01-02 03:00, or 02.01.2010 03:00:00)"));
        }
      }
    }
    const int64_t offset = int64_t(all.size()) / width;
    int64_t run_start = -1;
    for (int64_t r = 0; r <= rows; ++r) {
      bool keep = r < rows;
      for (int64_t c = 0; keep && c < width; ++c) keep = !std::isnan(v[size_t(r * width + c)]);
      if (keep && run_start < 0) run_start = r;
      if (!keep && run_start >= 0) {
        s.runs.emplace_back(offset + run_start, offset + r);
        run_start = -1;
      }
      if (!keep && r < rows) ++s.dropped_rows;
    }
    all.insert(all.end(), v.begin(), v.end());
    s.files.push_back({path, offset, rows, t.lines});
  }
  const int64_t total = int64_t(all.size()) / width;
  s.values = Tensor({total, width}, std::move(all));
  return s;
}

}  // namespace seqnet::data
