"""keras.datasets.imdb: the same arrays as Keras's load_data (object arrays of lists of word ids, int64
labels), with its arguments and defaults."""
import numpy as np

from ... import _core


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    if kwargs:
        raise TypeError(f"imdb.load_data: unexpected arguments {sorted(kwargs)}")
    where = "" if path == "imdb.npz" else str(path)
    (train_flat, train_offsets), y_train, (test_flat, test_offsets), y_test = _core.imdb_load_data(
        num_words, int(skip_top), maxlen, int(seed), start_char, oov_char, int(index_from), where)
    return (_ragged(train_flat, train_offsets), y_train.astype(np.int64)), \
        (_ragged(test_flat, test_offsets), y_test.astype(np.int64))


def _ragged(flat, offsets):
    values = flat.tolist()
    out = np.empty(len(offsets) - 1, dtype=object)
    bounds = offsets.tolist()
    for i in range(len(out)):
        out[i] = values[bounds[i]:bounds[i + 1]]
    return out


def get_word_index(path="imdb_word_index.json"):
    return _core.imdb_word_index("" if path == "imdb_word_index.json" else str(path))
