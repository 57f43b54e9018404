// libFuzzer target for the readers of untrusted files: .keras (zip + JSON + HDF5), legacy .h5 and Keras
// JSON configs. Every input must either load or throw seqnet::Error; anything else is a bug.
// Build with clang: cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
//   -DSEQNET_FUZZ=ON && ninja -C build-fuzz fuzz_model_files && build-fuzz/fuzz_model_files -max_total_time=60 tests/fixtures/model_files
#include <cstddef>
#include <cstdint>
#include <string>

#include "seqnet/saving.h"
#include "seqnet/serialization.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    // Pick the reader from the content, as load_model does, so that the seed corpus (real files) reaches
    // every one of them.
    if (bytes.rfind("PK", 0) == 0) seqnet::model_from_keras_bytes(bytes, true, "fuzz input");
    else if (bytes.rfind("\x89HDF", 0) == 0) seqnet::model_from_h5_bytes(bytes, true, "fuzz input");
    else seqnet::model_from_json(bytes);
  } catch (const seqnet::Error&) {
    // A clear error is the right answer to a damaged file.
  }
  return 0;
}
