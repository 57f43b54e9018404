// Truncated backpropagation through time: fit(..., tbptt_steps=k). Each batch's sequences are cut into
// chunks of k steps along axis 1; the recurrent layers start each chunk from the states the previous
// chunk ended in (RNN::set_continue_state), so the forward pass sees the whole sequence while the
// gradients stay within a chunk; one train_step (forward, loss, backward, optimizer) per chunk that
// sees the loss. Memory is that of a k-step batch. docs/layers.md, "Truncated BPTT", has the rules.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "backend/backend.h"
#include "seqnet/distributed.h"
#include "seqnet/layers/recurrent.h"
#include "seqnet/model.h"

namespace seqnet {

namespace {
// x[:, t0:t1, ...] of a float or int32 tensor of rank >= 2.
Tensor slice_time(const Tensor& x, int64_t t0, int64_t t1) {
  const int64_t B = x.dim(0), T = x.dim(1), inner = (B * T) != 0 ? x.size() / (B * T) : 0, n = (t1 - t0) * inner;
  Shape s = x.shape();
  s[1] = t1 - t0;
  Tensor out(s, x.dtype());
  backend().copy_rows(out, x, {.rows = B, .length = n, .dst_stride = n, .src_offset = t0 * inner, .src_stride = T * inner});
  return out;
}

// Turns the continue-state mode off again however the batch ends.
struct ContinueStateGuard {
  std::vector<RNN*>& rnns;
  ~ContinueStateGuard() {
    for (RNN* r : rnns) r->set_continue_state(false);
  }
};
}  // namespace

void ensure_built_variable_length(Model& model, const Tensor& x) {
  if (model.built()) return;
  auto* seq = dynamic_cast<Sequential*>(&model);
  if (!seq) throw Error(fmt::format("model '{}' is not built", model.name()));
  if (x.rank() < 2) throw Error(fmt::format("fit: tbptt_steps needs inputs (batch, time, ...), got shape {}", x.shape_string()));
  Shape s(x.shape().begin() + 1, x.shape().end());
  s[0] = -1;
  seq->build(s, x.dtype());
}

double Model::tbptt_step(const Tensor& x, const Tensor& y, int64_t k) {
  if (x.rank() < 2)
    throw Error(fmt::format("fit: tbptt_steps={} needs inputs (batch, time, ...), got shape {}", k, x.shape_string()));
  const int64_t T = x.dim(1);
  if (input_shape()[1] >= 0 && k < T)
    throw Error(fmt::format(
        "fit: tbptt_steps={} cuts each sequence of {} steps into chunks, but model '{}' is built for input {} with a "
        "fixed number of steps; give it an unknown time axis (Input({{-1, ...}}) or Sequential::build({{-1, ...}}))",
        k, T, name_, shape_to_string(input_shape())));
  std::vector<RNN*> rnns;
  for (const auto& l : layers()) {
    if (auto* r = dynamic_cast<RNN*>(l.get())) {
      if (r->go_backwards())
        throw Error(fmt::format("fit: tbptt_steps: {} has go_backwards=True; truncated BPTT carries states forward "
                                "in time and cannot cut a sequence read last step first",
                                r->where()));
      rnns.push_back(r);
    } else if (dynamic_cast<Bidirectional*>(l.get())) {
      throw Error(fmt::format("fit: tbptt_steps: {} reads each sequence in both directions; truncated BPTT carries "
                              "states forward in time only (train it with full BPTT)",
                              l->where()));
    }
  }
  // Targets per step (batch, T, ...) go chunk by chunk; anything else is the target of the whole
  // sequence, seen by the last chunk's output only.
  const bool per_step = output_shape().size() >= 3;
  if (per_step && (y.rank() < 3 || y.dim(1) != T))
    throw Error(fmt::format("fit: tbptt_steps: model '{}' outputs a sequence {}, so y must be (batch, {}, ...) to be "
                            "cut into the same chunks, got {}",
                            name_, shape_to_string(output_shape()), T, y.shape_string()));

  ContinueStateGuard guard{rnns};
  double loss_sum = 0.0;
  for (int64_t t0 = 0; t0 < T; t0 += k) {
    const int64_t t1 = std::min(T, t0 + k);
    const bool whole = t0 == 0 && t1 == T;
    for (RNN* r : rnns) r->set_continue_state(t0 > 0);
    Tensor xc = whole ? x : slice_time(x, t0, t1);
    if (per_step) {
      double l = train_step(Arrays(xc, whole ? y : slice_time(y, t0, t1)));
      if (!std::isfinite(l)) return l;
      loss_sum += l * double(t1 - t0);
    } else if (t1 < T) {
      // Sequence-to-one: an earlier chunk only advances the states (this rank's rows, as train_step does).
      if (distributed::active()) {
        auto [begin, end] = distributed::shard(xc.dim(0));
        xc = xc.slice_rows(begin, end);
      }
      if (xc.dim(0) > 0) forward(xc, {.training = true});
    } else {
      return train_step(Arrays(xc, y));
    }
  }
  return loss_sum / double(T);  // the mean over all steps, as one full-sequence loss would be
}

}  // namespace seqnet
