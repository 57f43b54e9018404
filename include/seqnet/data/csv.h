// CSV with a header row to a float32 table, with explicit policies for missing values and text columns.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::data {

enum class MissingPolicy {
  fail,      // error naming the column and the line
  drop_row,  // drop every row with a missing value (in a kept column)
  fill,      // use fill_value (a one-hot column gets all zeros)
  keep,      // NaN in `values`, for the caller's own policy (read_series fills or splits per column)
};

enum class TextPolicy {
  fail,     // error naming the column, the line and the value
  one_hot,  // one 0/1 column per distinct value, named "<column>_<value>", values sorted
  drop,     // leave the column out of `values`; its raw text is kept in `text`
  keep_text,  // as drop, even when every cell is a number (category codes, dates written as numbers)
};

struct CsvOptions {
  char delimiter = ',';
  std::vector<std::string> na_values = {"NA", ""};  // cells that count as missing (after trimming)
  MissingPolicy missing = MissingPolicy::fail;
  float fill_value = 0.0f;
  TextPolicy text = TextPolicy::fail;              // for a column with any cell that is not a number
  std::map<std::string, TextPolicy> text_columns;  // per-column override of `text`
  std::vector<std::string> usecols;                // keep only these columns, in this order (empty: all)
};

struct CsvTable {
  std::vector<std::string> columns;  // names of the columns of `values`
  Tensor values;                     // (rows, columns) float32
  std::vector<int64_t> lines;        // 1-based source line of each kept row
  std::map<std::string, std::vector<std::string>> text;  // dropped text columns, one cell per kept row

  int64_t rows() const { return values.shape().empty() ? 0 : values.dim(0); }
  int64_t column_index(const std::string& name) const;  // throws naming the known columns
  Tensor column(const std::string& name) const;          // (rows,)
  Tensor select(const std::vector<std::string>& names) const;  // (rows, names.size())
};

// `name` is used in error messages (the path when reading a file).
CsvTable parse_csv(const std::string& text, const CsvOptions& options = {}, const std::string& name = "<csv>");
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

}  // namespace seqnet::data
