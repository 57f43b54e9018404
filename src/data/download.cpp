// Data set downloads: libcurl into a temporary file beside the destination, hashed while it arrives,
// then size and sha256 checked, fsync'd and renamed, so that a reader never sees a partial file and an
// interrupted or corrupted download leaves nothing behind.
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "seqnet/data/data_dir.h"
#include "seqnet/tensor.h"

namespace seqnet::datasets {
namespace fs = std::filesystem;

namespace {
// libarchive's message for the last error; it may have none (a null pointer).
std::string archive_message(archive* a) {
  const char* m = archive_error_string(a);
  return m ? m : "unknown libarchive error";
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw Error("sha256: OpenSSL could not set up a digest");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned int i = 0; i < n; ++i) {
      s += digits[md[i] >> 4];
      s += digits[md[i] & 15];
    }
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// A file created next to its final place (so that rename is atomic: same file system), removed unless
// commit() moved it there.
class TempFile {
 public:
  TempFile(const fs::path& final_path, const std::string& suffix) : final_(final_path) {
    std::string tmpl = (final_path.parent_path() / ("." + final_path.filename().string() + suffix + ".part-XXXXXX")).string();
    fd_ = mkstemp(tmpl.data());
    if (fd_ < 0) throw Error("cannot create a temporary file in " + final_path.parent_path().string() + ": " + std::strerror(errno));
    path_ = tmpl;
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  int64_t bytes() const { return bytes_; }
  void write(const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw Error(path_ + ": write failed: " + std::strerror(errno));
      }
      p += w;
      n -= size_t(w);
      bytes_ += w;
    }
  }
  void commit() {
    ::fchmod(fd_, 0644);
    if (::fsync(fd_) != 0) throw Error(path_ + ": fsync failed: " + std::strerror(errno));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw Error(path_ + ": close failed: " + std::strerror(errno));
    if (::rename(path_.c_str(), final_.c_str()) != 0)
      throw Error("cannot rename " + path_ + " to " + final_.string() + ": " + std::strerror(errno));
    committed_ = true;
    // The rename itself must reach the disk too, or a crash could lose the finished file.
    if (int dir = ::open(final_.parent_path().c_str(), O_RDONLY | O_DIRECTORY); dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

 private:
  fs::path final_;
  std::string path_;
  int fd_ = -1;
  int64_t bytes_ = 0;
  bool committed_ = false;
};

std::string megabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

// A bar redrawn in place when stderr is a terminal; otherwise (logs, tests) only the start and end lines.
struct Progress {
  std::string label;
  bool tty = isatty(STDERR_FILENO) != 0;
  std::chrono::steady_clock::time_point last{};
  bool drawn = false;

  void draw(double now, double total) {
    if (!tty) return;
    auto t = std::chrono::steady_clock::now();
    if (drawn && t - last < std::chrono::milliseconds(100) && !(total > 0 && now >= total)) return;
    last = t;
    drawn = true;
    constexpr int width = 30;
    if (total > 0) {
      int filled = int(width * std::min(1.0, now / total));
      std::fprintf(stderr, "\r  %s [%s%s] %3d%% %s / %s ", label.c_str(), std::string(size_t(filled), '#').c_str(),
                   std::string(size_t(width - filled), ' ').c_str(), int(100 * std::min(1.0, now / total)),
                   megabytes(now).c_str(), megabytes(total).c_str());
    } else {
      std::fprintf(stderr, "\r  %s %s ", label.c_str(), megabytes(now).c_str());
    }
    std::fflush(stderr);
  }
  void finish() {
    if (drawn) std::fputc('\n', stderr);
  }
};

struct Transfer {
  TempFile* out;
  Sha256* sha;
  Progress* progress;
  std::string error;
};

size_t on_data(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  try {
    t->out->write(p, size * n);
  } catch (const Error& e) {
    t->error = e.what();
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  if (t->sha) t->sha->update(p, size * n);
  return size * n;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  static_cast<Transfer*>(user)->progress->draw(double(now), double(total));
  return 0;
}

void fetch(const std::string& url, TempFile& out, Sha256* sha, Progress& progress) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("downloading " + url + ": libcurl could not start");
  Transfer t{&out, sha, &progress, ""};
  char errbuf[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // an HTTP 404 page must not become the data file
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
  // A stalled connection (under 1 kB/s for a minute) fails instead of hanging a training run forever.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "seqnet (libcurl)");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  CURLcode rc = curl_easy_perform(c);
  progress.finish();
  if (rc != CURLE_OK) {
    std::string why = !t.error.empty() ? t.error : *errbuf ? std::string(errbuf) : curl_easy_strerror(rc);
    throw Error("downloading " + url + " failed: " + why);
  }
}

// Copies the member whose last path component is `member` (macOS's __MACOSX/ shadows skipped) out of
// a zip into `out`, hashing it on the way.
void extract_member(const std::string& zip_path, const std::string& url, const std::string& member, TempFile& out, Sha256& sha) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), zip_path.c_str(), 1 << 16) != ARCHIVE_OK)
    throw Error(url + ": not a readable zip: " + archive_message(a.get()));
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (name.starts_with("__MACOSX/") || fs::path(name).filename() != member) continue;
    const void* buf;
    size_t n;
    la_int64_t offset;
    while ((r = archive_read_data_block(a.get(), &buf, &n, &offset)) == ARCHIVE_OK) {
      out.write(static_cast<const char*>(buf), n);
      sha.update(buf, n);
    }
    if (r != ARCHIVE_EOF) throw Error(url + ": corrupt zip member " + name + ": " + archive_message(a.get()));
    return;
  }
  if (r != ARCHIVE_EOF) throw Error(url + ": corrupt zip: " + archive_message(a.get()));
  throw Error(url + ": the zip holds no " + member);
}

}  // namespace

