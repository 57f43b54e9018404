#include "seqnet/data/data_dir.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <set>
#include <mutex>

#include "seqnet/tensor.h"

namespace seqnet::datasets {
namespace fs = std::filesystem;

namespace {

// Two spellings of one folder (a symlink, "..", a trailing slash) must compare equal; the folder need
// not exist, so the part that does is resolved and the rest kept as written.
std::string folder_key(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec) p = fs::absolute(dir).lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string(v) != "0";
}

std::string not_found_message(const std::string& relative, const std::string& explicit_dir) {
  std::string tried;
  for (const auto& d : data_dirs(explicit_dir)) tried += (tried.empty() ? "" : ", ") + (fs::path(d) / relative).string();
  return "data file " + relative + " not found (looked in " + tried + ")";
}

}  // namespace

std::string cache_dir() {
  if (const char* c = std::getenv("SEQNET_CACHE_DIR"); c && *c) return c;
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "seqnet" / "datasets").string();
  return "";
}

bool downloads_enabled() { return !env_set("SEQNET_OFFLINE"); }

std::vector<std::string> data_dirs(const std::string& explicit_dir) {
  std::vector<std::string> candidates;
  if (!explicit_dir.empty()) candidates.push_back(explicit_dir);
  if (const char* env = std::getenv("SEQNET_DATA_DIR"); env && *env) candidates.emplace_back(env);
  candidates.push_back((fs::current_path() / ".." / "shared" / "data").lexically_normal().string());
  if (std::string c = cache_dir(); !c.empty()) candidates.push_back(c);
  std::vector<std::string> dirs, keys;
  for (auto& d : candidates) {
    std::string k = folder_key(d);
    if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
    keys.push_back(k);
    dirs.push_back(std::move(d));
  }
  return dirs;
}

