#include "seqnet/data/train_test_split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>

#include "seqnet/data/numpy_random.h"

namespace seqnet::data {
namespace {

int64_t test_count(double test_size, int64_t n) {
  if (test_size <= 0) throw Error("train_test_split: test_size must be positive, got " + std::to_string(test_size));
  int64_t n_test = test_size < 1.0 ? static_cast<int64_t>(std::ceil(test_size * static_cast<double>(n)))
                                   : static_cast<int64_t>(test_size);
  if (test_size >= 1.0 && test_size != std::floor(test_size))
    throw Error("train_test_split: a test_size >= 1 is a row count and must be whole, got " + std::to_string(test_size));
  if (n_test <= 0 || n_test >= n)
    throw Error("train_test_split: test_size " + std::to_string(test_size) + " on " + std::to_string(n) +
                " rows leaves an empty train or test set");
  return n_test;
}

std::vector<int64_t> class_labels(const Tensor& y) {
  const int64_t n = y.dim(0);
  if (y.size() != n) throw Error("train_test_split: stratify needs one label per row, y has shape " + y.shape_string());
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (y.is_float()) {
      float v = y[i];
      if (v != std::floor(v)) throw Error("train_test_split: stratify needs whole-number labels, row " + std::to_string(i) + " has " + std::to_string(v));
      labels[static_cast<size_t>(i)] = static_cast<int64_t>(v);
    } else {
      labels[static_cast<size_t>(i)] = y.idata()[i];
    }
  }
  return labels;
}

// Per class: shuffled rows; test share by largest remainder so that the total is n_test.
void stratified(const std::vector<int64_t>& labels, int64_t n_test, NumpyRandomState& rng,
                std::vector<int64_t>& train, std::vector<int64_t>& test) {
  std::map<int64_t, std::vector<int64_t>> rows;
  for (size_t i = 0; i < labels.size(); ++i) rows[labels[i]].push_back(static_cast<int64_t>(i));
  const double n = static_cast<double>(labels.size());
  std::vector<std::pair<double, int64_t>> remainders;  // (remainder, class)
  std::map<int64_t, int64_t> take;
  int64_t taken = 0;
  for (auto& [cls, r] : rows) {
    double exact = static_cast<double>(n_test) * static_cast<double>(r.size()) / n;
    take[cls] = static_cast<int64_t>(std::floor(exact));
    taken += take[cls];
    remainders.emplace_back(exact - std::floor(exact), cls);
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t k = 0; taken < n_test && k < remainders.size(); ++k, ++taken) ++take[remainders[k].second];
  for (auto& [cls, r] : rows) {
    rng.shuffle(r);
    test.insert(test.end(), r.begin(), r.begin() + take[cls]);
    train.insert(train.end(), r.begin() + take[cls], r.end());
  }
  rng.shuffle(test);
  rng.shuffle(train);
}

}  // namespace

Split train_test_split(const Tensor& x, const Tensor& y, const SplitOptions& o) {
  if (x.rank() == 0 || y.rank() == 0) throw Error("train_test_split: x and y need a first (row) axis");
  const int64_t n = x.dim(0);
  if (y.dim(0) != n)
    throw Error("train_test_split: x has " + std::to_string(n) + " rows but y has " + std::to_string(y.dim(0)));
  const int64_t n_test = test_count(o.test_size, n);
  std::vector<int64_t> train, test;
  if (!o.shuffle) {
    if (o.stratify) throw Error("train_test_split: stratify needs shuffle=true (as sklearn)");
    for (int64_t i = 0; i < n - n_test; ++i) train.push_back(i);
    for (int64_t i = n - n_test; i < n; ++i) test.push_back(i);
  } else {
    uint32_t seed = o.random_state ? *o.random_state : std::random_device{}();
    NumpyRandomState rng(seed);
    if (o.stratify) {
      stratified(class_labels(y), n_test, rng, train, test);
    } else {
      std::vector<int64_t> p = rng.permutation(n);
      test.assign(p.begin(), p.begin() + n_test);
      train.assign(p.begin() + n_test, p.end());
    }
  }
  return {x.gather_rows(train), x.gather_rows(test), y.gather_rows(train), y.gather_rows(test)};
}

}  // namespace seqnet::data
