// libFuzzer target for the CSV reader and the series built on it. The first byte picks the missing-value and
// text-column policies (and, with 0x20, the series reader with its gap policies, text encoding and date
// parsing) so that one corpus reaches all of them.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "seqnet/data/csv.h"
#include "seqnet/data/series.h"

namespace {

void fuzz_series(const std::string& text, uint8_t pick) {
  using namespace seqnet::data;
  static const std::string path = "/tmp/seqnet_fuzz_series_" + std::to_string(::getpid()) + ".csv";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  SeriesOptions o;
  o.columns = {"a", "b"};
  o.missing.policy = static_cast<GapPolicy>(pick % 5);
  o.missing.max_gap = 1 + pick % 4;
  if (pick & 0x40) o.text_columns["b"] = {pick & 0x80 ? TextEncoding::category : TextEncoding::one_hot, {}};
  if (pick & 0x10) o.time = TimeFeatures{"t"};
  Series s = read_series({path}, o);
  (void)s.summary();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace seqnet::data;
  const uint8_t pick = data[0];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (pick & 0x20) {
      fuzz_series(text, pick);
      return 0;
    }
    CsvOptions options;
    options.missing = static_cast<MissingPolicy>(pick % 4);
    options.text = static_cast<TextPolicy>((pick / 4) % 4);
    if (pick & 0x40) options.delimiter = ';';
    if (pick & 0x80) options.usecols = {"a", "b"};
    CsvTable t = parse_csv(text, options, "fuzz.csv");
    if (!t.columns.empty()) (void)t.select({t.columns.front()});
  } catch (const seqnet::Error&) {
  }
  return 0;
}
