#!/usr/bin/env python3
"""Batch-1 inference latency of the modern peers on the setups A-J (issue 21: seqnet at least 4x faster), which
the peers' driver does not time (it times full batches). The models are the peers' own, imported in place:
Keras 3 from ../shared/peers/modern/bench_keras.py (its build() and make()), PyTorch from
../shared/peers/bench_torch.py (its build()). One sample is the first row of each setup's fixed batch.

  KERAS_BACKEND=tensorflow peers-venv/bin/python bench/peers_batch1.py --side keras --models ABCDEFGHIJ --threads 1,2
  KERAS_BACKEND=jax        jax-venv/bin/python   bench/peers_batch1.py --side keras ...
                           peers-venv/bin/python bench/peers_batch1.py --side torch ...

bench/compare_peers.sh --batch1 runs all three and seqnet (`seqnet bench`'s infer_b1_ms) and writes a table.
Each variant is timed as the peer would serve one sample: Keras's predict_on_batch and its compiled forward
(tf.function on TensorFlow, graph and jit_compile=True; jax.jit of stateless_call on JAX); PyTorch eager under
no_grad (model.eval()). The best variant counts, as in the full-batch table. Prints one line per model and
thread count:
  B1 side=keras-tf model=A threads=1 b1_ms=... variant=xla-fwd
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--side", choices=["keras", "torch"], required=True)
ap.add_argument("--models", default="ABCDEFGHIJ")
ap.add_argument("--threads", default="1,2")
ap.add_argument("--steps", type=int, default=200, help="timed calls per variant (median)")
ap.add_argument("--min-s", type=float, default=0.3, help="minimum timed seconds per variant")
ap.add_argument("--peers-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                                                   "peers"))
ap.add_argument("--jsonl", default=None)
args = ap.parse_args()


def load(path, name, argv):
    saved = sys.argv
    sys.argv = [path] + argv  # the peer scripts parse their arguments when imported
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.argv = saved
    return module


def median_ms(fn):
    for _ in range(5):
        fn()  # warm-up (and compilation)
    ts = []
    t0 = time.perf_counter()
    while len(ts) < args.steps or time.perf_counter() - t0 < args.min_s:
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


def report(side, model, threads, results):
    best = min(results, key=results.get)
    line = "B1 side=%s model=%s threads=%d b1_ms=%.4f variant=%s all=%s" % (
        side, model, threads, results[best], best, ",".join("%s:%.4f" % kv for kv in sorted(results.items())))
    print(line, flush=True)
    if args.jsonl:
        with open(args.jsonl, "a") as f:
            f.write(json.dumps(dict(side=side, model=model, threads=threads, b1_ms=results[best], variant=best,
                                    variants=results)) + "\n")


def keras_side(threads):
    peer = load(os.path.join(args.peers_dir, "modern", "bench_keras.py"), "bench_keras", ["--threads", str(threads)])
    backend = peer.BACKEND
    side = "keras-tf" if backend == "tensorflow" else "keras-jax"
    for m in args.models.replace(",", "").upper():
        results = {}
        for jit in ([False, True] if backend == "tensorflow" else [True]):
            model, x, _, _ = peer.make(m, jit)
            x1 = x[:1]
            tag = "xla" if jit else "graph"
            results[tag + "-predict_on_batch"] = median_ms(lambda: model.predict_on_batch(x1))
            if backend == "tensorflow":
                tf = peer.tf
                fwd = tf.function(lambda t: model(t, training=False), jit_compile=jit)
                t1 = tf.constant(x1)
                results[tag + "-fwd"] = median_ms(lambda: fwd(t1).numpy())
            else:
                jax = peer.jax
                tv = [v.value for v in model.trainable_variables]
                ntv = [v.value for v in model.non_trainable_variables]
                fwd = jax.jit(lambda tv, ntv, t: model.stateless_call(tv, ntv, t, training=False)[0])
                xj = jax.numpy.asarray(x1)
                results[tag + "-fwd"] = median_ms(lambda: fwd(tv, ntv, xj).block_until_ready())
        report(side, m, threads, results)


def torch_side(threads):
    import torch
    peer = load(os.path.join(args.peers_dir, "bench_torch.py"), "bench_torch", [])
    torch.set_num_threads(threads)
    peer.set_blas_threads(threads)  # the peer's convention: torch N threads and OpenBLAS N
    for m in args.models.replace(",", "").upper():
        torch.manual_seed(0)
        s = peer.build(m)
        model, x = s["model"], s["x"]
        model.eval()
        x1 = x[:1]
        with torch.no_grad():
            results = {"eager": median_ms(lambda: model(x1))}
        report("torch", m, threads, results)


def main():
    for threads in [int(t) for t in args.threads.split(",")]:
        if args.side == "keras":
            # TensorFlow fixes its thread pools once per process: one process per thread count.
            if len(args.threads.split(",")) > 1:
                import subprocess
                cmd = [sys.executable, __file__, "--side", "keras", "--models", args.models, "--threads",
                       str(threads), "--steps", str(args.steps), "--min-s", str(args.min_s), "--peers-dir",
                       args.peers_dir] + (["--jsonl", args.jsonl] if args.jsonl else [])
                subprocess.run(cmd, check=True)
                continue
            keras_side(threads)
        else:
            torch_side(threads)


if __name__ == "__main__":
    main()
