#include "gzip_file.h"

#include <archive.h>
#include <zlib.h>

#include <fstream>
#include <memory>

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

namespace {

// The magic numbers of the stream compressors libarchive undoes (its "filters").
bool compressed_by_another_tool(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char head[6] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  const auto got = f.gcount();
  auto starts = [&](std::initializer_list<unsigned char> magic) {
    if (got < std::streamsize(magic.size())) return false;
    size_t i = 0;
    for (unsigned char m : magic)
      if (head[i++] != m) return false;
    return true;
  };
  return starts({'B', 'Z', 'h'}) || starts({0xFD, '7', 'z', 'X', 'Z', 0x00}) || starts({0x28, 0xB5, 0x2F, 0xFD}) ||
         starts({0x04, 0x22, 0x4D, 0x18}) || starts({0x5D, 0x00, 0x00});
}

}  // namespace

std::string read_decompressed(const std::string& path) {
  if (!compressed_by_another_tool(path)) return read_gzip(path);
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  auto fail = [&](const std::string& what) {
    const char* m = archive_error_string(a.get());
    return Error(path + ": " + what + ": " + (m ? m : "unknown libarchive error"));
  };
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) throw fail("cannot open");
  archive_entry* entry = nullptr;
  const int header = archive_read_next_header(a.get(), &entry);
  if (header == ARCHIVE_EOF) return "";  // an empty stream
  if (header != ARCHIVE_OK && header != ARCHIVE_WARN) throw fail("not a readable compressed file");
  std::string out;
  char buf[1 << 16];
  while (true) {
    const la_ssize_t got = archive_read_data(a.get(), buf, sizeof buf);
    if (got < 0) throw fail("corrupt or truncated compressed data after " + std::to_string(out.size()) + " bytes");
    if (got == 0) break;
    out.append(buf, size_t(got));
  }
  return out;
}

}  // namespace seqnet::data::detail
