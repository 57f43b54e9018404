#include "gzip_file.h"

#include <zlib.h>

#include "seqnet/tensor.h"

namespace seqnet::data::detail {

std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open for reading");
  gzbuffer(f, 1 << 17);
  std::string out;
  char buf[1 << 16];
  while (true) {
    int got = gzread(f, buf, sizeof buf);
    if (got > 0) out.append(buf, static_cast<size_t>(got));
    int code = Z_OK;
    const char* msg = gzerror(f, &code);
    if (got < 0 || (code != Z_OK && code != Z_STREAM_END)) {
      std::string m = msg ? msg : "read error";
      gzclose_r(f);
      throw Error(path + ": corrupt or truncated gzip data after " + std::to_string(out.size()) + " inflated bytes: " + m);
    }
    if (got == 0) break;
  }
  if (gzclose_r(f) != Z_OK) throw Error(path + ": corrupt or truncated gzip data (bad trailer)");
  return out;
}

}  // namespace seqnet::data::detail
