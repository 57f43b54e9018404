// A small RAII layer over the HDF5 C API: what Keras's weight files need (groups, float datasets,
// int scalars, string attributes). Files live in memory (core driver); bytes in, bytes out, so that
// saving stays atomic and reading never leaves temporary files. Every failure is a seqnet::Error.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "seqnet/tensor.h"

namespace seqnet::h5 {

using hid = int64_t;  // hid_t without including hdf5.h

class Group {
 public:
  Group() = default;
  Group(hid id, std::string path) : id_(id), path_(std::move(path)) {}
  ~Group();
  Group(Group&& o) noexcept : id_(o.id_), path_(std::move(o.path_)) { o.id_ = -1; }
  Group& operator=(Group&& o) noexcept;
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const;  // a child link (group or dataset)
  bool has_group(const std::string& name) const;
  bool has_dataset(const std::string& name) const;
  Group open(const std::string& name) const;    // throws naming the path when missing
  Group create(const std::string& name);        // creates intermediate groups too
  Group require(const std::string& name);       // open or create
  std::vector<std::string> children() const;    // in HDF5's name order

  void write(const std::string& name, const Tensor& t);  // float32 or int32 dataset of t's shape
  void write_int_scalar(const std::string& name, int64_t v);
  void write_float_scalar(const std::string& name, float v);
  Tensor read(const std::string& name) const;  // any numeric dataset, as float32
  double read_scalar(const std::string& name) const;
  Shape dataset_shape(const std::string& name) const;

  bool has_attr(const std::string& name) const;
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, const std::vector<std::string>& values);
  // A string attribute (fixed or variable length); nullopt when absent.
  std::optional<std::string> attr_string(const std::string& name) const;
  // A string-array attribute, also Keras's chunked form (name0, name1, ...); empty when absent.
  std::vector<std::string> attr_strings(const std::string& name) const;

 private:
  hid id_ = -1;
  std::string path_;
};

class File {
 public:
  static File create();                                   // empty, in memory
  static File open(const std::string& bytes, const std::string& what);  // `what` names it in errors
  ~File();
  File(File&& o) noexcept : id_(o.id_), image_(std::move(o.image_)) { o.id_ = -1; }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  Group root() const;
  std::string bytes();  // the file image, ready to write

 private:
  explicit File(hid id) : id_(id) {}
  hid id_ = -1;
  std::string image_;  // keeps the image alive while HDF5 reads it
};

bool looks_like_hdf5(const std::string& bytes);

}  // namespace seqnet::h5
