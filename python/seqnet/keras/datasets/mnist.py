"""keras.datasets.mnist: (x_train, y_train), (x_test, y_test) as uint8 arrays, as Keras's load_data."""
import numpy as np

from ... import _core


def load_data(path="mnist.npz"):
    folder = "" if path == "mnist.npz" else str(path)
    x_train, y_train, x_test, y_test = _core.mnist_load_data(folder)
    # seqnet's reader scales pixels to [0, 1] in float32; Keras gives the bytes (pixel / 255 * 255 rounds back).
    to_bytes = lambda x: np.rint(x * 255.0).astype(np.uint8)  # noqa: E731
    return (to_bytes(x_train), y_train.astype(np.uint8)), (to_bytes(x_test), y_test.astype(np.uint8))
