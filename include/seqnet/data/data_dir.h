// Where data set files are looked up, in order: an explicit folder, $SEQNET_DATA_DIR, ../shared/data
// (relative to the current directory), then the download cache ($SEQNET_CACHE_DIR, else
// ~/.cache/seqnet/datasets). A folder named twice (by different spellings) is listed once.
//
// A known data set file (known_data_files()) that is found nowhere is downloaded from its canonical URL
// into the cache, verified, and then used; SEQNET_OFFLINE=1 turns downloads off, and
// SEQNET_DATASETS_BASE_URL replaces the canonical URLs with a mirror laid out as the data folder
// (<base>/imdb/imdb.npz, <base>/jena_climate/jena_climate_2009_2016.csv.zip, ...; file:// works).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace seqnet::datasets {

// The candidate folders, in lookup order (explicit first when non-empty), each folder once.
std::vector<std::string> data_dirs(const std::string& explicit_dir = "");
// The first existing <folder>/<relative>; else, for a known data set file, a download into cache_dir();
// otherwise an Error that lists every path tried and says where to put the file.
std::string find_data_file(const std::string& relative, const std::string& explicit_dir = "");
// The first existing <folder>/<relative>, or "": never downloads.
std::string try_find_data_file(const std::string& relative, const std::string& explicit_dir = "");

// A data set file with a published source. sha256 and size are recorded only where known for certain
// (checked against the publisher or several independent copies); empty / -1 otherwise.
struct DataFileInfo {
  std::string relative;    // where it lies under a data folder, e.g. "imdb/imdb.npz"
  std::string url;         // canonical source; "" for files that exist only as local re-packs
  std::string sha256;      // of the file as stored under `relative`
  int64_t size = -1;       // bytes of the file under `relative`
  std::string zip_member;  // non-empty: `url` is a zip, and this member is stored as `relative`
};
const std::vector<DataFileInfo>& known_data_files();
const DataFileInfo* known_data_file(const std::string& relative);  // nullptr when unknown

// $SEQNET_CACHE_DIR, else ~/.cache/seqnet/datasets: where downloads go (the last data folder).
std::string cache_dir();
// Whether find_data_file may download: not when SEQNET_OFFLINE is set to anything but "" or "0".
bool downloads_enabled();
// The URL a known file is fetched from: its canonical URL, or the SEQNET_DATASETS_BASE_URL mirror's.
std::string download_url(const DataFileInfo& file);
// Downloads a known file into <cache_dir()>/<relative> now (replacing any copy there) and returns the
// path. Written atomically (temporary file, fsync, rename) and checked against the known size and
// sha256; on any failure the temporary file is removed and an Error says what went wrong.
std::string download_data_file(const DataFileInfo& file);

// Hex sha256 of a file's bytes.
std::string sha256_file(const std::string& path);

}  // namespace seqnet::datasets
