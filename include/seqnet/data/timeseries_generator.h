// The book's time-series generator (Deep Learning with Python, 1st ed., ch. 6) as a BatchSource.
//
// For an anchor row r the sample is data[r - lookback], data[r - lookback + step], ... (< r), shape
// (lookback / step, features), and the target is data[r + delay][target_column].
// Anchors: every r of [min_index + lookback, max_index), or, with `runs`, every r whose window and target
// lie inside one run. When shuffling, drawn uniformly from the anchors (numpy's randint, reproduced exactly
// for the same seed: the book's draws when the anchors are one range); otherwise consecutive from the first,
// starting over there when i + batch_size >= the anchor count, and a batch is cut short at the last anchor.
//
// Defaults differ from the book's function on purpose: `step` is 1 (the book's 6 subsamples Jena's 10-minute
// rows to hourly, and would silently subsample any other data), and `target_column` has none (the book's is
// Jena's column 1).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "seqnet/data/numpy_random.h"
#include "seqnet/model.h"
#include "seqnet/tensor.h"

namespace seqnet::data {

struct GeneratorOptions {
  int64_t lookback = 0;              // rows of history; must be a multiple of step
  int64_t delay = 0;                 // the target is `delay` rows after the anchor
  int64_t min_index = 0;
  std::optional<int64_t> max_index;  // default len(data) - delay - 1
  // Unbroken runs of rows [begin, end): one per file, and one per stretch between two gaps in the data. A run
  // gives the anchors [begin + lookback, end - delay), so no window or target ever reaches across the end of
  // a run. Replaces min_index / max_index (leave those at their defaults).
  std::vector<std::pair<int64_t, int64_t>> runs;
  bool shuffle = false;
  int64_t batch_size = 128;
  int64_t step = 1;                  // keep one row in `step` (the book uses 6 on Jena's 10-minute rows)
  int64_t target_column = -1;        // required: the column the target is read from ...
  // ... unless the targets are a series of their own, (rows,) beside the data: the model normalizes its raw
  // inputs itself (a Normalization layer) but learns a normalized target.
  Tensor targets;
  uint32_t seed = 0;                 // as np.random.seed(seed) before the book's generator
};

class TimeseriesGenerator : public BatchSource {
 public:
  // data: (rows, features) float32.
  TimeseriesGenerator(Tensor data, GeneratorOptions options);
  // (samples (batch, lookback / step, features), targets (batch,)).
  std::pair<Tensor, Tensor> next_batch() override;
  // Consecutive batches that cover the anchors once: the book's (max_index - min_index - lookback) //
  // batch_size validation steps.
  int64_t steps_per_pass() const;
  // Where the generator is in its stream (the shuffling draws, the next anchor), as text, and back: what an
  // exact resume of training needs besides the model.
  std::string save_state() const;
  void restore_state(const std::string& state);
  int64_t anchors() const { return anchors_; }
  int64_t anchor(int64_t k) const;  // the k-th anchor row, 0 <= k < anchors()
  // The sample and target of one anchor row.
  std::pair<Tensor, float> window(int64_t anchor) const;

 private:
  struct AnchorRange {
    int64_t first, end, before;  // anchors [first, end); `before` anchors come in earlier ranges
  };
  std::pair<Tensor, Tensor> make_batch(const std::vector<int64_t>& rows) const;
  Tensor data_;
  GeneratorOptions o_;
  std::vector<AnchorRange> ranges_;
  int64_t anchors_ = 0;
  int64_t next_ = 0;  // index of the next anchor, in [0, anchors_)
  NumpyRandomState rng_;
};

}  // namespace seqnet::data
