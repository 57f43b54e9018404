// Hourly / 10-minute weather series as CSV tables: Jena climate (the book's data) and its stand-in here,
// UCI Beijing PM2.5. Any other CSV time series: data::read_csv, then CsvTable::select(column names).
#pragma once
#include <string>

#include "seqnet/data/csv.h"

namespace seqnet::datasets {

namespace jena_climate {
// jena_climate_2009_2016.csv: "Date Time" (kept as text in table.text["Date Time"]) and 14 numeric columns.
// `path`: the CSV itself, or a folder holding jena_climate/jena_climate_2009_2016.csv; empty: the data folders.
data::CsvTable load_data(const std::string& path = "");
}  // namespace jena_climate

namespace beijing_pm25 {
struct Options {
  data::TextPolicy cbwd = data::TextPolicy::one_hot;  // wind direction NE / NW / SE / cv: one-hot or drop
  data::MissingPolicy pm25 = data::MissingPolicy::fill;  // 2,067 NA in pm2.5: fill (keeps 43,824 hourly rows), drop_row or fail
  float fill_value = 0.0f;
  std::string path;  // the CSV, or a folder holding beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv
};
// Columns: No, year, month, day, hour, pm2.5, DEWP, TEMP, PRES, [cbwd_NE, cbwd_NW, cbwd_SE, cbwd_cv,] Iws, Is, Ir.
data::CsvTable load_data(const Options& options = {});
}  // namespace beijing_pm25

}  // namespace seqnet::datasets
