// train_test_split for tensors x and y (rows on the first axis), as sklearn.model_selection.train_test_split.
#pragma once
#include <cstdint>
#include <optional>

#include "seqnet/tensor.h"

namespace seqnet::data {

struct SplitOptions {
  double test_size = 0.25;  // in (0, 1): a fraction, test rows = ceil(test_size * n); >= 1: a row count
  std::optional<uint32_t> random_state;  // none: a fresh seed from std::random_device
  bool shuffle = true;                   // false: train is the first rows, test the last ones
  // Stratify by y's class (y: int32, or float holding whole numbers; shape (n,) or (n, 1)).
  // Each class gets round(test_size * count) test rows (largest remainder, so the total is exact).
  bool stratify = false;
};

struct Split {
  Tensor x_train, x_test, y_train, y_test;
};

// Without stratify, the rows equal sklearn's for the same random_state: test = permutation[:n_test],
// train = permutation[n_test:], with numpy's RandomState(random_state).permutation(n).
// With stratify the class proportions match sklearn's, the rows themselves do not.
Split train_test_split(const Tensor& x, const Tensor& y, const SplitOptions& options = {});

}  // namespace seqnet::data
