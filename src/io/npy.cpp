// The .npy format (numpy/lib/format.py documents it): "\x93NUMPY", version, header length (2 bytes in
// 1.0, 4 in 2.0 and 3.0), a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), }
// padded with spaces and a newline to a multiple of 64 bytes, then the raw data.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>

#include "data/pickle_int_lists.h"
#include "seqnet/data/npy.h"
#include "seqnet/saving.h"

namespace seqnet::data {
namespace {

struct TypeInfo {
  NpyType type;
  const char* descr;
  size_t itemsize;
};
constexpr TypeInfo kTypes[] = {
    {NpyType::float32, "<f4", 4}, {NpyType::float64, "<f8", 8}, {NpyType::int32, "<i4", 4},
    {NpyType::int64, "<i8", 8},   {NpyType::uint8, "|u1", 1},   {NpyType::boolean, "|b1", 1},
    {NpyType::object, "|O", 0},
};

const TypeInfo& info(NpyType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i;
  throw Error("npy: unknown type");
}

[[noreturn]] void fail(const std::string& name, size_t offset, const std::string& what) {
  throw Error(name + ": npy, byte " + std::to_string(offset) + ": " + what);
}

// The value text after 'key': in the header dict.
std::string field(const std::string& header, const std::string& key, const std::string& name) {
  const std::string quoted = "'" + key + "'";
  size_t k = header.find(quoted);
  if (k == std::string::npos) fail(name, 10, "the header has no " + quoted + ": " + header);
  size_t c = header.find(':', k + quoted.size());
  if (c == std::string::npos) fail(name, 10, "malformed header: " + header);
  size_t b = c + 1;
  while (b < header.size() && header[b] == ' ') ++b;
  size_t e = b;
  if (b < header.size() && (header[b] == '\'' || header[b] == '"')) {
    e = header.find(header[b], b + 1);
    if (e == std::string::npos) fail(name, 10, "unterminated string in header: " + header);
    return header.substr(b + 1, e - b - 1);
  }
  if (b < header.size() && header[b] == '(') {
    e = header.find(')', b);
    if (e == std::string::npos) fail(name, 10, "unterminated shape in header: " + header);
    return header.substr(b, e - b + 1);
  }
  while (e < header.size() && header[e] != ',' && header[e] != '}') ++e;
  return header.substr(b, e - b);
}

Shape parse_shape(const std::string& text, const std::string& name) {
  Shape shape;
  size_t i = 1;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() || text[i] == ')') break;
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) fail(name, 10, "bad shape " + text);
    int64_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail(name, 10, "shape too large " + text);
      v = v * 10 + (text[i++] - '0');
    }
    if (i < text.size() && text[i] == 'L') ++i;  // Python 2 longs
    shape.push_back(v);
  }
  return shape;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

const char* npy_type_name(NpyType type) { return info(type).descr; }

