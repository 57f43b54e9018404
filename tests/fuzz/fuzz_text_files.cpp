// libFuzzer target for the readers of seqnet's own text files and the data-set loaders that read files: the
// first byte picks the reader, the rest is the file. History CSV / JSON (seqnet plot, report), run.json (seqnet
// report), experiment files (seqnet train), gzip'd files (MNIST IDX, IMDB), IMDB's word index, review text and
// Stanford's tarball. Every input must load or throw seqnet::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "data/gzip_file.h"
#include "seqnet/data/imdb.h"
#include "seqnet/experiment.h"
#include "seqnet/history.h"

namespace {

std::string temp_file(const std::string& bytes, const char* suffix) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/seqnet-fuzz-XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  const std::string path = dir + "/input" + suffix;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 8) {
      case 0: (void)seqnet::read_history_csv(temp_file(bytes, ".csv")); break;
      case 1: (void)seqnet::read_history_json(temp_file(bytes, ".json")); break;
      case 2: {  // run.json into a report, as `seqnet report` reads it
        const seqnet::Json run = seqnet::Json::parse(bytes);
        (void)seqnet::runs_report_markdown({run}, {});
        break;
      }
      case 3: (void)seqnet::load_experiment_spec(temp_file(bytes, ".json"), {"fit.epochs=1"}); break;
      case 4: (void)seqnet::data::detail::read_gzip(temp_file(bytes, ".gz")); break;
      case 5: (void)seqnet::datasets::imdb::get_word_index(temp_file(bytes, ".json")); break;
      case 6: (void)seqnet::datasets::imdb::review_to_ids(bytes, {{"good", 1}, {"bad", 2}, {"br", 3}}); break;
      case 7:
        (void)seqnet::datasets::imdb::load_raw_from_tarball(temp_file(bytes, ".tar.gz"), {{"good", 1}, {"bad", 2}});
        break;
    }
  } catch (const seqnet::Error&) {
  } catch (const seqnet::Json::exception&) {  // a run.json that is not JSON: `seqnet report` names the file
  }
  return 0;
}
