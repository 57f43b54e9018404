#!/usr/bin/env python3
"""What a Python fit costs over the C++ API: setups A and E, on arrays and fed by a generator.

    build/venv/bin/python bench/python_overhead.py [--build build] [--steps 60] [--rounds 5]

Each round runs the C++ program (bench/fit_overhead.cpp) and then the same fit from Python in this process,
alternately; the table gives the medians of ms per step and their ratio. Same model, seed, data shapes and
thread count on both sides.
"""
import argparse
import statistics
import subprocess
import time

import numpy as np

from seqnet import keras
from seqnet.keras import layers


def build(setup):
    keras.utils.set_random_seed(0)
    keras.backend.clear_session()
    if setup == "A":
        m = keras.Sequential([keras.Input(shape=(100,), dtype="int32"), layers.Embedding(500, 16), layers.LSTM(8),
                              layers.Dense(1, activation="sigmoid")])
        m.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-4), loss="binary_crossentropy")
    else:
        m = keras.Sequential([keras.Input(shape=(240, 14)), layers.GRU(32), layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3), loss="mae")
    return m


def data(setup, steps):
    rng = np.random.RandomState(1)
    batch = 64 if setup == "A" else 128
    n = batch * steps
    x = rng.randint(0, 500, size=(n, 100)).astype(np.int32) if setup == "A" else \
        rng.randn(n, 240, 14).astype(np.float32)
    y = rng.randint(0, 2, size=(n, 1)).astype(np.float32)
    return x, y, batch


def python_round(model, x, y, batch, steps, mode):
    t0 = time.perf_counter()
    if mode == "arrays":
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    else:
        def generator():
            at = 0
            while True:
                if at + batch > len(x):
                    at = 0
                yield x[at:at + batch], y[at:at + batch]
                at += batch
        model.fit(generator(), steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - t0) * 1e3 / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    exe = f"{args.build}/bench/fit_overhead"
    print("| setup | data | C++ ms/step | Python ms/step | Python / C++ |")
    print("|---|---|---:|---:|---:|")
    for setup in "AE":
        x, y, batch = data(setup, args.steps)
        for mode in ("arrays", "source"):
            model = build(setup)
            python_round(model, x, y, batch, args.steps, mode)  # warm-up
            cpp, py = [], []
            for _ in range(args.rounds):
                out = subprocess.run([exe, setup, mode, str(args.steps), "2"], check=True, capture_output=True,
                                     text=True).stdout.split()
                cpp.append(float(out[-1]))  # the second round: the first warms up
                py.append(python_round(model, x, y, batch, args.steps, mode))
            c, p = statistics.median(cpp), statistics.median(py)
            label = "NumPy arrays" if mode == "arrays" else "generator"
            print(f"| {setup} | {label} | {c:.3f} | {p:.3f} | {p / c:.3f} |", flush=True)


if __name__ == "__main__":
    main()
