"""keras.losses: the losses seqnet computes, as names, classes and functions (the functions also compute on
NumPy arrays). Keras 2's short aliases (mae, mse), which Keras 3 removed but the notes use, are here too."""
import numpy as np

_EPSILON = 1e-7


class Loss:
    _name = None

    def __init__(self, name=None, reduction="sum_over_batch_size", **config):
        if reduction not in ("sum_over_batch_size", "auto"):
            raise ValueError(f"{type(self).__name__}: reduction={reduction!r} is not supported "
                             "(seqnet averages over the batch: 'sum_over_batch_size')")
        self.name = name or self._name
        self._config = config

    def get_config(self):
        return {"name": self.name, **self._config}

    def _serialize(self):
        return {"class_name": type(self).__name__, "config": dict(self._config)}

    def __call__(self, y_true, y_pred):
        return float(np.mean(_FUNCTIONS[self._name](y_true, y_pred, **self._config)))


class MeanAbsoluteError(Loss):
    _name = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(name=name, reduction=reduction)


class MeanSquaredError(Loss):
    _name = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(name=name, reduction=reduction)


class BinaryCrossentropy(Loss):
    _name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        if axis != -1:
            raise ValueError("BinaryCrossentropy: only axis=-1 is supported")
        super().__init__(name=name, reduction=reduction, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(Loss):
    _name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        if axis != -1:
            raise ValueError("CategoricalCrossentropy: only axis=-1 is supported")
        super().__init__(name=name, reduction=reduction, from_logits=from_logits, label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(Loss):
    _name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        if ignore_class is not None:
            raise ValueError("SparseCategoricalCrossentropy: ignore_class is not supported")
        super().__init__(name=name, reduction=reduction, from_logits=from_logits)


class Huber(Loss):
    _name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(name=name, reduction=reduction, delta=float(delta))


# ---- the functions: per-sample losses on NumPy arrays (the mean over the last axis), as Keras's ----

def mean_absolute_error(y_true, y_pred):
    return np.mean(np.abs(np.asarray(y_pred) - np.asarray(y_true)), axis=-1)


def mean_squared_error(y_true, y_pred):
    return np.mean(np.square(np.asarray(y_pred) - np.asarray(y_true)), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = 1 / (1 + np.exp(-y_pred))
    p = np.clip(y_pred, _EPSILON, 1 - _EPSILON)
    return np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)), axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        e = np.exp(y_pred - y_pred.max(axis=-1, keepdims=True))
        y_pred = e / e.sum(axis=-1, keepdims=True)
    p = np.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), _EPSILON, 1 - _EPSILON)
    return -np.sum(y_true * np.log(p), axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    labels = np.asarray(y_true).astype(np.int64).reshape(y_pred.shape[:-1])
    one_hot = np.eye(y_pred.shape[-1])[labels]
    return categorical_crossentropy(one_hot, y_pred, from_logits=from_logits)


def huber(y_true, y_pred, delta=1.0):
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    a = np.abs(err)
    return np.mean(np.where(a <= delta, 0.5 * err * err, delta * a - 0.5 * delta * delta), axis=-1)


# Keras 2's aliases (removed from Keras 3's namespace; the notes still write keras.losses.mae).
mae = MAE = mean_absolute_error
mse = MSE = mean_squared_error
huber_loss = huber

_FUNCTIONS = {"mean_absolute_error": mean_absolute_error, "mean_squared_error": mean_squared_error,
              "binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
              "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "huber_loss": huber}
_NAME_OF_FUNCTION = {f: name for name, f in _FUNCTIONS.items()}


def serialize(loss):
    """What seqnet's compile reads: a name, or {"class_name", "config"} for a loss object."""
    if isinstance(loss, str):
        return loss
    if isinstance(loss, Loss):
        return loss._serialize()
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()._serialize()
    if loss in _NAME_OF_FUNCTION:
        return _NAME_OF_FUNCTION[loss]
    name = getattr(loss, "__name__", repr(loss))
    raise ValueError(f"loss {name}: a loss written in Python cannot be used: seqnet computes losses and their "
                     "gradients in C++ (known: mae, mse, binary_crossentropy, categorical_crossentropy, "
                     "sparse_categorical_crossentropy, huber)")


def get(identifier):
    if isinstance(identifier, str):
        found = globals().get(identifier)
        if found is not None:
            return found
        raise ValueError(f"Could not interpret loss identifier: {identifier}")
    return identifier
