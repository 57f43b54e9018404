#include "seqnet/data/npz.h"

#include "io/zip_archive.h"
#include "seqnet/saving.h"

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

// Reads every member of an open archive; `name` labels errors.
NpzArchive read_members(zip_t* z, const std::string& name) {
  NpzArchive out;
  const zip_int64_t n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st) != 0)
      throw Error(name + ": zip entry " + std::to_string(i) + ": " + zip_strerror(z));
    std::string member = st.name ? st.name : "";
    if (member.empty() || member.back() == '/') continue;
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > (zip_uint64_t{1} << 40))
      throw Error(name + ": member " + member + " has no plausible size");
    zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
    if (!f) throw Error(name + ": cannot open member " + member + ": " + zip_strerror(z));
    std::vector<uint8_t> bytes(static_cast<size_t>(st.size));
    zip_int64_t got = zip_fread(f, bytes.data(), bytes.size());
    std::string err = got < 0 ? zip_file_strerror(f) : "";
    zip_fclose(f);
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
      throw Error(name + ": member " + member + " is corrupt or truncated" + (err.empty() ? "" : ": " + err));
    std::string key = member.size() > 4 && member.ends_with(".npy") ? member.substr(0, member.size() - 4) : member;
    if (out.count(key)) throw Error(name + ": two members hold the array '" + key + "' (" + key + " and " + key + ".npy)");
    out[key] = parse_npy(bytes.data(), bytes.size(), name + ":" + member);
  }
  return out;
}

}  // namespace

NpzArchive read_npz(const std::string& path) {
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> z(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!z) throw Error(path + ": cannot open as an .npz (zip) archive: " + zip_message(code));
  return read_members(z.get(), path);
}

NpzArchive parse_npz(const std::string& bytes, const std::string& name) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  if (!src) {
    std::string m = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw Error(name + ": " + m);
  }
  std::unique_ptr<zip_t, ArchiveCloser> z(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!z) {
    zip_source_free(src);
    std::string m = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw Error(name + ": cannot open as an .npz (zip) archive: " + m);
  }
  zip_error_fini(&err);
  return read_members(z.get(), name);
}

void write_npz(const std::string& path, const NpzArchive& arrays, bool compress) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& [key, array] : arrays) {
    std::vector<uint8_t> b = npy_bytes(array);
    files.emplace_back(key + ".npy", std::string(b.begin(), b.end()));
  }
  write_file_atomic(path, zip_bytes(files, compress));
}

}  // namespace seqnet::data
