// HDF5 through its C API, in memory: see hdf5_file.h.
#include "io/hdf5_file.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <hdf5.h>
#include <new>
#include <sys/wait.h>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace seqnet::h5 {

static_assert(std::is_same_v<hid_t, int64_t>, "seqnet::h5::hid must match hid_t");

namespace {

// HDF5 prints an error stack on every failed call unless told not to; seqnet reports its own errors.
void silence() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

// Closes an HDF5 id of any kind when it leaves scope.
struct Id {
  hid_t id;
  herr_t (*close)(hid_t);
  Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Id() {
    if (id >= 0) close(id);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  operator hid_t() const { return id; }
  bool ok() const { return id >= 0; }
};

std::string join(const std::string& a, const std::string& b) { return a.empty() || a == "/" ? "/" + b : a + "/" + b; }

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : p) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

H5I_type_t object_type(hid_t loc, const std::string& name) {
  Id o(H5Oopen(loc, name.c_str(), H5P_DEFAULT), H5Oclose);
  if (!o.ok()) return H5I_BADID;
  return H5Iget_type(o);
}

std::atomic<uint64_t> g_file_counter{0};
}  // namespace

Group::~Group() {
  if (id_ >= 0) H5Gclose(id_);
}

Group& Group::operator=(Group&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0) H5Gclose(id_);
    id_ = o.id_;
    path_ = std::move(o.path_);
    o.id_ = -1;
  }
  return *this;
}

bool Group::has(const std::string& name) const {
  std::string prefix;
  for (const auto& part : split_path(name)) {
    prefix += (prefix.empty() ? "" : "/") + part;
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return !prefix.empty();
}

bool Group::has_group(const std::string& name) const { return has(name) && object_type(id_, name) == H5I_GROUP; }
bool Group::has_dataset(const std::string& name) const { return has(name) && object_type(id_, name) == H5I_DATASET; }

Group Group::open(const std::string& name) const {
  if (!has_group(name)) throw Error(fmt::format("HDF5 group '{}' is missing", join(path_, name)));
  hid_t g = H5Gopen2(id_, name.c_str(), H5P_DEFAULT);
  if (g < 0) throw Error(fmt::format("cannot open HDF5 group '{}'", join(path_, name)));
  return Group(g, join(path_, name));
}

Group Group::create(const std::string& name) {
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = H5Gcreate2(id_, name.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) throw Error(fmt::format("cannot create HDF5 group '{}'", join(path_, name)));
  return Group(g, join(path_, name));
}

Group Group::require(const std::string& name) { return has_group(name) ? open(name) : create(name); }

std::vector<std::string> Group::children() const {
  std::vector<std::string> out;
  auto cb = [](hid_t, const char* n, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->push_back(n);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Literate(id_, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &out) < 0)
    throw Error(fmt::format("cannot list HDF5 group '{}'", path_));
  return out;
}

namespace {
void write_dataset(hid_t loc, const std::string& path, const std::string& name, hid_t file_type, hid_t mem_type,
                   const Shape& shape, const void* data) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Id space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl, 1);
  // Every array is one chunk with a Fletcher-32 checksum (h5py and Keras read it as usual): bit rot in a
  // weight is then a read error, not a silently different model. Scalars and empty arrays cannot be chunked.
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  const bool chunked = !dims.empty() && std::all_of(dims.begin(), dims.end(), [](hsize_t d) { return d > 0; });
  if (chunked && (H5Pset_chunk(dcpl, int(dims.size()), dims.data()) < 0 || H5Pset_fletcher32(dcpl) < 0))
    throw Error(fmt::format("cannot set up the checksum of HDF5 dataset '{}'", join(path, name)));
  Id ds(H5Dcreate2(loc, name.c_str(), file_type, space, lcpl, chunked ? hid_t(dcpl) : H5P_DEFAULT, H5P_DEFAULT),
        H5Dclose);
  if (!ds.ok()) throw Error(fmt::format("cannot create HDF5 dataset '{}'", join(path, name)));
  if (H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw Error(fmt::format("cannot write HDF5 dataset '{}'", join(path, name)));
}
}  // namespace

