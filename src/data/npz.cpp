#include "seqnet/data/npz.h"

#include <zip.h>

#include <memory>
#include <vector>

namespace seqnet::data {
namespace {

std::string zip_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

}  // namespace

NpzArchive read_npz(const std::string& path) {
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> z(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!z) throw Error(path + ": cannot open as an .npz (zip) archive: " + zip_message(code));
  NpzArchive out;
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0)
      throw Error(path + ": zip entry " + std::to_string(i) + ": " + zip_strerror(z.get()));
    std::string name = st.name ? st.name : "";
    if (name.empty() || name.back() == '/') continue;
    zip_file_t* f = zip_fopen_index(z.get(), static_cast<zip_uint64_t>(i), 0);
    if (!f) throw Error(path + ": cannot open member " + name + ": " + zip_strerror(z.get()));
    std::vector<uint8_t> bytes(static_cast<size_t>(st.size));
    zip_int64_t got = zip_fread(f, bytes.data(), bytes.size());
    std::string err = got < 0 ? zip_file_strerror(f) : "";
    zip_fclose(f);
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
      throw Error(path + ": member " + name + " is corrupt or truncated" + (err.empty() ? "" : ": " + err));
    std::string key = name.size() > 4 && name.ends_with(".npy") ? name.substr(0, name.size() - 4) : name;
    out[key] = parse_npy(bytes.data(), bytes.size(), path + ":" + name);
  }
  return out;
}

void write_npz(const std::string& path, const NpzArchive& arrays, bool compress) {
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> z(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!z) throw Error(path + ": cannot create: " + zip_message(code));
  std::vector<std::vector<uint8_t>> buffers;  // must outlive zip_close
  buffers.reserve(arrays.size());
  for (const auto& [key, array] : arrays) {
    buffers.push_back(npy_bytes(array));
    auto& b = buffers.back();
    zip_source_t* src = zip_source_buffer(z.get(), b.data(), b.size(), 0);
    if (!src) throw Error(path + ": " + zip_strerror(z.get()));
    zip_int64_t idx = zip_file_add(z.get(), (key + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (idx < 0) {
      zip_source_free(src);
      throw Error(path + ": cannot add " + key + ": " + zip_strerror(z.get()));
    }
    zip_set_file_compression(z.get(), static_cast<zip_uint64_t>(idx), compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  zip_t* raw = z.release();
  if (zip_close(raw) != 0) {
    std::string msg = zip_strerror(raw);
    zip_discard(raw);
    throw Error(path + ": writing the archive failed: " + msg);
  }
}

}  // namespace seqnet::data
