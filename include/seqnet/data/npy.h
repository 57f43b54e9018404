// NumPy .npy files: float32, float64, int32, int64, uint8 and bool arrays in C order, plus reading
// object arrays of int lists (how Keras's imdb.npz stores its ragged reviews; NumPy pickles them).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::data {

enum class NpyType { float32, float64, int32, int64, uint8, boolean, object };
const char* npy_type_name(NpyType type);  // numpy's descr: "<f4", "<f8", "<i4", "<i8", "|u1", "|b1", "|O"

template <typename T>
constexpr NpyType npy_type_of() {
  if constexpr (std::is_same_v<T, float>) return NpyType::float32;
  else if constexpr (std::is_same_v<T, double>) return NpyType::float64;
  else if constexpr (std::is_same_v<T, int32_t>) return NpyType::int32;
  else if constexpr (std::is_same_v<T, int64_t>) return NpyType::int64;
  else if constexpr (std::is_same_v<T, uint8_t>) return NpyType::uint8;
  else if constexpr (std::is_same_v<T, bool>) return NpyType::boolean;
  else static_assert(sizeof(T) == 0, "no NumPy type for this C++ type");
}

struct NpyArray {
  NpyType type = NpyType::float32;
  Shape shape;
  std::vector<uint8_t> bytes;               // C order, little-endian; empty for object arrays
  std::vector<std::vector<int64_t>> lists;  // object arrays: one int list per element, C order

  int64_t size() const { return shape_size(shape); }

  // The values, when T is exactly the stored type.
  template <typename T>
  std::vector<T> values() const {
    if (type != npy_type_of<T>())
      throw Error(std::string("npy: array holds ") + npy_type_name(type) + ", not " + npy_type_name(npy_type_of<T>()));
    std::vector<T> out(static_cast<size_t>(size()));
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = bytes[i] != 0;
    } else if (!bytes.empty()) {  // an empty vector's data() may be null, and memcpy must not get null
      std::memcpy(out.data(), bytes.data(), bytes.size());
    }
    return out;
  }
  template <typename T>
  static NpyArray from_values(Shape shape, const std::vector<T>& values) {
    NpyArray a;
    a.type = npy_type_of<T>();
    a.shape = std::move(shape);
    if (static_cast<int64_t>(values.size()) != a.size())
      throw Error("npy: shape " + shape_to_string(a.shape) + " needs " + std::to_string(a.size()) + " values, got " +
                  std::to_string(values.size()));
    a.bytes.resize(values.size() * (std::is_same_v<T, bool> ? 1 : sizeof(T)));
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < values.size(); ++i) a.bytes[i] = values[i] ? 1 : 0;
    } else {
      std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
    }
    return a;
  }

  // float32 from float32 / float64; int32 from int32, uint8, bool and int64 (each value range-checked).
  Tensor to_tensor() const;
  static NpyArray from_tensor(const Tensor& tensor);
};

// `name` (a path, or "archive.npz:x_train") is used in error messages, which also give the byte offset.
NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& name);
NpyArray read_npy(const std::string& path);
std::vector<uint8_t> npy_bytes(const NpyArray& array);  // format version 1.0 (2.0 for huge headers)
void write_npy(const std::string& path, const NpyArray& array);
void write_npy(const std::string& path, const Tensor& tensor);
// The tensor, when every value of a float32 one is finite; else an error naming `name`, the first NaN or infinity,
// its flat index and its sample (row of axis 0). A NaN read as data poisons every later loss without saying where.
Tensor checked_finite(Tensor tensor, const std::string& name);

}  // namespace seqnet::data
