// MNIST (and Fashion-MNIST, same format) from the four IDX files, gzip'd or not.
#pragma once
#include <string>
#include <utility>

#include "seqnet/tensor.h"

namespace seqnet::datasets {

struct ImageSplit {
  Tensor x;  // (n, rows, cols) float32, pixel / 255 in [0, 1]
  Tensor y;  // (n,) int32 labels
};

// IDX readers: images (magic 0x00000803) and labels (magic 0x00000801).
Tensor read_idx_images(const std::string& path);
Tensor read_idx_labels(const std::string& path);
// The same on the (inflated) file contents; `name` labels errors.
Tensor parse_idx_images(const std::string& bytes, const std::string& name);
Tensor parse_idx_labels(const std::string& bytes, const std::string& name);

namespace mnist {
// `dir`: the folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or the same without .gz).
// Empty: "mnist/" in the data folders (data_dir.h).
std::pair<ImageSplit, ImageSplit> load_data(const std::string& dir = "");
}  // namespace mnist

namespace fashion_mnist {
// The same files, from `dir` or "fashion_mnist/" in the data folders.
std::pair<ImageSplit, ImageSplit> load_data(const std::string& dir = "");
}  // namespace fashion_mnist

}  // namespace seqnet::datasets
