// The book's time-series generator (Deep Learning with Python, 1st ed., ch. 6) as a BatchSource.
//
// For an anchor row r the sample is data[r - lookback], data[r - lookback + step], ... (< r), shape
// (lookback / step, features), and the target is data[r + delay][target_column].
// Anchors: when shuffling, uniform in [min_index + lookback, max_index) (numpy's randint, reproduced
// exactly for the same seed); otherwise consecutive from min_index + lookback, starting over there
// when i + batch_size >= max_index, and a batch is cut short at max_index.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "seqnet/data/numpy_random.h"
#include "seqnet/model.h"
#include "seqnet/tensor.h"

namespace seqnet::data {

struct GeneratorOptions {
  int64_t lookback = 0;            // rows of history; must be a multiple of step
  int64_t delay = 0;               // the target is `delay` rows after the anchor
  int64_t min_index = 0;
  std::optional<int64_t> max_index;  // default len(data) - delay - 1
  bool shuffle = false;
  int64_t batch_size = 128;
  int64_t step = 6;                // keep one row in `step`
  int64_t target_column = 1;       // the book's column 1 is "T (degC)"
  uint32_t seed = 0;               // as np.random.seed(seed) before the book's generator
};

class TimeseriesGenerator : public BatchSource {
 public:
  // data: (rows, features) float32.
  TimeseriesGenerator(Tensor data, GeneratorOptions options);
  // (samples (batch, lookback / step, features), targets (batch,)).
  std::pair<Tensor, Tensor> next_batch() override;
  // Consecutive batches that cover [min_index + lookback, max_index) once: the book's
  // (max_index - min_index - lookback) // batch_size validation steps.
  int64_t steps_per_pass() const;
  // Where the generator is in its stream (the shuffling draws, the next anchor), as text, and back: what an
  // exact resume of training needs besides the model.
  std::string save_state() const;
  void restore_state(const std::string& state);
  int64_t max_index() const { return max_index_; }
  // The sample and target of one anchor row.
  std::pair<Tensor, float> window(int64_t anchor) const;

 private:
  std::pair<Tensor, Tensor> make_batch(const std::vector<int64_t>& rows) const;
  Tensor data_;
  GeneratorOptions o_;
  int64_t max_index_ = 0;
  int64_t next_ = 0;
  NumpyRandomState rng_;
};

}  // namespace seqnet::data
