"""keras.backend: the session helpers Keras scripts call."""
import numpy as np

from .. import _core


def clear_session(free_memory=True):
    """Starts layer names over ("dense", "dense_1", ...), as Keras's clear_session."""
    _core.clear_session()


def backend():
    return "seqnet"


def floatx():
    return "float32"


def epsilon():
    return 1e-7


def get_value(x):
    return np.asarray(x)


def set_value(x, value):
    raise NotImplementedError("seqnet: set_value on a variable is not supported; set model.optimizer.learning_rate "
                              "or use layer.set_weights")
