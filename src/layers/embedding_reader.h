// For a layer that reads an Embedding's rows itself (Conv1D, the recurrent layers; docs/layers.md): the batch's
// distinct ids and their rows of the table. Internal header.
#pragma once
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "seqnet/layers/core.h"

namespace seqnet {

// The distinct ids of flat_ids (the Embedding's checked ids of a (B, L) batch): their count; the ids are unique's
// first `count` values (first appearance first), and slots (B, L) holds each position's index into them. unique
// and seen are scratch the caller keeps between calls (seen is all -1 between calls).
inline int64_t find_distinct_ids(const Embedding& embedding, const Tensor& flat_ids, int64_t B, int64_t L,
                                 Tensor& unique, Tensor& slots, Tensor& seen) {
  const int64_t input_dim = embedding.input_dim();
  if (seen.size() != input_dim) seen = Tensor({input_dim}, std::vector<int32_t>(static_cast<size_t>(input_dim), -1));
  if (unique.size() != B * L) unique = Tensor({B * L}, DType::int32);
  if (slots.shape() != Shape{B, L}) slots = Tensor({B, L}, DType::int32);
  return backend().distinct_ids(unique, slots, seen, flat_ids);
}

// The first `count` ids of unique, (count), and their rows of the embedding's table, (count, output_dim).
inline std::pair<Tensor, Tensor> distinct_rows(Embedding& embedding, const Tensor& unique, int64_t count) {
  Tensor ids = unique.slice_rows(0, count);
  Tensor rows = Tensor::uninitialized({count, embedding.output_dim()});
  backend().embedding_forward(rows, ids, embedding.params()[0]->value);
  return {std::move(ids), std::move(rows)};
}

}  // namespace seqnet
