// Data folders and downloads. Nothing here touches the network: every download comes from a file://
// URL (a mirror folder made here, via SEQNET_DATASETS_BASE_URL, or a DataFileInfo's own URL) into a
// temporary cache (SEQNET_CACHE_DIR), from a working directory without ../shared/data.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <list>
#include <optional>

#include "fixtures.h"
#include "seqnet/seqnet.h"

using namespace seqnet;
using seqnet::testing::error_of;
using namespace seqnet::datasets;
namespace fs = std::filesystem;

namespace {

const char* kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // sha256("abc")

struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(const char* n, const std::optional<std::string>& value) : name(n) {
    if (const char* v = std::getenv(n)) old = v;
    if (value) setenv(n, value->c_str(), 1);
    else unsetenv(n);
  }
  ~ScopedEnv() {
    if (old) setenv(name.c_str(), old->c_str(), 1);
    else unsetenv(name.c_str());
  }
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A scratch root: work/ (the current directory, so ../shared/data is root/shared/data, absent unless a
// test makes it), data/ (SEQNET_DATA_DIR, empty), cache/ (SEQNET_CACHE_DIR) and mirror/
// (SEQNET_DATASETS_BASE_URL). Downloads are on, but can only reach the mirror.
class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The real data, if any, found before the environment is changed.
    if (std::string f = try_find_data_file("imdb/imdb_word_index.json"); !f.empty())
      real_data_ = fs::path(f).parent_path().parent_path();
    std::string tmpl = (fs::temp_directory_path() / "seqnet-download-XXXXXX").string();
    root_ = fs::canonical(mkdtemp(tmpl.data()));
    for (const char* d : {"work", "data", "cache", "mirror"}) fs::create_directories(root_ / d);
    old_cwd_ = fs::current_path();
    fs::current_path(root_ / "work");
    env_.emplace_back("SEQNET_DATA_DIR", (root_ / "data").string());
    env_.emplace_back("SEQNET_CACHE_DIR", (root_ / "cache").string());
    env_.emplace_back("SEQNET_DATASETS_BASE_URL", "file://" + (root_ / "mirror").string());
    env_.emplace_back("SEQNET_OFFLINE", std::nullopt);
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    env_.clear();
    fs::remove_all(root_);
  }
  fs::path root_, old_cwd_, real_data_;
  std::list<ScopedEnv> env_;
};

}  // namespace

TEST_F(DownloadTest, DataDirsListEachFolderOnce) {
  fs::create_directories(root_ / "shared" / "data");
  fs::create_directory_symlink(root_ / "shared" / "data", root_ / "link");
  // SEQNET_DATA_DIR is ../shared/data spelled another way: the folder is listed once, as first named.
  ScopedEnv env("SEQNET_DATA_DIR", (root_ / "shared" / "data").string() + "/");
  std::vector<std::string> dirs = data_dirs();
  ASSERT_EQ(dirs.size(), 2u) << ::testing::PrintToString(dirs);
  EXPECT_EQ(dirs[0], (root_ / "shared" / "data").string() + "/");
  EXPECT_EQ(dirs[1], (root_ / "cache").string());
  // An explicit folder reached through a symlink and through "..": still one entry, the explicit one.
  dirs = data_dirs((root_ / "link").string());
  ASSERT_EQ(dirs.size(), 2u) << ::testing::PrintToString(dirs);
  EXPECT_EQ(dirs[0], (root_ / "link").string());
  EXPECT_EQ(data_dirs((root_ / "work" / ".." / "shared" / "data").string()).size(), 2u);
  // A folder that does not exist yet keeps its place.
  EXPECT_EQ(data_dirs("/nonexistent/explicit").front(), "/nonexistent/explicit");
  EXPECT_EQ(data_dirs("/nonexistent/explicit").size(), 3u);
  ScopedEnv cache("SEQNET_CACHE_DIR", (root_ / "link").string());
  EXPECT_EQ(data_dirs().size(), 1u);
}