std::string try_find_data_file(const std::string& relative, const std::string& explicit_dir) {
  for (const auto& d : data_dirs(explicit_dir)) {
    fs::path p = fs::path(d) / relative;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

namespace {
// A known data set's file must be the published one: a truncated copy (a download cut at a line boundary still
// parses) would train silently on less data. Size first (free), then sha256 (a fraction of a second for the
// largest file), once per file and process.
void verify_known_file(const std::string& path, const DataFileInfo& known) {
  std::error_code ec;
  const auto size = int64_t(fs::file_size(path, ec));
  const std::string fix = "delete it (seqnet downloads it again when online) or put the published file there";
  if (!ec && known.size >= 0 && size != known.size)
    throw Error(fmt::format("data file {} has {} bytes where the published {} has {}: it is truncated or another "
                            "version; {}",
                            path, size, known.relative, known.size, fix));
  if (known.sha256.empty()) return;
  static std::mutex mutex;
  static std::set<std::string> verified;
  std::lock_guard<std::mutex> lock(mutex);
  if (verified.count(path)) return;
  const std::string got = sha256_file(path);
  if (got != known.sha256)
    throw Error(fmt::format("data file {} has sha256 {} where the published {} has {}: it is corrupted or another "
                            "version; {}",
                            path, got, known.relative, known.sha256, fix));
  verified.insert(path);
}
}  // namespace

std::string find_data_file(const std::string& relative, const std::string& explicit_dir) {
  const DataFileInfo* known = known_data_file(relative);
  std::string found = try_find_data_file(relative, explicit_dir);
  if (!found.empty()) {
    if (known) verify_known_file(found, *known);
    return found;
  }
  std::string msg = not_found_message(relative, explicit_dir);
  // One line, as every seqnet error: what is missing, why it could not be fetched, what to do.
  const std::string where = "put the file in one of those places or set SEQNET_DATA_DIR to the folder that holds " +
                            fs::path(relative).parent_path().string() + "/";
  if (!known || known->url.empty()) throw Error(msg + "; " + where);
  std::string url = download_url(*known);
  if (!known->zip_member.empty() && url == known->url) url += " (the file is " + known->zip_member + " in that zip)";
  if (!downloads_enabled())
    throw Error(msg + "; downloads are off (SEQNET_OFFLINE is set): get it from " + url + " and " + where);
  if (cache_dir().empty())
    throw Error(msg + "; no download cache (neither SEQNET_CACHE_DIR nor HOME is set): get it from " + url + " and " +
                where);
  try {
    return download_data_file(*known);
  } catch (const Error& e) {
    throw Error(msg + "; " + e.what() + ": get it from " + url + " by other means and " + where);
  }
}

// Canonical sources. Keras's files (storage.googleapis.com/tensorflow/tf-keras-datasets) and their
// hashes as keras.datasets checks them; the MNIST IDX files from Google's mirror of LeCun's files (the
// one TensorFlow's tutorials use; yann.lecun.com no longer serves them reliably), sha256 as published by
// several independent projects; UCI's current archive of Beijing PM2.5, whose CSV has the sha256 that
// other projects report for their UCI downloads. No hash is recorded for Jena, Fashion-MNIST or the
// local re-packs' sources: none was known for certain.
const std::vector<DataFileInfo>& known_data_files() {
  static const std::vector<DataFileInfo> files = [] {
    const std::string keras = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/";
    const std::string cvdf = "https://storage.googleapis.com/cvdf-datasets/mnist/";
    std::vector<DataFileInfo> f = {
        {"imdb/imdb.npz", keras + "imdb.npz", "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f", 17464789, ""},
        {"imdb/imdb_word_index.json", keras + "imdb_word_index.json",
         "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6", 1641221, ""},
        {"imdb/aclImdb_v1.tar.gz", "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
         "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", 84125825, ""},
        // shared/data's re-packs (imdb/PROVENANCE.md): no download source, but their hashes are known.
        {"imdb/aclImdb_v1_train_test.tar.gz", "", "fc132c2a23a4d23eec474b518907765dbc9c59e648c1e57ac8010670238ed697", 28630965, ""},
        {"imdb/keras_sequences/imdb_train.txt.gz", "", "041129d946d75ff5a1c9bc209f12d258a350f46074c84024cbbb75a71b9cb773", 8472771, ""},
        {"imdb/keras_sequences/imdb_test.txt.gz", "", "c6f9988eba560e1fc94102a39299bce76741d049a787798f4e95b663f1cf3bb9", 8105011, ""},
        {"mnist/train-images-idx3-ubyte.gz", cvdf + "train-images-idx3-ubyte.gz",
         "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422, ""},
        {"mnist/train-labels-idx1-ubyte.gz", cvdf + "train-labels-idx1-ubyte.gz",
         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881, ""},
        {"mnist/t10k-images-idx3-ubyte.gz", cvdf + "t10k-images-idx3-ubyte.gz",
         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877, ""},
        {"mnist/t10k-labels-idx1-ubyte.gz", cvdf + "t10k-labels-idx1-ubyte.gz",
         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542, ""},
        {"beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv", "https://archive.ics.uci.edu/static/public/381/beijing+pm2+5+data.zip",
         "4127f868775e31b3956522adc0ec75af8937dde6a3896e8beed3a376c6d27f1c", 2010494, "PRSA_data_2010.1.1-2014.12.31.csv"},
        {"jena_climate/jena_climate_2009_2016.csv", keras + "jena_climate_2009_2016.csv.zip", "", -1, "jena_climate_2009_2016.csv"},
    };
    for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
      f.push_back({std::string("fashion_mnist/") + name, keras + name, "", -1, ""});
    return f;
  }();
  return files;
}

const DataFileInfo* known_data_file(const std::string& relative) {
  const std::string r = fs::path(relative).lexically_normal().string();
  for (const auto& f : known_data_files())
    if (f.relative == r) return &f;
  return nullptr;
}

std::string download_url(const DataFileInfo& file) {
  if (const char* base = std::getenv("SEQNET_DATASETS_BASE_URL"); base && *base) {
    std::string b = base;
    while (!b.empty() && b.back() == '/') b.pop_back();
    return b + "/" + file.relative;
  }
  return file.url;
}

}  // namespace seqnet::datasets
