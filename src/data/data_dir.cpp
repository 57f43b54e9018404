#include "seqnet/data/data_dir.h"

#include <cstdlib>
#include <filesystem>

#include "seqnet/tensor.h"

namespace seqnet::datasets {

std::vector<std::string> data_dirs(const std::string& explicit_dir) {
  std::vector<std::string> dirs;
  if (!explicit_dir.empty()) dirs.push_back(explicit_dir);
  if (const char* env = std::getenv("SEQNET_DATA_DIR"); env && *env) dirs.emplace_back(env);
  dirs.push_back((std::filesystem::current_path() / ".." / "shared" / "data").lexically_normal().string());
  if (const char* home = std::getenv("HOME"); home && *home)
    dirs.push_back((std::filesystem::path(home) / ".cache" / "seqnet" / "datasets").string());
  return dirs;
}

std::string try_find_data_file(const std::string& relative, const std::string& explicit_dir) {
  for (const auto& d : data_dirs(explicit_dir)) {
    std::filesystem::path p = std::filesystem::path(d) / relative;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

std::string find_data_file(const std::string& relative, const std::string& explicit_dir) {
  std::string found = try_find_data_file(relative, explicit_dir);
  if (!found.empty()) return found;
  std::string tried;
  for (const auto& d : data_dirs(explicit_dir)) tried += "\n  " + (std::filesystem::path(d) / relative).string();
  throw Error("data file " + relative + " not found; looked in:" + tried +
              "\nput the file in one of these places, or set SEQNET_DATA_DIR to the folder that holds it");
}

}  // namespace seqnet::datasets
