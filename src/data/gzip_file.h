// Whole-file reads that undo compression, recognized by the file's first bytes and never by its name.
#pragma once
#include <string>

namespace seqnet::data::detail {

// gzip through zlib; plain files pass through unchanged. Throws naming the file and the byte offset (in the
// inflated stream) when it is truncated or corrupt.
std::string read_gzip(const std::string& path);

// Also bzip2, xz, lzma, zstd and lz4 (through libarchive's filters); anything else is read as it is.
std::string read_decompressed(const std::string& path);

}  // namespace seqnet::data::detail
