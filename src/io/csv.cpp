// Two passes: split every line into cells (RFC 4180 quotes, CRLF or LF), then decide per column
// whether it is numeric, and apply the missing-value and text policies.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "seqnet/data/csv.h"

#include "data/gzip_file.h"

namespace seqnet::data {
namespace {

struct Row {
  int64_t line;
  std::vector<std::string> cells;
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<Row> split(const std::string& text, char delim, const std::string& name) {
  std::vector<Row> rows;
  Row row{1, {}};
  std::string cell;
  int64_t line = 1;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') cell += '"', ++i;
        else quoted = false;
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"' && trim(cell).empty()) {
      cell.clear();
      quoted = true;
      any = true;
    } else if (c == delim) {
      row.cells.push_back(cell);
      cell.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !cell.empty()) {
        row.cells.push_back(cell);
        rows.push_back(std::move(row));
      }
      cell.clear();
      any = false;
      row = Row{++line, {}};
    } else {
      cell += c;
      any = true;
    }
  }
  if (quoted) throw Error(name + ": line " + std::to_string(row.line) + ": a quoted field is not closed");
  if (any || !cell.empty()) {
    row.cells.push_back(cell);
    rows.push_back(std::move(row));
  }
  return rows;
}

// A decimal number as people write them in CSV files: [+-] digits [. digits] [e [+-] digits]. strtod alone
// would also take "nan", "inf", "infinity" and hexadecimal "0x1p3": none of those is a measurement, and a NaN
// or infinity in the data poisons every later loss without saying where it came from.
bool is_decimal_number(const std::string& s) {
  size_t i = 0, n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == n;
}

enum class Parsed { number, not_a_number, beyond_float32 };

Parsed parse_number(const std::string& s, float& out) {
  if (!is_decimal_number(s)) return Parsed::not_a_number;
  const double v = std::strtod(s.c_str(), nullptr);
  if (!(std::fabs(v) <= double(std::numeric_limits<float>::max()))) return Parsed::beyond_float32;
  out = static_cast<float>(v);
  return Parsed::number;
}

}  // namespace

int64_t CsvTable::column_index(const std::string& name) const {
  auto it = std::find(columns.begin(), columns.end(), name);
  if (it == columns.end()) {
    std::string known;
    for (const auto& c : columns) known += (known.empty() ? "" : ", ") + c;
    throw Error("csv: no column \"" + name + "\" (columns: " + known + ")");
  }
  return it - columns.begin();
}

Tensor CsvTable::column(const std::string& name) const {
  const int64_t c = column_index(name), cols = static_cast<int64_t>(columns.size());
  Tensor out({rows()});
  for (int64_t r = 0; r < rows(); ++r) out[r] = values[r * cols + c];
  return out;
}

Tensor CsvTable::select(const std::vector<std::string>& names) const {
  std::vector<int64_t> idx;
  for (const auto& n : names) idx.push_back(column_index(n));
  const int64_t cols = static_cast<int64_t>(columns.size()), k = static_cast<int64_t>(idx.size());
  Tensor out({rows(), k});
  for (int64_t r = 0; r < rows(); ++r)
    for (int64_t j = 0; j < k; ++j) out[r * k + j] = values[r * cols + idx[static_cast<size_t>(j)]];
  return out;
}

