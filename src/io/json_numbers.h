// JSON numbers read as C++ integers. nlohmann's get<int>() converts a float with a cast (undefined behaviour
// when it is out of the type's range, a silent truncation of 2.5 to 2 otherwise) and wraps an integer too big
// for the type; every integer seqnet reads from a file goes through these instead, which refuse both.
#pragma once
#include <cmath>
#include <cstdint>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "seqnet/tensor.h"  // seqnet::Error

namespace seqnet {

// A value as an error message quotes it: its JSON, cut to 60 characters.
template <typename BasicJson>
std::string short_dump(const BasicJson& j) {
  std::string text = j.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// j as an Int when it is a whole number in Int's range. A float counts when it is whole (Python writes 3.0
// for a float that is 3): nothing is lost by reading it as 3.
template <typename Int, typename BasicJson>
std::optional<Int> whole_number(const BasicJson& j) {
  static_assert(std::is_integral_v<Int> && !std::is_same_v<Int, bool>);
  if (j.is_number_unsigned()) {
    const auto v = j.template get<uint64_t>();
    if (!std::in_range<Int>(v)) return std::nullopt;
    return static_cast<Int>(v);
  }
  if (j.is_number_integer()) {
    const auto v = j.template get<int64_t>();
    if (!std::in_range<Int>(v)) return std::nullopt;
    return static_cast<Int>(v);
  }
  if (j.is_number_float()) {
    const double v = j.template get<double>();
    // Int's bounds as doubles: the lowest is a power of two (or 0), and so is max() + 1.
    const double lowest = static_cast<double>(std::numeric_limits<Int>::lowest());
    const double above_max = std::ldexp(1.0, std::numeric_limits<Int>::digits);
    if (!std::isfinite(v) || v != std::trunc(v) || v < lowest || v >= above_max) return std::nullopt;
    return static_cast<Int>(v);
  }
  return std::nullopt;
}

// As whole_number, or an Error "<where>: expected a whole number, got <value>" (with the range when the value
// is a number out of it).
template <typename Int, typename BasicJson>
Int whole_number_at(const BasicJson& j, const std::string& where) {
  if (auto v = whole_number<Int>(j)) return *v;
  const bool whole = j.is_number() && (!j.is_number_float() || j.template get<double>() == std::trunc(j.template get<double>()));
  if (whole)
    throw Error(fmt::format("{}: expected a whole number from {} to {}, got {}", where,
                            std::numeric_limits<Int>::lowest(), std::numeric_limits<Int>::max(), short_dump(j)));
  throw Error(fmt::format("{}: expected a whole number, got {}", where, short_dump(j)));
}

// A JSON list of whole numbers, each as whole_number_at reads it.
template <typename Int, typename BasicJson>
std::vector<Int> whole_numbers_at(const BasicJson& j, const std::string& where) {
  if (!j.is_array()) throw Error(fmt::format("{}: expected a list of whole numbers, got {}", where, short_dump(j)));
  std::vector<Int> out;
  out.reserve(j.size());
  for (const auto& v : j) out.push_back(whole_number_at<Int>(v, where));
  return out;
}

}  // namespace seqnet
