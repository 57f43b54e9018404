// libFuzzer target for the CSV reader. The first byte picks the missing-value and text-column policies
// so that one corpus reaches all of them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "seqnet/data/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace seqnet::data;
  CsvOptions options;
  const uint8_t pick = data[0];
  options.missing = static_cast<MissingPolicy>(pick % 3);
  options.text = static_cast<TextPolicy>((pick / 3) % 3);
  if (pick & 0x40) options.delimiter = ';';
  if (pick & 0x80) options.usecols = {"a", "b"};
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    CsvTable t = parse_csv(text, options, "fuzz.csv");
    if (!t.columns.empty()) (void)t.select({t.columns.front()});
  } catch (const seqnet::Error&) {
  }
  return 0;
}
