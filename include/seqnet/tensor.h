// seqnet::Tensor — an N-D row-major array of float32 (activations, weights) or int32 (token ids).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace seqnet {

using Shape = std::vector<int64_t>;  // -1 stands for an unknown size (Keras's None), only in symbolic shapes

enum class DType { float32, int32 };
const char* dtype_name(DType dtype);

// "(None, 500, 128)" — the way Keras prints shapes.
std::string shape_to_string(const Shape& shape);
// One shape as shape_to_string writes it; several as a list: "[(None, 4), (None, 4)]".
std::string shapes_to_string(const std::vector<Shape>& shapes);
int64_t shape_size(const Shape& shape);  // product of the dimensions; every dimension must be known

namespace detail {
// Tensor memory. Large blocks (activations and their gradients, freed and made again at every training step)
// go through a small per-thread cache of freed blocks: malloc would return them to the kernel and fault them
// back in on the next step (src/tensor/tensor.cpp says when).
void* allocate_tensor_block(size_t bytes);
void free_tensor_block(void* p, size_t bytes) noexcept;

// std::allocator over those blocks, except that resize() leaves new elements uninitialized
// (Tensor::uninitialized); every other way of sizing a vector (assign, a count and a value) still writes the value.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  T* allocate(size_t n) { return static_cast<T*>(allocate_tensor_block(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { free_tensor_block(p, n * sizeof(T)); }
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace detail

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, DType dtype = DType::float32);  // zero-filled
  Tensor(Shape shape, std::vector<float> values);
  Tensor(Shape shape, std::vector<int32_t> values);

  static Tensor zeros(Shape shape) { return Tensor(std::move(shape)); }
  // float32 with unspecified contents, for outputs a kernel overwrites entirely (saves zeroing megabytes).
  static Tensor uninitialized(Shape shape);
  static Tensor full(Shape shape, float value);
  static Tensor ints(Shape shape, std::vector<int32_t> values) { return Tensor(std::move(shape), std::move(values)); }

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const;  // negative axes count from the end
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  DType dtype() const { return dtype_; }
  bool is_float() const { return dtype_ == DType::float32; }

  // The elements; asking for the other dtype is an error naming the shape. Inline: kernels call these per row.
  float* data() {
    if (dtype_ != DType::float32) [[unlikely]] wrong_dtype();
    return f_.data();
  }
  const float* data() const {
    if (dtype_ != DType::float32) [[unlikely]] wrong_dtype();
    return f_.data();
  }
  int32_t* idata() {
    if (dtype_ != DType::int32) [[unlikely]] wrong_dtype();
    return i_.data();
  }
  const int32_t* idata() const {
    if (dtype_ != DType::int32) [[unlikely]] wrong_dtype();
    return i_.data();
  }
  float& operator[](int64_t i) { return f_[static_cast<size_t>(i)]; }
  float operator[](int64_t i) const { return f_[static_cast<size_t>(i)]; }

  // Same data, another shape of equal size (one dimension may be -1 and is inferred).
  Tensor reshaped(Shape shape) const&;
  Tensor reshaped(Shape shape) &&;
  void reshape_in_place(Shape shape);
  // Rows [begin, end) of the first axis.
  Tensor slice_rows(int64_t begin, int64_t end) const;
  // Rows picked by index along the first axis (for shuffled batches).
  Tensor gather_rows(const std::vector<int64_t>& rows) const;
  Tensor as_float() const;  // int32 -> float32 copy; float32 -> copy
  std::vector<float> values() const;  // the values as float32, copied out
  void fill(float value);
  bool same_shape(const Tensor& other) const { return shape_ == other.shape_; }
  std::string shape_string() const { return shape_to_string(shape_); }

 private:
  [[noreturn]] void wrong_dtype() const;
  Shape resolve(Shape shape) const;
  Shape shape_;
  int64_t size_ = 0;
  DType dtype_ = DType::float32;
  std::vector<float, detail::DefaultInitAllocator<float>> f_;
  std::vector<int32_t> i_;
};

// Error type for every user-facing failure: the message names what is wrong and where.
class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace seqnet
