// libFuzzer target for the NumPy readers: .npy (every dtype, both byte orders, Fortran order, pickled
// object arrays of int lists) and .npz (zip). Every input must parse or throw seqnet::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "seqnet/data/npz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
      seqnet::data::parse_npz(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npz");
    } else {
      seqnet::data::NpyArray a = seqnet::data::parse_npy(data, size, "fuzz.npy");
      // Converting exercises the value checks (int64 range, dtype support) as loaders do.
      (void)a.to_tensor();
    }
  } catch (const seqnet::Error&) {
  }
  return 0;
}