void Group::write(const std::string& name, const Tensor& t) {
  if (t.is_float()) write_dataset(id_, path_, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t.shape(), t.data());
  else write_dataset(id_, path_, name, H5T_STD_I32LE, H5T_NATIVE_INT32, t.shape(), t.idata());
}

void Group::write_int_scalar(const std::string& name, int64_t v) {
  int32_t x = int32_t(v);
  write_dataset(id_, path_, name, H5T_STD_I32LE, H5T_NATIVE_INT32, {}, &x);
}

void Group::write_float_scalar(const std::string& name, float v) {
  write_dataset(id_, path_, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {}, &v);
}

Shape Group::dataset_shape(const std::string& name) const {
  if (!has_dataset(name)) throw Error(fmt::format("HDF5 dataset '{}' is missing", join(path_, name)));
  Id ds(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw Error(fmt::format("cannot open HDF5 dataset '{}'", join(path_, name)));
  Id space(H5Dget_space(ds), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd < 0 || nd > 16) throw Error(fmt::format("HDF5 dataset '{}' has an unreadable shape", join(path_, name)));
  std::vector<hsize_t> dims(size_t(nd) + 1);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return Shape(dims.begin(), dims.begin() + nd);
}

namespace {
// Whether all of a (non-empty) dataset's data is stored where its layout says. Storage the file no longer
// records reads back as the fill value (zeros) without an error, and a chunk whose filter mask says "not
// filtered" skips its checksum: so a contiguous dataset must have storage, and a chunked one exactly the chunks
// that tile its shape, each filtered.
bool data_stored_whole(hid_t ds, const Shape& shape) {
  Id dcpl(H5Dget_create_plist(ds), H5Pclose);
  if (dcpl < 0) return false;
  if (H5Pget_layout(dcpl) != H5D_CHUNKED) return H5Dget_storage_size(ds) > 0;
  const int rank = int(shape.size());
  std::vector<hsize_t> chunk(size_t(std::max(rank, 1)));
  if (rank == 0 || H5Pget_chunk(dcpl, rank, chunk.data()) != rank) return false;
  hsize_t expected = 1;
  for (int i = 0; i < rank; ++i) {
    if (chunk[size_t(i)] == 0) return false;
    expected *= (hsize_t(shape[size_t(i)]) + chunk[size_t(i)] - 1) / chunk[size_t(i)];
  }
  Id space(H5Dget_space(ds), H5Sclose);
  hsize_t count = 0;
  if (H5Dget_num_chunks(ds, space, &count) < 0 || count != expected) return false;
  std::vector<hsize_t> offset(static_cast<size_t>(rank), 0);
  for (hsize_t c = 0; c < count; ++c) {
    unsigned mask = 0;
    haddr_t addr = 0;
    hsize_t size = 0;
    if (H5Dget_chunk_info(ds, space, c, offset.data(), &mask, &addr, &size) < 0 || mask != 0 || size == 0) return false;
    for (int i = 0; i < rank; ++i)
      if (offset[size_t(i)] % chunk[size_t(i)] != 0 || offset[size_t(i)] >= hsize_t(shape[size_t(i)])) return false;
  }
  return true;
}
}  // namespace

Tensor Group::read(const std::string& name) const {
  Shape shape = dataset_shape(name);
  Id ds(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  Id type(H5Dget_type(ds), H5Tclose);
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw Error(fmt::format("HDF5 dataset '{}' is not numeric", join(path_, name)));
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > (int64_t(1) << 31) || (n *= uint64_t(d)) > (uint64_t(1) << 31))
      throw Error(fmt::format("HDF5 dataset '{}' is implausibly large ({})", join(path_, name), shape_to_string(shape)));
  }
  Tensor t;
  try {
    t = Tensor(shape);
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("HDF5 dataset '{}' is too large to load ({})", join(path_, name), shape_to_string(shape)));
  }
  if (n > 0 && !data_stored_whole(ds, shape))
    throw Error(fmt::format("HDF5 dataset '{}' lacks some of its data (the file is damaged)", join(path_, name)));
  if (n > 0 && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) < 0)
    throw Error(fmt::format("cannot read HDF5 dataset '{}' (the file may be damaged)", join(path_, name)));
  return t;
}

