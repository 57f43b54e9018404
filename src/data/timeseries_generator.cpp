#include "seqnet/data/timeseries_generator.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <string>
#include <type_traits>

#include "io/hex_bytes.h"

namespace seqnet::data {

TimeseriesGenerator::TimeseriesGenerator(Tensor data, GeneratorOptions options)
    : data_(std::move(data)), o_(std::move(options)), rng_(o_.seed) {
  if (data_.rank() != 2 || !data_.is_float())
    throw Error("timeseries generator: data must be float32 (rows, features), got " + data_.shape_string());
  const int64_t rows = data_.dim(0), features = data_.dim(1);
  if (o_.step <= 0 || o_.lookback <= 0 || o_.lookback % o_.step != 0)
    throw Error("timeseries generator: lookback (" + std::to_string(o_.lookback) +
                ") must be a positive multiple of step (" + std::to_string(o_.step) + ")");
  if (o_.delay < 0 || o_.batch_size <= 0 || o_.min_index < 0)
    throw Error("timeseries generator: delay and min_index must be >= 0 and batch_size > 0");
  // Every sum of these below is at most min_index + lookback + delay + 1 (or a row count plus less than that).
  int64_t span = 0;
  if (__builtin_add_overflow(o_.lookback, o_.delay, &span) || __builtin_add_overflow(span, o_.min_index, &span) ||
      __builtin_add_overflow(span, 1, &span))
    throw Error("timeseries generator: min_index + lookback + delay + 1 is past int64 (lookback " +
                std::to_string(o_.lookback) + ", delay " + std::to_string(o_.delay) + ", min_index " +
                std::to_string(o_.min_index) + ")");
  if (!o_.targets.empty()) {
    if (o_.targets.rank() != 1 || o_.targets.dim(0) != rows || !o_.targets.is_float())
      throw Error("timeseries generator: targets must be float32 (rows,) = (" + std::to_string(rows) + ",), got " +
                  o_.targets.shape_string());
  } else if (o_.target_column < 0 || o_.target_column >= features)
    throw Error("timeseries generator: target_column " + std::to_string(o_.target_column) +
                (o_.target_column < 0 ? " is not set" : " is out of range") + " for " + std::to_string(features) +
                " features");
  if (o_.runs.empty()) {
    const int64_t max_index = o_.max_index ? *o_.max_index : rows - o_.delay - 1;
    if (max_index > rows - o_.delay)
      throw Error("timeseries generator: max_index " + std::to_string(max_index) + " + delay " +
                  std::to_string(o_.delay) + " passes the " + std::to_string(rows) + " rows");
    if (o_.min_index + o_.lookback >= max_index)
      throw Error("timeseries generator: no anchor row: min_index + lookback = " +
                  std::to_string(o_.min_index + o_.lookback) + " >= max_index = " + std::to_string(max_index));
    ranges_.push_back({o_.min_index + o_.lookback, max_index, 0});
  } else {
    if (o_.min_index != 0 || o_.max_index)
      throw Error("timeseries generator: give either runs or min_index / max_index, not both");
    int64_t longest = 0;
    for (const auto& [begin, end] : o_.runs) {
      if (begin < 0 || end > rows || begin > end)
        throw Error("timeseries generator: run [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") is not within the " + std::to_string(rows) + " rows");
      longest = std::max(longest, end - begin);
      const int64_t first = begin + o_.lookback, last = end - o_.delay;
      if (first < last) ranges_.push_back({first, last, ranges_.empty() ? 0 : ranges_.back().before + (ranges_.back().end - ranges_.back().first)});
    }
    if (ranges_.empty())
      throw Error("timeseries generator: no run holds a window and its target (lookback + delay + 1 = " +
                  std::to_string(o_.lookback + o_.delay + 1) + " rows; the longest run has " +
                  std::to_string(longest) + ")");
  }
  anchors_ = ranges_.back().before + (ranges_.back().end - ranges_.back().first);
}

int64_t TimeseriesGenerator::anchor(int64_t k) const {
  if (k < 0 || k >= anchors_)
    throw Error("timeseries generator: anchor " + std::to_string(k) + " of " + std::to_string(anchors_));
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), k,
                             [](int64_t v, const AnchorRange& r) { return v < r.before; });
  const AnchorRange& r = *std::prev(it);
  return r.first + (k - r.before);
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
  const int64_t target_row = anchor + o_.delay;
  return {sample, o_.targets.empty() ? data_.data()[target_row * f + o_.target_column] : o_.targets[target_row]};
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
  if (o_.shuffle) {
    for (int64_t j = 0; j < o_.batch_size; ++j) rows.push_back(anchor(rng_.randint(0, anchors_)));
  } else {
    if (next_ + o_.batch_size >= anchors_) next_ = 0;
    for (int64_t k = next_; k < std::min(next_ + o_.batch_size, anchors_); ++k) rows.push_back(anchor(k));
    next_ += static_cast<int64_t>(rows.size());
  }
  return make_batch(rows);
}

int64_t TimeseriesGenerator::steps_per_pass() const { return anchors_ / o_.batch_size; }

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
  int64_t next = 0;
  std::memcpy(&next, bytes + sizeof(rng_), sizeof(next));
  if (next < 0 || next > anchors_)
    throw Error(fmt::format("TimeseriesGenerator: the saved state's next anchor {} is not one of the {} anchors "
                            "(a state of another data set or another seqnet)",
                            next, anchors_));
  next_ = next;
}

}  // namespace seqnet::data
