// Facts from keras/src/utils/timeseries_dataset_utils.py: num_seqs = end - start - (len - 1) * rate,
// capped at len(targets); start positions arange(0, num_seqs, stride), permuted by
// np.random.RandomState(seed).shuffle when shuffling; data and targets are read from [start, end).
// Keras then also shuffles through a tf.data buffer of batch_size * 8; that second shuffle is not reproduced.
#include "seqnet/data/timeseries_dataset.h"

#include <algorithm>
#include <random>
#include <string>

namespace seqnet::data {
namespace {

int64_t row_size(const Tensor& t) { return t.dim(0) ? t.size() / t.dim(0) : 0; }

}  // namespace

TimeseriesDataset::TimeseriesDataset(Tensor data, Tensor targets, int64_t sequence_length, TimeseriesOptions options)
    : data_(std::move(data)), targets_(std::move(targets)), length_(sequence_length), o_(options),
      rng_(options.seed ? *options.seed : std::random_device{}()) {
  if (data_.rank() == 0) throw Error("timeseries_dataset_from_array: data needs a first (time) axis");
  const int64_t rows = data_.dim(0);
  if (length_ <= 0 || o_.sequence_stride <= 0 || o_.sampling_rate <= 0)
    throw Error("timeseries_dataset_from_array: sequence_length, sequence_stride and sampling_rate must be positive");
  start_ = o_.start_index.value_or(0);
  const int64_t end = o_.end_index.value_or(rows);
  if (start_ < 0 || start_ >= rows)
    throw Error("timeseries_dataset_from_array: start_index " + std::to_string(start_) + " must be in [0, " + std::to_string(rows) + ")");
  if (end <= start_ || end > rows)
    throw Error("timeseries_dataset_from_array: end_index " + std::to_string(end) + " must be in (start_index, " + std::to_string(rows) + "]");
  const bool has_targets = !targets_.shape().empty();
  int64_t num = end - start_ - (length_ - 1) * o_.sampling_rate;
  if (has_targets) num = std::min(num, targets_.dim(0));
  if (has_targets && targets_.dim(0) < start_ + 1)
    throw Error("timeseries_dataset_from_array: targets has " + std::to_string(targets_.dim(0)) + " rows, fewer than start_index + 1");
  for (int64_t p = 0; p < num; p += o_.sequence_stride) positions_.push_back(p);
  if (o_.shuffle) rng_.shuffle(positions_);
}

int64_t TimeseriesDataset::num_batches() const {
  if (positions_.empty()) return 0;
  if (o_.batch_size <= 0) return 1;
  return (num_windows() + o_.batch_size - 1) / o_.batch_size;
}

std::pair<Tensor, Tensor> TimeseriesDataset::gather(int64_t begin, int64_t end) const {
  const int64_t n = end - begin, drow = row_size(data_);
  Shape xs{n, length_};
  xs.insert(xs.end(), data_.shape().begin() + 1, data_.shape().end());
  Tensor x(xs, data_.dtype());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = start_ + positions_[static_cast<size_t>(begin + i)];
    for (int64_t j = 0; j < length_; ++j) {
      const int64_t src = (p + j * o_.sampling_rate) * drow, dst = (i * length_ + j) * drow;
      if (x.is_float()) std::copy_n(data_.data() + src, drow, x.data() + dst);
      else std::copy_n(data_.idata() + src, drow, x.idata() + dst);
    }
  }
  if (targets_.shape().empty()) return {std::move(x), Tensor()};
  std::vector<int64_t> rows;
  for (int64_t i = begin; i < end; ++i) rows.push_back(start_ + positions_[static_cast<size_t>(i)]);
  return {std::move(x), targets_.gather_rows(rows)};
}

std::pair<Tensor, Tensor> TimeseriesDataset::batch(int64_t b) const {
  if (b < 0 || b >= num_batches())
    throw Error("timeseries_dataset_from_array: batch " + std::to_string(b) + " out of range (" + std::to_string(num_batches()) + " batches)");
  if (o_.batch_size <= 0) return gather(0, num_windows());
  return gather(b * o_.batch_size, std::min(num_windows(), (b + 1) * o_.batch_size));
}

std::pair<Tensor, Tensor> TimeseriesDataset::next_batch() {
  if (num_batches() == 0) throw Error("timeseries_dataset_from_array: the series is too short for one window");
  if (next_ == num_batches()) {
    next_ = 0;
    if (o_.shuffle) rng_.shuffle(positions_);
  }
  return batch(next_++);
}

std::pair<Tensor, Tensor> TimeseriesDataset::arrays() const { return gather(0, num_windows()); }

}  // namespace seqnet::data
