// IDX: a big-endian magic number (0x0000 08 ndim, 08 = unsigned byte), ndim big-endian int32 sizes, data.
#include "seqnet/data/mnist.h"

#include <filesystem>

#include "gzip_file.h"
#include "seqnet/data/data_dir.h"

namespace seqnet::datasets {
namespace {

uint32_t be32(const std::string& s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// Returns the sizes and the offset of the data; checks the magic number and the length.
std::vector<int64_t> idx_header(const std::string& bytes, const std::string& path, uint32_t magic, size_t& data_at) {
  if (bytes.size() < 4) throw Error(path + ": byte 0: too short for an IDX header");
  const uint32_t m = be32(bytes, 0);
  if (m != magic) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "byte 0: magic number 0x%08x, expected 0x%08x", m, magic);
    throw Error(path + ": " + buf);
  }
  const size_t ndim = magic & 0xff;
  if (bytes.size() < 4 + 4 * ndim) throw Error(path + ": byte 4: truncated IDX header");
  std::vector<int64_t> dims;
  uint64_t count = 1;
  for (size_t i = 0; i < ndim; ++i) {
    dims.push_back(be32(bytes, 4 + 4 * i));
    // No real file is over 2^40 bytes; the bound keeps the product from wrapping around.
    if (dims.back() > 0 && count > (uint64_t{1} << 40) / static_cast<uint64_t>(dims.back()))
      throw Error(path + ": byte " + std::to_string(4 + 4 * i) + ": implausible IDX dimensions");
    count *= static_cast<uint64_t>(dims.back());
  }
  data_at = 4 + 4 * ndim;
  if (bytes.size() - data_at != count)
    throw Error(path + ": byte " + std::to_string(bytes.size()) + ": the header promises " + std::to_string(count) +
                " data bytes, the file has " + std::to_string(bytes.size() - data_at));
  return dims;
}

std::string locate(const std::string& dir, const std::string& sub, const std::string& name) {
  if (!dir.empty()) {
    for (const std::string& n : {name + ".gz", name}) {
      std::filesystem::path p = std::filesystem::path(dir) / n;
      if (std::filesystem::is_regular_file(p)) return p.string();
    }
    throw Error(sub + ": " + name + ".gz not found in " + dir);
  }
  std::string f = try_find_data_file(sub + "/" + name);
  return f.empty() ? find_data_file(sub + "/" + name + ".gz") : f;
}

std::pair<ImageSplit, ImageSplit> load(const std::string& dir, const std::string& sub) {
  auto file = [&](const char* n) { return locate(dir, sub, n); };
  ImageSplit train{read_idx_images(file("train-images-idx3-ubyte")), read_idx_labels(file("train-labels-idx1-ubyte"))};
  ImageSplit test{read_idx_images(file("t10k-images-idx3-ubyte")), read_idx_labels(file("t10k-labels-idx1-ubyte"))};
  if (train.x.dim(0) != train.y.dim(0) || test.x.dim(0) != test.y.dim(0))
    throw Error(sub + ": the image and label counts differ");
  return {std::move(train), std::move(test)};
}

}  // namespace

Tensor read_idx_images(const std::string& path) { return parse_idx_images(data::detail::read_gzip(path), path); }
Tensor read_idx_labels(const std::string& path) { return parse_idx_labels(data::detail::read_gzip(path), path); }

Tensor parse_idx_images(const std::string& bytes, const std::string& path) {
  size_t at = 0;
  std::vector<int64_t> dims = idx_header(bytes, path, 0x00000803, at);
  Tensor x(Shape(dims.begin(), dims.end()));
  float* out = x.data();
  for (int64_t i = 0; i < x.size(); ++i) out[i] = static_cast<float>(static_cast<unsigned char>(bytes[at + static_cast<size_t>(i)])) / 255.0f;
  return x;
}

Tensor parse_idx_labels(const std::string& bytes, const std::string& path) {
  size_t at = 0;
  std::vector<int64_t> dims = idx_header(bytes, path, 0x00000801, at);
  std::vector<int32_t> y(static_cast<size_t>(dims[0]));
  for (size_t i = 0; i < y.size(); ++i) {
    y[i] = static_cast<unsigned char>(bytes[at + i]);
    // Both MNIST and Fashion-MNIST have ten classes: a label beyond 9 is a damaged file, not a class.
    if (y[i] > 9)
      throw Error(path + ": label " + std::to_string(y[i]) + " of image " + std::to_string(i) + " (byte " +
                  std::to_string(at + i) + ") is not a class 0-9");
  }
  return Tensor::ints({dims[0]}, std::move(y));
}

std::pair<ImageSplit, ImageSplit> mnist::load_data(const std::string& dir) { return load(dir, "mnist"); }
std::pair<ImageSplit, ImageSplit> fashion_mnist::load_data(const std::string& dir) { return load(dir, "fashion_mnist"); }

}  // namespace seqnet::datasets
