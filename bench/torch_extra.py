#!/usr/bin/env python3
"""What ../shared/peers/bench_torch.py does not measure, for the side-by-side table of BENCHMARKS.md:
batch-1 inference latency (model.eval(), no_grad, first row of the fixed batch) and the peak resident
memory of a process that builds the model and runs training steps. Same models (imported from the
peer script), same thread convention ('N' = torch N + OpenBLAS N).

  /usr/bin/python3 bench/torch_extra.py --peer ../shared/peers/bench_torch.py --model A --threads 1,2

Prints one line per model:  EXTRA model=A infer_b1_ms=... b1_threads=N peak_rss_mb=...
"""
import argparse
import importlib.util
import resource
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--train-steps", type=int, default=3)
    args = ap.parse_args()

    spec = importlib.util.spec_from_file_location("bench_torch", args.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)

    torch.manual_seed(0)
    s = peer.build(args.model)
    model, x, y, loss_fn = s["model"], s["x"], s["y"], s["loss"]
    opt = s["opt"](model.parameters())
    # A few training steps so the peak RSS covers a training step (what seqnet's peak_rss_mb covers).
    model.train()
    for _ in range(args.train_steps):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    model.eval()
    x1 = x[:1]
    best = None
    for t in [int(v) for v in args.threads.split(",") if v]:
        torch.set_num_threads(t)
        peer.set_blas_threads(t)
        with torch.no_grad():
            for _ in range(5):
                model(x1)
            ts = []
            for _ in range(args.steps):
                t0 = time.perf_counter()
                model(x1)
                ts.append(time.perf_counter() - t0)
        ms = statistics.median(ts) * 1e3
        if best is None or ms < best[0]:
            best = (ms, t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("EXTRA model=%s infer_b1_ms=%.4f b1_threads=%d peak_rss_mb=%.1f" % (args.model, best[0], best[1], rss),
          flush=True)


if __name__ == "__main__":
    main()
