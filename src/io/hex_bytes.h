// Bytes as hexadecimal text and back: the states of random generators in saved models and run checkpoints.
// Internal header.
#pragma once
#include <cstddef>
#include <string>

namespace seqnet {

inline std::string bytes_to_hex(const void* data, size_t size) {
  static const char digits[] = "0123456789abcdef";
  const auto* b = static_cast<const unsigned char*>(data);
  std::string hex(2 * size, '0');
  for (size_t i = 0; i < size; ++i) hex[2 * i] = digits[b[i] >> 4], hex[2 * i + 1] = digits[b[i] & 15];
  return hex;
}

// False (and `data` untouched) unless `hex` is exactly 2 * size hexadecimal digits.
inline bool hex_to_bytes(const std::string& hex, void* data, size_t size) {
  if (hex.size() != 2 * size) return false;
  auto value = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    const int hi = value(hex[2 * i]), lo = value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes[i] = char(hi * 16 + lo);
  }
  for (size_t i = 0; i < size; ++i) static_cast<unsigned char*>(data)[i] = static_cast<unsigned char>(bytes[i]);
  return true;
}

}  // namespace seqnet
