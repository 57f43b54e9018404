// The recurrent loop behind Backend::recurrent_forward / recurrent_backward (backend.h): what a forward keeps
// for its backward, and the loop both backends run. Internal header.
#pragma once
#include <vector>

#include "backend/backend.h"
#include "backend/recurrent_cells.h"

namespace seqnet {

// Per call of a recurrent layer: every buffer is reused by the next call of the same shape (the time loop's
// buffers are tens of MB; allocating them afresh costs page faults and zero-fills comparable to the arithmetic).
struct RecurrentTape {
  Shape x_shape;            // (B, T, in) of the last forward
  bool go_backwards = false, return_sequences = false, zero_output_for_mask = false;
  bool kept_for_backward = false;
  bool plain = false;       // made by the reference backend's plain steps (its backward must be the same kind)
  Tensor xs;                // (T, B, in) in processing order; (n, in) the rows, after a forward from rows
  Tensor xw;                // (T, B, G*u) input projection, under input dropout only (else made per step);
                            // (n, G*u) the rows' projections, after a forward from rows
  Tensor row_of;            // after a forward from rows: (T, B) int32, each step's rows in processing order
  Tensor states;            // (S, T+1, B, u): states before step 0 .. after step T-1 (2 slots when not kept)
  // Threads split the batch into shards of rows, each running the whole sequence (no synchronisation per
  // step). Each shard keeps its cells' per-step caches and its rows of the recurrent dropout masks.
  struct Shard {
    int64_t b0 = 0, b1 = 0;  // rows [b0, b1) of the batch
    Tensor cache;            // (T, cell cache of b1 - b0 rows)
    Tensor rmask;            // (G, b1 - b0, u) when there is more than one shard and recurrent dropout
  };
  std::vector<Shard> shards;
  Tensor dxw, drec, rkernel_t;     // backward work buffers
  Tensor step_mask;                // (T, B) 0/1 in processing order; empty without a mask
  Tensor in_masks, rec_masks;      // the dropout masks of the call; empty when inactive
};

// The loop of both backends: `plain` (the reference) runs every cell's plain step on one shard.
void recurrent_loop_forward(bool plain, const rnn::Cell& cell, const RecurrentForward& call, RecurrentTape& tape,
                            Tensor& y, std::vector<Tensor>& final_states);
void recurrent_loop_backward(bool plain, const rnn::Cell& cell, const RecurrentBackward& call, RecurrentTape& tape);

}  // namespace seqnet
