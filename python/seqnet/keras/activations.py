"""keras.activations: the functions layers take as `activation=` (by name or as these functions). They also
compute on NumPy arrays."""
import numpy as np


def linear(x):
    return np.asarray(x)


def relu(x):
    return np.maximum(np.asarray(x), 0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x)))


def hard_sigmoid(x):
    return np.clip(np.asarray(x) / 6.0 + 0.5, 0.0, 1.0)


def tanh(x):
    return np.tanh(x)


def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def elu(x, alpha=1.0):
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * (np.exp(x) - 1))


def selu(x):
    return 1.0507009873554805 * elu(x, 1.6732632423543772)


def softplus(x):
    return np.logaddexp(0, x)


def softsign(x):
    x = np.asarray(x)
    return x / (1 + np.abs(x))


def swish(x):
    return np.asarray(x) * sigmoid(x)


silu = swish


def gelu(x, approximate=False):
    from math import erf, sqrt
    x = np.asarray(x, dtype=np.float64)
    if approximate:
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + np.vectorize(erf)(x / sqrt(2)))


_BY_FUNCTION = {f: f.__name__ for f in (linear, relu, sigmoid, hard_sigmoid, tanh, softmax, elu, selu, softplus,
                                         softsign, swish, gelu)}


def get(identifier):
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        found = globals().get(identifier)
        if found in _BY_FUNCTION:
            return found
        raise ValueError(f"Could not interpret activation function identifier: {identifier}")
    return identifier


def serialize(activation):
    """The name seqnet's layers take: a string stays, one of these functions becomes its name."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    if activation in _BY_FUNCTION:
        return _BY_FUNCTION[activation]
    name = getattr(activation, "__name__", repr(activation))
    raise ValueError(f"activation {name}: seqnet runs its own C++ activations (relu, sigmoid, tanh, softmax, ...); "
                     "a Python function cannot be used as an activation")