CsvTable parse_csv(const std::string& text, const CsvOptions& o, const std::string& name) {
  std::vector<Row> rows = split(text, o.delimiter, name);
  if (rows.empty()) throw Error(name + ": empty CSV (no header line)");
  std::vector<std::string> header;
  for (auto& h : rows.front().cells) header.push_back(trim(h));
  const size_t ncols = header.size();
  for (size_t c = 0; c < ncols; ++c)
    for (size_t e = 0; e < c; ++e)
      if (header[c] == header[e])
        throw Error(name + ": line " + std::to_string(rows.front().line) + ": the header names column \"" + header[c] +
                    "\" twice (fields " + std::to_string(e + 1) + " and " + std::to_string(c + 1) + ")");
  for (const auto& [col, policy] : o.text_columns)
    if (std::find(header.begin(), header.end(), col) == header.end())
      throw Error(name + ": no column \"" + col + "\" in the header (given a text policy)");
  for (size_t r = 1; r < rows.size(); ++r)
    if (rows[r].cells.size() != ncols)
      throw Error(name + ": line " + std::to_string(rows[r].line) + ": " + std::to_string(rows[r].cells.size()) +
                  " fields, the header has " + std::to_string(ncols));

  std::vector<size_t> keep;
  if (o.usecols.empty()) {
    for (size_t c = 0; c < ncols; ++c) keep.push_back(c);
  } else {
    for (const auto& u : o.usecols) {
      auto it = std::find(header.begin(), header.end(), u);
      if (it == header.end()) throw Error(name + ": no column \"" + u + "\" in the header");
      keep.push_back(static_cast<size_t>(it - header.begin()));
    }
  }
  auto is_na = [&](const std::string& cell) {
    return std::find(o.na_values.begin(), o.na_values.end(), cell) != o.na_values.end();
  };

  // Per kept column: numeric or text, and its policy.
  struct Col {
    size_t src = 0;
    bool numeric = true;
    TextPolicy policy = TextPolicy::fail;
    std::vector<std::string> categories;
  };
  std::vector<Col> cols;
  for (size_t c : keep) {
    Col col;
    col.src = c;
    auto pol = o.text_columns.find(header[c]);
    col.policy = pol != o.text_columns.end() ? pol->second : o.text;
    if (col.policy == TextPolicy::keep_text) col.numeric = false;
    float v;
    for (size_t r = 1; r < rows.size() && col.numeric; ++r) {
      const std::string cell = trim(rows[r].cells[c]);
      const Parsed parsed = is_na(cell) ? Parsed::number : parse_number(cell, v);
      if (parsed == Parsed::beyond_float32)
        throw Error(name + ": line " + std::to_string(rows[r].line) + ", column \"" + header[c] + "\": " + cell +
                    " is beyond float32's range");
      if (parsed == Parsed::not_a_number) {
        col.numeric = false;
        if (col.policy == TextPolicy::fail)
          throw Error(name + ": line " + std::to_string(rows[r].line) + ", column \"" + header[c] +
                      "\": \"" + cell + "\" is not a number (choose a text policy: one_hot or drop)");
      }
    }
    if (!col.numeric && col.policy == TextPolicy::one_hot) {
      std::set<std::string> cats;
      for (size_t r = 1; r < rows.size(); ++r) {
        const std::string cell = trim(rows[r].cells[c]);
        if (!is_na(cell)) cats.insert(cell);
      }
      col.categories.assign(cats.begin(), cats.end());
    }
    cols.push_back(std::move(col));
  }

  CsvTable t;
  for (const auto& col : cols) {
    if (col.numeric) t.columns.push_back(header[col.src]);
    else if (col.policy == TextPolicy::one_hot)
      for (const auto& cat : col.categories) t.columns.push_back(header[col.src] + "_" + cat);
    else t.text[header[col.src]] = {};
  }
  const size_t width = t.columns.size();
  std::vector<float> values;
  values.reserve((rows.size() - 1) * width);
  std::vector<float> out_row;
  for (size_t r = 1; r < rows.size(); ++r) {
    out_row.clear();
    bool drop = false;
    for (const auto& col : cols) {
      const std::string cell = trim(rows[r].cells[col.src]);
      const bool missing = is_na(cell);
      if (missing && o.missing == MissingPolicy::fail && (col.numeric || col.policy == TextPolicy::one_hot))
        throw Error(name + ": line " + std::to_string(rows[r].line) + ", column \"" + header[col.src] +
                    "\": missing value (choose a missing-value policy: drop_row or fill)");
      if (missing && o.missing == MissingPolicy::drop_row && (col.numeric || col.policy == TextPolicy::one_hot)) drop = true;
      if (col.numeric) {
        float v = o.missing == MissingPolicy::keep ? std::numeric_limits<float>::quiet_NaN() : o.fill_value;
        if (!missing) parse_number(cell, v);  // every cell of a numeric column was checked above
        out_row.push_back(v);
      } else if (col.policy == TextPolicy::one_hot) {
        for (const auto& cat : col.categories) out_row.push_back(!missing && cell == cat ? 1.0f : 0.0f);
      }
    }
    if (drop) continue;
    values.insert(values.end(), out_row.begin(), out_row.end());
    t.lines.push_back(rows[r].line);
    for (const auto& col : cols)
      if (!col.numeric && (col.policy == TextPolicy::drop || col.policy == TextPolicy::keep_text))
        t.text[header[col.src]].push_back(trim(rows[r].cells[col.src]));
  }
  const int64_t n = static_cast<int64_t>(t.lines.size());
  t.values = Tensor({n, static_cast<int64_t>(width)}, std::move(values));
  return t;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  // A compressed file (station.csv.gz, .bz2, .xz, .zst) is recognized by its bytes, not its name.
  return parse_csv(detail::read_decompressed(path), options, path);
}

}  // namespace seqnet::data
