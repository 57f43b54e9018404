// A zip archive made in memory (the .keras container, NumPy's .npz), to be written with write_file_atomic.
// Internal header.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace seqnet {

// The bytes of a zip holding `files` (name, contents), each deflated or stored.
std::string zip_bytes(const std::vector<std::pair<std::string, std::string>>& files, bool deflate = true);

}  // namespace seqnet