NpyArray parse_npy(const uint8_t* d, size_t n, const std::string& name) {
  static const uint8_t magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (n < 10 || !std::equal(magic, magic + 6, d)) fail(name, 0, "not a .npy file (bad magic string)");
  const int major = d[6];
  size_t header_len, start;
  if (major == 1) {
    header_len = d[8] | (d[9] << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) fail(name, 8, "truncated header length");
    header_len = d[8] | (d[9] << 8) | (static_cast<size_t>(d[10]) << 16) | (static_cast<size_t>(d[11]) << 24);
    start = 12;
  } else {
    fail(name, 6, "unsupported format version " + std::to_string(major));
  }
  if (header_len > n - start) fail(name, start, "the header runs past the end of the data");
  const std::string header(reinterpret_cast<const char*>(d + start), header_len);
  const size_t data_at = start + header_len;

  NpyArray a;
  std::string descr = field(header, "descr", name);
  const std::string fortran = field(header, "fortran_order", name);
  a.shape = parse_shape(field(header, "shape", name), name);
  bool swap = false;
  if (descr.size() == 3 && descr[0] == '>' && descr[2] != '1') swap = true;
  if (!descr.empty() && (descr[0] == '>' || descr[0] == '=' || descr[0] == '<' || descr[0] == '|')) descr = descr.substr(1);
  bool found = false;
  for (const auto& t : kTypes)
    if (descr == std::string(t.descr).substr(1) || (t.type == NpyType::object && descr == "O8")) {
      a.type = t.type;
      found = true;
      break;
    }
  if (descr == "u1" || descr == "b1") swap = false;
  if (!found) fail(name, start, "unsupported dtype '" + descr + "' (float32, float64, int32, int64, uint8, bool, object)");
  if (fortran.find("True") != std::string::npos && a.shape.size() > 1)
    fail(name, start, "Fortran-order arrays are not supported; save with np.ascontiguousarray");

  if (a.type == NpyType::object) {
    Shape pickled;
    a.lists = detail::unpickle_int_list_array(d + data_at, n - data_at, name, pickled);
    if (pickled != a.shape)
      fail(name, data_at, "the header says shape " + shape_to_string(a.shape) + ", the pickled array has " +
                              shape_to_string(pickled));
    return a;
  }
  const size_t itemsize = info(a.type).itemsize;
  const uint64_t count = static_cast<uint64_t>(a.size());
  if (count > (n - data_at) / itemsize)
    fail(name, data_at, "truncated: shape " + shape_to_string(a.shape) + " needs " + std::to_string(count * itemsize) +
                            " data bytes, the file has " + std::to_string(n - data_at));
  if (count * itemsize != n - data_at)
    fail(name, data_at + count * itemsize,
         std::to_string(n - data_at - count * itemsize) + " bytes after the array's " + std::to_string(count * itemsize) +
             " data bytes (shape " + shape_to_string(a.shape) + "): not the file numpy wrote");
  a.bytes.assign(d + data_at, d + data_at + count * itemsize);
  if (swap)
    for (size_t i = 0; i < a.bytes.size(); i += itemsize) std::reverse(a.bytes.begin() + i, a.bytes.begin() + i + itemsize);
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> npy_bytes(const NpyArray& a) {
  if (a.type == NpyType::object) throw Error("npy: writing object arrays is not supported");
  if (a.bytes.size() != static_cast<size_t>(a.size()) * info(a.type).itemsize)
    throw Error("npy: the array holds " + std::to_string(a.bytes.size()) + " bytes, its shape " +
                shape_to_string(a.shape) + " needs " + std::to_string(a.size() * static_cast<int64_t>(info(a.type).itemsize)));
  std::string shape = "(";
  for (size_t i = 0; i < a.shape.size(); ++i) shape += std::to_string(a.shape[i]) + (a.shape.size() == 1 ? "," : (i + 1 < a.shape.size() ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + info(a.type).descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const bool v2 = header.size() + 11 > 65535;
  const size_t prefix = v2 ? 12 : 10;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(v2 ? 2 : 1), 0};
  const size_t hl = header.size();
  out.push_back(static_cast<uint8_t>(hl & 0xff));
  out.push_back(static_cast<uint8_t>((hl >> 8) & 0xff));
  if (v2) {
    out.push_back(static_cast<uint8_t>((hl >> 16) & 0xff));
    out.push_back(static_cast<uint8_t>((hl >> 24) & 0xff));
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  return out;
}

void write_npy(const std::string& path, const NpyArray& array) {
  std::vector<uint8_t> bytes = npy_bytes(array);
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

void write_npy(const std::string& path, const Tensor& tensor) { write_npy(path, NpyArray::from_tensor(tensor)); }

Tensor NpyArray::to_tensor() const {
  const size_t n = static_cast<size_t>(size());
  switch (type) {
    case NpyType::float32: return Tensor(shape, values<float>());
    case NpyType::float64: {
      auto v = values<double>();
      return Tensor(shape, std::vector<float>(v.begin(), v.end()));
    }
    case NpyType::int32: return Tensor(shape, values<int32_t>());
    case NpyType::int64: {
      auto v = values<int64_t>();
      std::vector<int32_t> out(n);
      for (size_t i = 0; i < n; ++i) {
        if (v[i] < std::numeric_limits<int32_t>::min() || v[i] > std::numeric_limits<int32_t>::max())
          throw Error("npy: int64 value " + std::to_string(v[i]) + " at index " + std::to_string(i) + " does not fit int32");
        out[i] = static_cast<int32_t>(v[i]);
      }
      return Tensor(shape, std::move(out));
    }
    case NpyType::uint8:
    case NpyType::boolean: return Tensor(shape, std::vector<int32_t>(bytes.begin(), bytes.end()));
    case NpyType::object: break;
  }
  throw Error("npy: an object array (lists) has no Tensor form; use its `lists`, e.g. with pad_sequences");
}

NpyArray NpyArray::from_tensor(const Tensor& t) {
  if (t.is_float()) return from_values(t.shape(), std::vector<float>(t.data(), t.data() + t.size()));
  return from_values(t.shape(), std::vector<int32_t>(t.idata(), t.idata() + t.size()));
}

Tensor checked_finite(Tensor t, const std::string& name) {
  if (!t.is_float()) return t;
  const int64_t per_sample = t.rank() == 0 || t.dim(0) == 0 ? 1 : t.size() / t.dim(0);
  for (int64_t i = 0; i < t.size(); ++i)
    if (!std::isfinite(t[i]))
      throw Error(fmt::format("{}: value {} at flat index {} (sample {}) is not finite", name, t[i], i, i / per_sample));
  return t;
}

}  // namespace seqnet::data
