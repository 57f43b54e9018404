// libFuzzer target for the IDX readers (MNIST images and labels), on inflated file contents.
#include <cstddef>
#include <cstdint>
#include <string>

#include "seqnet/data/mnist.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    seqnet::datasets::parse_idx_images(bytes, "fuzz-images-idx3-ubyte");
  } catch (const seqnet::Error&) {
  }
  try {
    seqnet::datasets::parse_idx_labels(bytes, "fuzz-labels-idx1-ubyte");
  } catch (const seqnet::Error&) {
  }
  return 0;
}