TEST_F(DownloadTest, KnownFileIsDownloadedIntoTheCacheOnce) {
  const std::string csv =
      "\"Date Time\",\"p (mbar)\",\"T (degC)\"\n01.01.2009 00:10:00,996.52,-8.02\n01.01.2009 00:20:00,996.57,-8.41\n";
  write_bytes(root_ / "mirror" / "jena_climate" / "jena_climate_2009_2016.csv", csv);
  const std::string path = find_data_file("jena_climate/jena_climate_2009_2016.csv");
  EXPECT_EQ(path, (root_ / "cache" / "jena_climate" / "jena_climate_2009_2016.csv").string());
  EXPECT_EQ(read_bytes(path), csv);
  EXPECT_EQ(files_in(root_ / "cache" / "jena_climate"), std::vector<std::string>{"jena_climate_2009_2016.csv"});  // no temporary left
  // The second time it is found in the cache: the mirror is not needed any more.
  fs::remove(root_ / "mirror" / "jena_climate" / "jena_climate_2009_2016.csv");
  EXPECT_EQ(find_data_file("jena_climate/jena_climate_2009_2016.csv"), path);
  data::CsvTable t = jena_climate::load_data();
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"p (mbar)", "T (degC)"}));
}

TEST_F(DownloadTest, Sha256AndSizeAreVerified) {
  ScopedEnv no_mirror("SEQNET_DATASETS_BASE_URL", std::nullopt);
  write_bytes(root_ / "src" / "abc.txt", "abc");
  const std::string url = "file://" + (root_ / "src" / "abc.txt").string();
  EXPECT_EQ(sha256_file((root_ / "src" / "abc.txt").string()), kAbcSha256);

  EXPECT_EQ(read_bytes(download_data_file({"ok/abc.txt", url, kAbcSha256, 3, ""})), "abc");

  const std::string wrong(64, '0');
  std::string msg = error_of([&] { download_data_file({"bad/abc.txt", url, wrong, -1, ""}); });
  EXPECT_NE(msg.find("sha256 mismatch: expected " + wrong + ", got " + kAbcSha256), std::string::npos) << msg;
  EXPECT_NE(msg.find(url), std::string::npos) << msg;
  EXPECT_TRUE(files_in(root_ / "cache" / "bad").empty()) << "the download must be deleted";

  msg = error_of([&] { download_data_file({"short/abc.txt", url, "", 4, ""}); });
  EXPECT_NE(msg.find("got 3 bytes, expected 4"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(root_ / "cache" / "short").empty());
}

TEST_F(DownloadTest, KnownFileThatIsNotThePublishedOneIsRefused) {
  write_bytes(root_ / "mirror" / "imdb" / "imdb_word_index.json", "{}");
  const std::string msg = error_of([] { find_data_file("imdb/imdb_word_index.json"); });
  EXPECT_NE(msg.find("got 2 bytes, expected 1641221"), std::string::npos) << msg;
  EXPECT_NE(msg.find((root_ / "cache" / "imdb" / "imdb_word_index.json").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("SEQNET_DATA_DIR"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(root_ / "cache" / "imdb").empty());
}

TEST_F(DownloadTest, ZipMemberIsExtracted) {
  ScopedEnv no_mirror("SEQNET_DATASETS_BASE_URL", std::nullopt);
  const fs::path zip = root_ / "src" / "abc.zip";
  fs::create_directories(zip.parent_path());
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  ASSERT_EQ(archive_write_open_filename(a, zip.c_str()), ARCHIVE_OK);
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"__MACOSX/folder/._abc.txt", "resource fork"}, {"folder/abc.txt", "abc"}, {"other.txt", "x"}}) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, la_int64_t(bytes.size()));
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    archive_write_data(a, bytes.data(), bytes.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);

  const std::string url = "file://" + zip.string();
  EXPECT_EQ(read_bytes(download_data_file({"z/abc.txt", url, kAbcSha256, 3, "abc.txt"})), "abc");
  EXPECT_EQ(files_in(root_ / "cache" / "z"), std::vector<std::string>{"abc.txt"});
  const std::string msg = error_of([&] { download_data_file({"z/missing.txt", url, "", -1, "missing.txt"}); });
  EXPECT_NE(msg.find("the zip holds no missing.txt"), std::string::npos) << msg;
}

