// Whole-file reads through zlib: gzip files are inflated, plain files pass through unchanged.
#pragma once
#include <string>

namespace seqnet::data::detail {

// Throws naming the file and the byte offset (in the inflated stream) when it is truncated or corrupt.
std::string read_gzip(const std::string& path);

}  // namespace seqnet::data::detail
