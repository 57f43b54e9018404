// Where data set files are looked up, in order: an explicit folder, $SEQNET_DATA_DIR, ../shared/data
// (relative to the current directory), then ~/.cache/seqnet/datasets.
#pragma once
#include <string>
#include <vector>

namespace seqnet::datasets {

// The candidate folders, in lookup order (explicit first when non-empty).
std::vector<std::string> data_dirs(const std::string& explicit_dir = "");
// The first existing <folder>/<relative>; otherwise an Error that lists every path tried.
std::string find_data_file(const std::string& relative, const std::string& explicit_dir = "");
// As find_data_file, but returns "" instead of throwing.
std::string try_find_data_file(const std::string& relative, const std::string& explicit_dir = "");

}  // namespace seqnet::datasets
