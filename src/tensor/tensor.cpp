#include "seqnet/tensor.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <unistd.h>
#include <fmt/format.h>

namespace seqnet {

namespace detail {

namespace {
// Blocks of at least kMinCachedBytes are kept for reuse when freed: a training step frees and allocates the same
// sizes again (setup A: three 400 KB blocks per step), and glibc's malloc would serve each by trimming and
// growing the heap or by mmap, which the kernel zero-fills page by page (a third of setup A's step in a C++
// program). At most kCachedBlocks blocks and kCachedBytes bytes per thread; the OpenMP pool's threads live as
// long as the process. Off under AddressSanitizer, so that a use after free is still caught.
constexpr size_t kMinCachedBytes = size_t(64) << 10;
constexpr size_t kCachedBlocks = 16;
constexpr size_t kCachedBytes = size_t(256) << 20;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheBlocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCacheBlocks = false;
#else
constexpr bool kCacheBlocks = true;
#endif
#else
constexpr bool kCacheBlocks = true;
#endif
// Trivially destructible, so that a tensor freed during a thread's exit never finds its cache destroyed; what
// it holds when a thread ends stays allocated (still reachable), as the thread's last tensors would be.
struct FreeBlock {
  void* p;
  size_t bytes;
};
thread_local FreeBlock t_blocks[kCachedBlocks];
thread_local size_t t_count = 0, t_bytes = 0;
// Cache-line aligned (malloc gives 16 bytes): a vector load at the start of a row of 8 or 16 floats then never
// spans two lines, and threads that split a tensor at row boundaries of whole lines never share one.
constexpr std::align_val_t kBlockAlignment{64};
}  // namespace

void* allocate_tensor_block(size_t bytes) {
  if (kCacheBlocks && bytes >= kMinCachedBytes) {
    for (size_t i = t_count; i-- > 0;) {
      if (t_blocks[i].bytes != bytes) continue;
      void* p = t_blocks[i].p;
      t_blocks[i] = t_blocks[--t_count];
      t_bytes -= bytes;
      return p;
    }
  }
  return ::operator new(bytes, kBlockAlignment);
}

void free_tensor_block(void* p, size_t bytes) noexcept {
  if (kCacheBlocks && bytes >= kMinCachedBytes && t_count < kCachedBlocks && t_bytes + bytes <= kCachedBytes) {
    t_blocks[t_count++] = {p, bytes};
    t_bytes += bytes;
    return;
  }
  ::operator delete(p, kBlockAlignment);
}

}  // namespace detail

namespace kernels {
extern const bool cpu_check_linked;
}
namespace {
// Links src/kernels/cpu_check.cpp (the CPU's instruction set, checked before anything runs) into every program.
[[maybe_unused]] __attribute__((used)) const bool* const link_cpu_check = &kernels::cpu_check_linked;
}  // namespace

const char* dtype_name(DType dtype) { return dtype == DType::float32 ? "float32" : "int32"; }

std::string shape_to_string(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += shape[i] < 0 ? std::string("None") : std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

std::string shapes_to_string(const std::vector<Shape>& shapes) {
  if (shapes.size() == 1) return shape_to_string(shapes[0]);
  std::string out = "[";
  for (size_t i = 0; i < shapes.size(); ++i) out += (i ? ", " : "") + shape_to_string(shapes[i]);
  return out + "]";
}

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("shape " + shape_to_string(shape) + " has an unknown dimension where a concrete size is needed");
    if (__builtin_mul_overflow(n, d, &n))
      throw Error("shape " + shape_to_string(shape) + " has more elements than a 64-bit count holds");
  }
  return n;
}

namespace {
std::string bytes_text(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) bytes /= 1024.0, ++u;
  return fmt::format("{:.1f} {}", bytes, units[u]);
}

// Sizes come from files and configs that may lie: a tensor larger than the machine's memory is an error naming
// its shape and size before anything is allocated (std::bad_alloc names nothing, and a large enough allocation
// succeeds on Linux only to be killed later).
int64_t checked_size(const Shape& shape) {
  const int64_t n = shape_size(shape);
  static const double memory = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
  }();
  const double bytes = double(n) * 4.0;
  if (memory > 0 && bytes > memory)
    throw Error(fmt::format("a tensor of shape {} needs {}, more than this machine's {} of memory",
                            shape_to_string(shape), bytes_text(bytes), bytes_text(memory)));
  return n;
}
}  // namespace

Tensor::Tensor(Shape shape, DType dtype) : shape_(std::move(shape)), size_(checked_size(shape_)), dtype_(dtype) {
  if (dtype_ == DType::float32) f_.assign(static_cast<size_t>(size_), 0.0f);
  else i_.assign(static_cast<size_t>(size_), 0);
}

