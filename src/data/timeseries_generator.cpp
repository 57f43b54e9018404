#include "seqnet/data/timeseries_generator.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <string>
#include <type_traits>

#include "io/hex_bytes.h"

namespace seqnet::data {

TimeseriesGenerator::TimeseriesGenerator(Tensor data, GeneratorOptions options)
    : data_(std::move(data)), o_(options), rng_(options.seed) {
  if (data_.rank() != 2 || !data_.is_float())
    throw Error("timeseries generator: data must be float32 (rows, features), got " + data_.shape_string());
  const int64_t rows = data_.dim(0), features = data_.dim(1);
  if (o_.step <= 0 || o_.lookback <= 0 || o_.lookback % o_.step != 0)
    throw Error("timeseries generator: lookback (" + std::to_string(o_.lookback) +
                ") must be a positive multiple of step (" + std::to_string(o_.step) + ")");
  if (o_.delay < 0 || o_.batch_size <= 0 || o_.min_index < 0)
    throw Error("timeseries generator: delay and min_index must be >= 0 and batch_size > 0");
  if (o_.target_column < 0 || o_.target_column >= features)
    throw Error("timeseries generator: target column " + std::to_string(o_.target_column) + " is out of range for " +
                std::to_string(features) + " features");
  max_index_ = o_.max_index ? *o_.max_index : rows - o_.delay - 1;
  if (max_index_ + o_.delay > rows)
    throw Error("timeseries generator: max_index " + std::to_string(max_index_) + " + delay " + std::to_string(o_.delay) +
                " passes the " + std::to_string(rows) + " rows");
  if (o_.min_index + o_.lookback >= max_index_)
    throw Error("timeseries generator: no anchor row: min_index + lookback = " + std::to_string(o_.min_index + o_.lookback) +
                " >= max_index = " + std::to_string(max_index_));
  next_ = o_.min_index + o_.lookback;
}

std::pair<Tensor, float> TimeseriesGenerator::window(int64_t anchor) const {
  if (anchor - o_.lookback < 0 || anchor + o_.delay >= data_.dim(0))
    throw Error("timeseries generator: anchor row " + std::to_string(anchor) + " has no full window and target");
  const int64_t f = data_.dim(1), steps = o_.lookback / o_.step;
  Tensor sample({steps, f});
  for (int64_t t = 0; t < steps; ++t) {
    const float* src = data_.data() + (anchor - o_.lookback + t * o_.step) * f;
    std::copy_n(src, f, sample.data() + t * f);
  }
  return {sample, data_.data()[(anchor + o_.delay) * f + o_.target_column]};
}

std::pair<Tensor, Tensor> TimeseriesGenerator::make_batch(const std::vector<int64_t>& rows) const {
  const int64_t f = data_.dim(1), steps = o_.lookback / o_.step, n = static_cast<int64_t>(rows.size());
  Tensor samples({n, steps, f}), targets({n});
  for (int64_t j = 0; j < n; ++j) {
    auto [s, t] = window(rows[static_cast<size_t>(j)]);
    std::copy_n(s.data(), s.size(), samples.data() + j * steps * f);
    targets[j] = t;
  }
  return {std::move(samples), std::move(targets)};
}

std::pair<Tensor, Tensor> TimeseriesGenerator::next_batch() {
  std::vector<int64_t> rows;
  const int64_t first = o_.min_index + o_.lookback;
  if (o_.shuffle) {
    for (int64_t j = 0; j < o_.batch_size; ++j) rows.push_back(rng_.randint(first, max_index_));
  } else {
    if (next_ + o_.batch_size >= max_index_) next_ = first;
    for (int64_t r = next_; r < std::min(next_ + o_.batch_size, max_index_); ++r) rows.push_back(r);
    next_ += static_cast<int64_t>(rows.size());
  }
  return make_batch(rows);
}

int64_t TimeseriesGenerator::steps_per_pass() const {
  return (max_index_ - o_.min_index - o_.lookback) / o_.batch_size;
}

static_assert(std::is_trivially_copyable_v<NumpyRandomState>, "the generator's state is saved as its bytes");

std::string TimeseriesGenerator::save_state() const {
  char bytes[sizeof(rng_) + sizeof(next_)];
  std::memcpy(bytes, &rng_, sizeof(rng_));
  std::memcpy(bytes + sizeof(rng_), &next_, sizeof(next_));
  return bytes_to_hex(bytes, sizeof(bytes));
}

void TimeseriesGenerator::restore_state(const std::string& state) {
  char bytes[sizeof(rng_) + sizeof(next_)];
  if (!hex_to_bytes(state, bytes, sizeof(bytes)))
    throw Error(fmt::format("TimeseriesGenerator: a saved state must be {} hexadecimal digits", 2 * sizeof(bytes)));
  std::memcpy(static_cast<void*>(&rng_), bytes, sizeof(rng_));
  std::memcpy(&next_, bytes + sizeof(rng_), sizeof(next_));
}

}  // namespace seqnet::data
