// timeseries_dataset_from_array with Keras's semantics (keras.utils.timeseries_dataset_from_array).
//
// With s = start_index, p = start position (0, stride, 2*stride, ...), window i holds
//   data[s + p_i + j * sampling_rate] for j < sequence_length,
// and its target is targets[s + p_i]: the target of the window's FIRST row. To predict the value
// `delay` rows after a window's last row, pass targets = data[sequence_length - 1 + delay:] (see docs/data.md).
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "seqnet/data/numpy_random.h"
#include "seqnet/model.h"
#include "seqnet/tensor.h"

namespace seqnet::data {

struct TimeseriesOptions {
  int64_t sequence_stride = 1;
  int64_t sampling_rate = 1;
  int64_t batch_size = 128;              // <= 0: one batch holding every window (Keras's batch_size=None)
  bool shuffle = false;
  std::optional<uint32_t> seed;          // none: a fresh seed
  std::optional<int64_t> start_index;    // default 0
  std::optional<int64_t> end_index;      // exclusive; default len(data)
};

class TimeseriesDataset : public BatchSource {
 public:
  // data: rows on axis 0, any trailing shape, float32 or int32. targets: rows on axis 0, or an
  // empty Tensor for none (then the batches' second tensor is empty).
  TimeseriesDataset(Tensor data, Tensor targets, int64_t sequence_length, TimeseriesOptions options = {});

  int64_t num_windows() const { return static_cast<int64_t>(positions_.size()); }
  int64_t num_batches() const;
  // Start positions p_i (relative to start_index), in the order the windows are served.
  const std::vector<int64_t>& start_positions() const { return positions_; }

  std::pair<Tensor, Tensor> batch(int64_t b) const;  // windows [b * batch_size, ...)
  // Cycles through the batches; with shuffle, each later pass is reshuffled (one RandomState stream).
  std::pair<Tensor, Tensor> next_batch() override;
  // Every window at once: x (windows, sequence_length, ...), y (windows, ...).
  std::pair<Tensor, Tensor> arrays() const;

 private:
  std::pair<Tensor, Tensor> gather(int64_t begin, int64_t end) const;
  Tensor data_, targets_;
  int64_t length_;
  TimeseriesOptions o_;
  int64_t start_ = 0;
  std::vector<int64_t> positions_;
  int64_t next_ = 0;
  NumpyRandomState rng_;
};

inline TimeseriesDataset timeseries_dataset_from_array(Tensor data, Tensor targets, int64_t sequence_length,
                                                       TimeseriesOptions options = {}) {
  return TimeseriesDataset(std::move(data), std::move(targets), sequence_length, options);
}

}  // namespace seqnet::data