Tensor::Tensor(Shape shape, std::vector<float> values)
    : shape_(std::move(shape)), size_(shape_size(shape_)), dtype_(DType::float32), f_(values.begin(), values.end()) {
  if (static_cast<int64_t>(f_.size()) != size_)
    throw Error(fmt::format("tensor of shape {} needs {} values, got {}", shape_to_string(shape_), size_, f_.size()));
}

Tensor::Tensor(Shape shape, std::vector<int32_t> values)
    : shape_(std::move(shape)), size_(shape_size(shape_)), dtype_(DType::int32), i_(std::move(values)) {
  if (static_cast<int64_t>(i_.size()) != size_)
    throw Error(fmt::format("tensor of shape {} needs {} values, got {}", shape_to_string(shape_), size_, i_.size()));
}

Tensor Tensor::uninitialized(Shape shape) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.size_ = checked_size(t.shape_);
  t.f_.resize(static_cast<size_t>(t.size_));
  return t;
}

Tensor Tensor::full(Shape shape, float value) {
  Tensor t(std::move(shape));
  t.fill(value);
  return t;
}

int64_t Tensor::dim(int axis) const {
  int r = rank();
  int a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) throw Error(fmt::format("axis {} is out of range for a tensor of shape {}", axis, shape_string()));
  return shape_[static_cast<size_t>(a)];
}

void Tensor::wrong_dtype() const {
  if (dtype_ == DType::int32) throw Error("expected a float32 tensor, got int32 of shape " + shape_string());
  throw Error("expected an int32 tensor, got float32 of shape " + shape_string());
}

Shape Tensor::resolve(Shape shape) const {
  int64_t known = 1;
  int unknown = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      if (unknown >= 0) throw Error("reshape: at most one dimension may be -1");
      unknown = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || size_ % known != 0)
      throw Error(fmt::format("cannot reshape {} into {}", shape_string(), shape_to_string(shape)));
    shape[static_cast<size_t>(unknown)] = size_ / known;
  } else if (known != size_) {
    throw Error(fmt::format("cannot reshape {} ({} values) into {} ({} values)", shape_string(), size_,
                            shape_to_string(shape), known));
  }
  return shape;
}

Tensor Tensor::reshaped(Shape shape) const& {
  Tensor t = *this;
  t.shape_ = resolve(std::move(shape));
  return t;
}

Tensor Tensor::reshaped(Shape shape) && {
  shape_ = resolve(std::move(shape));
  return std::move(*this);
}

void Tensor::reshape_in_place(Shape shape) { shape_ = resolve(std::move(shape)); }

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  if (rank() == 0) throw Error("slice_rows on a scalar tensor");
  if (begin < 0 || end > shape_[0] || begin > end)
    throw Error(fmt::format("rows [{}, {}) are out of range for shape {}", begin, end, shape_string()));
  Shape s = shape_;
  s[0] = end - begin;
  int64_t row = shape_[0] ? size_ / shape_[0] : 0;
  Tensor t = dtype_ == DType::float32 ? uninitialized(s) : Tensor(s, dtype_);
  if (dtype_ == DType::float32) std::copy_n(f_.data() + begin * row, (end - begin) * row, t.f_.data());
  else std::copy_n(i_.data() + begin * row, (end - begin) * row, t.i_.data());
  return t;
}

Tensor Tensor::gather_rows(const std::vector<int64_t>& rows) const {
  if (rank() == 0) throw Error("gather_rows on a scalar tensor");
  Shape s = shape_;
  s[0] = static_cast<int64_t>(rows.size());
  int64_t row = shape_[0] ? size_ / shape_[0] : 0;
  Tensor t = dtype_ == DType::float32 ? uninitialized(s) : Tensor(s, dtype_);
  for (size_t r = 0; r < rows.size(); ++r) {
    int64_t src = rows[r];
    if (src < 0 || src >= shape_[0]) throw Error(fmt::format("row {} is out of range for shape {}", src, shape_string()));
    if (dtype_ == DType::float32) std::copy_n(f_.data() + src * row, row, t.f_.data() + static_cast<int64_t>(r) * row);
    else std::copy_n(i_.data() + src * row, row, t.i_.data() + static_cast<int64_t>(r) * row);
  }
  return t;
}

Tensor Tensor::as_float() const {
  if (dtype_ == DType::float32) return *this;
  Tensor t(shape_);
  for (int64_t i = 0; i < size_; ++i) t.f_[static_cast<size_t>(i)] = static_cast<float>(i_[static_cast<size_t>(i)]);
  return t;
}

std::vector<float> Tensor::values() const {
  if (dtype_ == DType::float32) return std::vector<float>(f_.begin(), f_.end());
  return std::vector<float>(i_.begin(), i_.end());
}

void Tensor::fill(float value) {
  if (dtype_ == DType::float32) std::fill(f_.begin(), f_.end(), value);
  else std::fill(i_.begin(), i_.end(), static_cast<int32_t>(value));
}

}  // namespace seqnet
