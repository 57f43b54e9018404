// NumPy .npz archives (np.savez / np.savez_compressed): a zip of "<key>.npy" members.
#pragma once
#include <map>
#include <string>

#include "seqnet/data/npy.h"

namespace seqnet::data {

using NpzArchive = std::map<std::string, NpyArray>;  // key without ".npy"

NpzArchive read_npz(const std::string& path);
// The same from the archive's bytes in memory; `name` labels errors.
NpzArchive parse_npz(const std::string& bytes, const std::string& name);
// compress = false is np.savez (stored members), true is np.savez_compressed (deflate).
void write_npz(const std::string& path, const NpzArchive& arrays, bool compress = false);

}  // namespace seqnet::data
