// numpy.random.RandomState(seed) reproduced bit for bit (MT19937 with numpy's legacy seeding), for the
// few draws whose exact order users compare with Python: Keras's IMDB shuffle (seed 113), the start-position
// permutation of timeseries_dataset_from_array, sklearn's train_test_split, the book's np.random.randint.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace seqnet::data {

class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint32_t seed);  // RandomState(seed) for an integer seed in [0, 2**32)
  uint32_t next_uint32();                    // MT19937 genrand_int32
  // A value in [0, max], by numpy's masked rejection sampling (random_interval).
  uint64_t interval(uint64_t max);
  // RandomState.randint(low, high) for one int64 draw in [low, high).
  int64_t randint(int64_t low, int64_t high);
  // RandomState.shuffle of a 1-D array: for i = n-1 .. 1, swap a[i] with a[interval(i)].
  template <typename T>
  void shuffle(std::vector<T>& values) {
    for (size_t i = values.size(); i-- > 1;) std::swap(values[i], values[static_cast<size_t>(interval(i))]);
  }
  // RandomState.permutation(n): arange(n), shuffled.
  std::vector<int64_t> permutation(int64_t n);

 private:
  std::array<uint32_t, 624> mt_{};
  int pos_ = 624;
};

}  // namespace seqnet::data
