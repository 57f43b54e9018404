"""keras.utils: pad_sequences, to_categorical, timeseries_dataset_from_array, set_random_seed."""
import random

import numpy as np

from .. import _core


def set_random_seed(seed):
    """Seeds Python's random, NumPy and seqnet's weight initialization, as Keras's set_random_seed."""
    if not isinstance(seed, int):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed} (of type {type(seed)})")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    _core.set_random_seed(seed)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Keras's pad_sequences, computed by seqnet's C++ (the same results for int32 and float32)."""
    if padding not in ("pre", "post"):
        raise ValueError(f'`padding` must be "pre" or "post". Received: padding={padding}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'`truncating` must be "pre" or "post". Received: truncating={truncating}')
    name = np.dtype(dtype).name
    if name not in ("int32", "float32", "int64"):
        raise ValueError(f"pad_sequences: dtype {dtype!r} is not supported (int32, int64, float32)")
    as_int = name != "float32"
    arrays = []
    for i, s in enumerate(sequences):
        a = np.asarray(s)
        if a.ndim != 1:
            raise ValueError(f"pad_sequences: sequence {i} is not a flat list (shape {a.shape})")
        if as_int and a.size and np.issubdtype(a.dtype, np.number) and (a.max() > 2**31 - 1 or a.min() < -2**31):
            raise ValueError(f"pad_sequences: sequence {i} holds values beyond int32 ({a.min()}..{a.max()})")
        arrays.append(np.ascontiguousarray(a, dtype=np.int32 if as_int else np.float32))
    out = _core.pad_sequences(arrays, None if maxlen is None else int(maxlen), as_int, padding == "post",
                              truncating == "post", float(value))
    return out.astype(np.int64) if name == "int64" else out


def to_categorical(x, num_classes=None):
    x = np.asarray(x, dtype=np.int64)
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1
    out = np.zeros((x.size, num_classes), dtype=np.float32)
    out[np.arange(x.size), x] = 1.0
    return out.reshape(shape + (num_classes,))


class _TimeseriesDataset:
    """The batches of timeseries_dataset_from_array: iterable any number of times, with a length."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size):
        self._data, self._targets, self._starts = data, targets, starts
        self._length, self._rate, self._batch = sequence_length, sampling_rate, batch_size

    def __len__(self):
        return -(-len(self._starts) // self._batch)

    def __iter__(self):
        offsets = np.arange(self._length) * self._rate
        for b in range(len(self)):
            starts = self._starts[b * self._batch:(b + 1) * self._batch]
            x = self._data[starts[:, None] + offsets]
            if self._targets is None:
                yield x
            else:
                yield x, self._targets[starts]


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """Keras's windows over a series: batch i holds windows data[s : s + sequence_length * sampling_rate :
    sampling_rate] and targets[s]; shuffled with NumPy's RandomState(seed) as Keras does."""
    data = np.asarray(data)
    if targets is not None:
        targets = np.asarray(targets)
    start_index = start_index or 0
    end_index = len(data) if end_index is None else end_index
    if sequence_length < 1 or sampling_rate < 1 or sequence_stride < 1 or batch_size < 1:
        raise ValueError("timeseries_dataset_from_array: sequence_length, sampling_rate, sequence_stride and "
                         "batch_size must be positive")
    windows = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        windows = min(windows, len(targets) - start_index)
    if windows <= 0:
        raise ValueError("timeseries_dataset_from_array: the data is too short for one window")
    starts = np.arange(start_index, start_index + windows, sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    return _TimeseriesDataset(data, targets, starts, sequence_length, sampling_rate, batch_size)