TEST_F(DownloadTest, OfflineMessageSaysWhichFileToPutWhere) {
  ScopedEnv offline("SEQNET_OFFLINE", "1"), canonical("SEQNET_DATASETS_BASE_URL", std::nullopt);
  EXPECT_FALSE(downloads_enabled());
  std::string msg = error_of([] { find_data_file("imdb/imdb.npz"); });
  EXPECT_NE(msg.find("SEQNET_OFFLINE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"), std::string::npos) << msg;
  for (const char* d : {"data", "shared/data", "cache"})
    EXPECT_NE(msg.find((root_ / d / "imdb" / "imdb.npz").lexically_normal().string()), std::string::npos) << d << "\n" << msg;
  EXPECT_NE(msg.find("SEQNET_DATA_DIR"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(root_ / "cache").empty());

  // The IMDB loader names all its sources.
  msg = error_of([] { imdb::load_raw(); });
  for (const char* s : {"imdb.npz", "keras_sequences/imdb_{train,test}.txt.gz", "aclImdb_v1.tar.gz", "imdb_word_index.json", "SEQNET_OFFLINE"})
    EXPECT_NE(msg.find(s), std::string::npos) << s << "\n" << msg;
  // A file with no download source says so without mentioning downloads.
  msg = error_of([] { find_data_file("no_such_dataset/file.bin"); });
  EXPECT_EQ(msg.find("SEQNET_OFFLINE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("put the file in one of those places"), std::string::npos) << msg;
}

TEST_F(DownloadTest, FailedDownloadSaysWhichFileToPutWhere) {
  // The mirror lacks the file: the download fails, as it would offline.
  const std::string msg = error_of([] { find_data_file("mnist/t10k-labels-idx1-ubyte.gz"); });
  EXPECT_NE(msg.find("downloading file://" + (root_ / "mirror" / "mnist" / "t10k-labels-idx1-ubyte.gz").string() + " failed"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find((root_ / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("put the file in one of those places"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(root_ / "cache" / "mnist").empty());
}

TEST_F(DownloadTest, RealFilesFromAMirrorVerifyAgainstThePublishedSha256) {
  if (real_data_.empty()) GTEST_SKIP() << "imdb/imdb_word_index.json not found (set SEQNET_DATA_DIR, e.g. ../shared/data)";
  ScopedEnv mirror("SEQNET_DATASETS_BASE_URL", "file://" + real_data_.string());
  for (const char* f : {"imdb/imdb_word_index.json", "mnist/t10k-labels-idx1-ubyte.gz", "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"}) {
    if (!fs::exists(real_data_ / f)) continue;
    const std::string path = find_data_file(f);
    EXPECT_EQ(path, (root_ / "cache" / f).string());
    EXPECT_EQ(sha256_file(path), known_data_file(f)->sha256) << f;
  }
  EXPECT_EQ(imdb::get_word_index().at("the"), 1);
}

TEST_F(DownloadTest, AKnownDataSetTruncatedOrAlteredIsAnErrorBeforeTraining) {
  // A copy cut at a line boundary still parses: without the check it would train silently on less data.
  const std::string rel = "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv";
  const DataFileInfo* known = known_data_file(rel);
  ASSERT_NE(known, nullptr);
  ASSERT_GT(known->size, 0);
  fs::create_directories(root_ / "data" / "beijing_pm25");
  const fs::path copy = root_ / "data" / rel;
  std::ofstream(copy) << "No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir\n1,2010,1,1,0,NA,-21,-11,1021,NW,1.79,0,0\n";
  std::string msg = error_of([&] { find_data_file(rel); });
  EXPECT_NE(msg.find(copy.string() + " has " + std::to_string(fs::file_size(copy)) + " bytes where the published " + rel + " has " + std::to_string(known->size)),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  if (known->sha256.empty()) return;
  // Same size, other bytes: the sha256 says so.
  std::string bytes(size_t(known->size), 'x');
  std::ofstream(copy, std::ios::binary | std::ios::trunc) << bytes;
  msg = error_of([&] { find_data_file(rel); });
  EXPECT_NE(msg.find("has sha256"), std::string::npos) << msg;
}