std::string sha256_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open for reading: " + std::strerror(errno));
  Sha256 sha;
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw Error(path + ": read failed: " + std::strerror(e));
    }
    if (n == 0) break;
    sha.update(buf.data(), size_t(n));
  }
  ::close(fd);
  return sha.hex();
}

std::string download_data_file(const DataFileInfo& file) {
  const std::string url = download_url(file);
  if (url.empty()) throw Error(file.relative + ": no download source is known for this file");
  const std::string cache = cache_dir();
  if (cache.empty()) throw Error(file.relative + ": no download cache (set SEQNET_CACHE_DIR or HOME)");
  const fs::path dest = fs::path(cache) / file.relative;
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) throw Error("cannot create the download folder " + dest.parent_path().string() + ": " + ec.message());
  // A mirror (SEQNET_DATASETS_BASE_URL) serves the files as they are stored, not the publisher's zip.
  const bool from_zip = !file.zip_member.empty() && url == file.url;

  std::fprintf(stderr, "seqnet: downloading %s\n  to %s\n", url.c_str(), dest.string().c_str());
  TempFile out(dest, "");
  Sha256 sha;
  Progress progress{file.relative};
  if (from_zip) {
    TempFile zip(dest, ".zip");
    fetch(url, zip, nullptr, progress);
    extract_member(zip.path(), url, file.zip_member, out, sha);
  } else {
    fetch(url, out, &sha, progress);
  }
  const std::string got = sha.hex();
  if (file.size >= 0 && out.bytes() != file.size)
    throw Error("downloading " + url + ": got " + std::to_string(out.bytes()) + " bytes, expected " + std::to_string(file.size) +
                " (truncated or not the published file; the download was deleted)");
  if (!file.sha256.empty() && got != file.sha256)
    throw Error("downloading " + url + ": sha256 mismatch: expected " + file.sha256 + ", got " + got +
                " (not the published file; the download was deleted)");
  out.commit();
  std::fprintf(stderr, "seqnet: %s: %lld bytes, sha256 %s%s\n", dest.string().c_str(), static_cast<long long>(out.bytes()),
               got.c_str(), file.sha256.empty() ? " (no published hash to check)" : " (verified)");
  return dest.string();
}

}  // namespace seqnet::datasets