double Group::read_scalar(const std::string& name) const {
  Tensor t = read(name);
  if (t.size() != 1) throw Error(fmt::format("HDF5 dataset '{}' should hold one value, holds {}", join(path_, name), t.size()));
  Id ds(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  Id type(H5Dget_type(ds), H5Tclose);
  if (H5Tget_class(type) == H5T_INTEGER) {  // exact for iteration counters beyond 2^24
    int64_t v = 0;
    if (H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0)
      throw Error(fmt::format("cannot read HDF5 dataset '{}'", join(path_, name)));
    return double(v);
  }
  return double(t[0]);
}

bool Group::has_attr(const std::string& name) const { return H5Aexists(id_, name.c_str()) > 0; }

namespace {
void write_string_attr(hid_t loc, const std::string& path, const std::string& name, const std::vector<const char*>& ptrs,
                       bool scalar) {
  if (H5Aexists(loc, name.c_str()) > 0) H5Adelete(loc, name.c_str());
  Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hsize_t n = ptrs.size();
  Id space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Id attr(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || (!ptrs.empty() && H5Awrite(attr, type, ptrs.data()) < 0))
    throw Error(fmt::format("cannot write HDF5 attribute '{}' of '{}' (too large?)", name, path));
}
}  // namespace

void Group::set_attr(const std::string& name, const std::string& value) {
  write_string_attr(id_, path_, name, {value.c_str()}, true);
}

void Group::set_attr(const std::string& name, const std::vector<std::string>& values) {
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  write_string_attr(id_, path_, name, ptrs, false);
}

namespace {
std::vector<std::string> read_string_attr(hid_t loc, const std::string& path, const std::string& name) {
  Id attr(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) throw Error(fmt::format("cannot open HDF5 attribute '{}' of '{}'", name, path));
  Id type(H5Aget_type(attr), H5Tclose);
  Id space(H5Aget_space(attr), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0 || n > (1 << 24)) throw Error(fmt::format("HDF5 attribute '{}' of '{}' is unreadable", name, path));
  std::vector<std::string> out;
  if (H5Tget_class(type) != H5T_STRING) {
    if (n == 0) return out;  // h5py writes an empty list as an empty float64 array
    throw Error(fmt::format("HDF5 attribute '{}' of '{}' is not a string", name, path));
  }
  Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(mem, H5Tget_cset(type));
  if (H5Tis_variable_str(type) > 0) {
    H5Tset_size(mem, H5T_VARIABLE);
    std::vector<char*> ptrs(size_t(n), nullptr);
    if (n > 0 && H5Aread(attr, mem, ptrs.data()) < 0)
      throw Error(fmt::format("cannot read HDF5 attribute '{}' of '{}'", name, path));
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    if (n > 0) H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
  } else {
    size_t size = H5Tget_size(type);
    if (size == 0 || size > (size_t(1) << 26)) throw Error(fmt::format("HDF5 attribute '{}' of '{}' is unreadable", name, path));
    H5Tset_size(mem, size);
    H5Tset_strpad(mem, H5T_STR_NULLPAD);
    std::vector<char> buf(size * size_t(n) + 1, 0);
    if (n > 0 && H5Aread(attr, mem, buf.data()) < 0)
      throw Error(fmt::format("cannot read HDF5 attribute '{}' of '{}'", name, path));
    for (hssize_t i = 0; i < n; ++i) {
      const char* p = buf.data() + size_t(i) * size;
      out.emplace_back(p, strnlen(p, size));
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> Group::attr_string(const std::string& name) const {
  if (!has_attr(name)) return std::nullopt;
  auto v = read_string_attr(id_, path_, name);
  if (v.size() != 1) throw Error(fmt::format("HDF5 attribute '{}' of '{}' should be one string", name, path_));
  return v[0];
}

std::vector<std::string> Group::attr_strings(const std::string& name) const {
  if (has_attr(name)) return read_string_attr(id_, path_, name);
  std::vector<std::string> out;  // Keras splits attributes over 64 KiB into name0, name1, ...
  for (int i = 0; has_attr(name + std::to_string(i)); ++i) {
    auto part = read_string_attr(id_, path_, name + std::to_string(i));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// ---------------- File ----------------

File File::create() {
  silence();
  Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl, 1 << 16, 0);
  std::string name = fmt::format("seqnet-mem-{}.h5", g_file_counter++);
  hid_t f = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f < 0) throw Error("cannot create an in-memory HDF5 file");
  return File(f);
}

namespace {

// ---- Reading an untrusted image in a child process first ----
// libhdf5 1.10 crashes (its global heap, H5HG_read), hangs, or asks for ~2^64 bytes (H5C_protect) on some
// damaged files, and no check before it can know which. So before this process opens an image, a child
// process opens it and reads every object, attribute and dataset in it; if the child dies, runs past
// kProbeSeconds, or reports a read error, the file is refused with a clear error and this process never
// touches it. libhdf5 is deterministic: what the child read whole, this process reads whole. A fork costs
// about a millisecond; model files are read a few times per run.
constexpr unsigned kProbeSeconds = 5;

// Opens a copy of `bytes`, kept in `keep`, read-only in memory; -1 when libhdf5 refuses it.
hid_t open_image(const std::string& bytes, std::string& keep) {
  Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl, 1 << 16, 0);
  keep = bytes;
  if (H5Pset_file_image(fapl, keep.data(), keep.size()) < 0) return -1;
  std::string name = fmt::format("seqnet-mem-{}.h5", g_file_counter++);
  return H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl);
}

// Reads all of an attribute or dataset value with its own type; false on any error or an absurd size.
bool read_value(hid_t obj, bool is_attribute, size_t budget) {
  Id space(is_attribute ? H5Aget_space(obj) : H5Dget_space(obj), H5Sclose);
  Id type(is_attribute ? H5Aget_type(obj) : H5Dget_type(obj), H5Tclose);
  if (space < 0 || type < 0) return false;
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const size_t item = H5Tget_size(type);
  if (n < 0 || item == 0 || item > budget || size_t(n) > budget / item) return false;
  // Numbers must have one of the standard layouts: a damaged datatype message (another byte order, size or
  // exponent) would otherwise turn every value into another number.
  const H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
    static const hid_t standard[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_IEEE_F32BE, H5T_IEEE_F64BE,
                                     H5T_STD_I8LE,   H5T_STD_I16LE,  H5T_STD_I32LE,  H5T_STD_I64LE,
                                     H5T_STD_U8LE,   H5T_STD_U16LE,  H5T_STD_U32LE,  H5T_STD_U64LE,
                                     H5T_STD_I8BE,   H5T_STD_I16BE,  H5T_STD_I32BE,  H5T_STD_I64BE,
                                     H5T_STD_U8BE,   H5T_STD_U16BE,  H5T_STD_U32BE,  H5T_STD_U64BE};
    if (std::none_of(std::begin(standard), std::end(standard), [&](hid_t t) { return H5Tequal(type, t) > 0; }))
      return false;
  }
  if (!is_attribute && n > 0) {
    hsize_t dims[H5S_MAX_RANK];
    const int rank = H5Sget_simple_extent_dims(space, dims, nullptr);
    if (rank < 0 || !data_stored_whole(obj, Shape(dims, dims + rank))) return false;
  }
  std::vector<char> buffer(std::max<size_t>(size_t(n) * item, 1));
  const herr_t rc = is_attribute ? H5Aread(obj, type, buffer.data())
                                 : H5Dread(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data());
  return rc >= 0;  // variable-length strings are left allocated: the child exits right after
}

struct Walk {
  size_t budget;
  bool ok = true;
};

herr_t read_attribute(hid_t loc, const char* name, const H5A_info_t*, void* data) {
  auto* walk = static_cast<Walk*>(data);
  Id attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  if (attr < 0 || !read_value(attr, true, walk->budget)) walk->ok = false;
  return walk->ok ? 0 : -1;
}

herr_t read_object(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto* walk = static_cast<Walk*>(data);
  Id obj(H5Oopen(root, name, H5P_DEFAULT), H5Oclose);
  if (obj < 0) return walk->ok = false, -1;
  hsize_t index = 0;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &index, read_attribute, walk) < 0) walk->ok = false;
  if (walk->ok && info->type == H5O_TYPE_DATASET && !read_value(obj, false, walk->budget)) walk->ok = false;
  return walk->ok ? 0 : -1;
}

// In the child: 0 when every object, attribute and dataset of the image reads back.
int walk_image(const std::string& bytes) {
  std::string keep;
  hid_t f = open_image(bytes, keep);
  if (f < 0) return 2;
  // A weight is at most what the file holds, uncompressed: a declared size far beyond that is damage.
  Walk walk{64 * bytes.size() + (1 << 20)};
  if (H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, read_object, &walk) < 0 || !walk.ok) return 3;
  return 0;
}

