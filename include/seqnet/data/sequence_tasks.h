// Sequence-to-sequence tasks generated in code, for the encoder-decoder examples:
//   addition  Keras's "addition RNN" example: "123+45" (padded, optionally reversed, as the example reverses it)
//             -> "168 ", both one-hot over the 12 characters "0123456789+ ".
//   reverse   a string of digits -> the same digits last first, both one-hot over the 10 digits.
// Same seed, same problems.
#pragma once
#include <cstdint>
#include <string>

#include "seqnet/tensor.h"

namespace seqnet::data {

struct SequenceTask {
  Tensor x, y;  // (n, steps_in, symbols), (n, steps_out, symbols), one-hot float32
  std::string symbols;  // the character of each one-hot position
};

// n distinct problems a + b with a and b of 1..digits digits (the pair is distinct up to order, as in Keras's
// example); x (n, 2 * digits + 1, 12), y (n, digits + 1, 12).
SequenceTask addition_problems(int64_t n, int digits, uint64_t seed, bool reverse_question = true);
// n strings of `length` digits, each digit uniform; x (n, length, 10), y (n, length, 10).
SequenceTask reversal_problems(int64_t n, int length, uint64_t seed);

// The text a one-hot (or probability) sequence spells: the most likely symbol at each step.
std::string decode_sequence(const Tensor& probabilities, int64_t sample, const std::string& symbols);
// The fraction of samples whose every step's most likely symbol is the target's (a sequence exactly right).
double exact_match(const Tensor& predictions, const Tensor& targets);

}  // namespace seqnet::data
