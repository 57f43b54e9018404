#include "seqnet/data/weather.h"

#include "seqnet/data/data_dir.h"

namespace seqnet::datasets {
namespace {

std::string resolve(const std::string& path, const std::string& relative) {
  if (path.ends_with(".csv")) return path;
  return find_data_file(relative, path);
}

}  // namespace

data::CsvTable jena_climate::load_data(const std::string& path) {
  data::CsvOptions o;
  o.text_columns["Date Time"] = data::TextPolicy::drop;
  data::CsvTable t = data::read_csv(resolve(path, "jena_climate/jena_climate_2009_2016.csv"), o);
  if (!t.text.count("Date Time")) throw Error("jena_climate: the CSV has no \"Date Time\" column");
  return t;
}

data::CsvTable beijing_pm25::load_data(const Options& opts) {
  data::CsvOptions o;
  o.text_columns["cbwd"] = opts.cbwd;
  o.missing = opts.pm25;
  o.fill_value = opts.fill_value;
  return data::read_csv(resolve(opts.path, "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"), o);
}

}  // namespace seqnet::datasets