// The child dies the plain way: default handlers (a crash ends it with its signal, the alarm ends a hang) and no
// death callback that a sanitizer or fuzzer in this process registered (they would report the child's end as the
// process's own); its stderr is quiet, since libhdf5 and sanitizers print on the way down.
extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));

void become_quiet_child() {
  for (int sig : {SIGALRM, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) std::signal(sig, SIG_DFL);
  if (&__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
  const int null_fd = ::open("/dev/null", O_WRONLY);
  if (null_fd >= 0) ::dup2(null_fd, STDERR_FILENO);
}

void probe_in_child(const std::string& bytes, const std::string& what) {
  std::fflush(nullptr);  // nothing buffered twice
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(fmt::format("cannot start a process to check {}: {}", what, std::strerror(errno)));
  if (pid == 0) {
    become_quiet_child();
    ::alarm(kProbeSeconds);  // a hang ends as SIGALRM
    ::_exit(walk_image(bytes));  // _exit: no atexit handlers (MPI, HDF5) in the child
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error(fmt::format("checking {}: waitpid failed: {}", what, std::strerror(errno)));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
    throw Error(what + " is not a readable HDF5 file (truncated or damaged)");
  if (WIFEXITED(status))
    throw Error(what + " is a damaged HDF5 file (an object, attribute or dataset in it cannot be read)");
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
    throw Error(fmt::format("{} is a damaged HDF5 file (reading it did not finish in {} s)", what, kProbeSeconds));
  throw Error(fmt::format("{} is a damaged HDF5 file (reading it crashed libhdf5: {})", what,
                          WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "unknown status"));
}

}  // namespace

File File::open(const std::string& bytes, const std::string& what) {
  silence();
  if (!looks_like_hdf5(bytes)) throw Error(what + " is not an HDF5 file (no HDF5 signature)");
  probe_in_child(bytes, what);
  File file(-1);
  file.id_ = open_image(bytes, file.image_);
  if (file.id_ < 0) throw Error(what + " is not a readable HDF5 file (truncated or damaged)");
  return file;
}

File::~File() {
  if (id_ >= 0) H5Fclose(id_);
}

Group File::root() const {
  hid_t g = H5Gopen2(id_, "/", H5P_DEFAULT);
  if (g < 0) throw Error("cannot open the root group of an HDF5 file (damaged file)");
  return Group(g, "/");
}

std::string File::bytes() {
  if (H5Fflush(id_, H5F_SCOPE_GLOBAL) < 0) throw Error("cannot flush an in-memory HDF5 file");
  ssize_t n = H5Fget_file_image(id_, nullptr, 0);
  if (n <= 0) throw Error("cannot get the image of an in-memory HDF5 file");
  std::string out(size_t(n), '\0');
  if (H5Fget_file_image(id_, out.data(), size_t(n)) != n) throw Error("cannot copy the image of an in-memory HDF5 file");
  return out;
}

bool looks_like_hdf5(const std::string& bytes) {
  static const char sig[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  return bytes.size() >= 8 && std::memcmp(bytes.data(), sig, 8) == 0;
}

}  // namespace seqnet::h5
