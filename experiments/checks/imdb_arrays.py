# keras.datasets.imdb.load_data reproduced from ../shared/data/imdb/keras_sequences (the content of
# imdb.npz, see its PROVENANCE.md): RandomState(113) shuffles train then test, start_char 1, index_from 3,
# oov_char 2; then pad_sequences (pre, pre). For the developer checks in this folder.
import gzip, os
import numpy as np
import keras


def load(data, num_words, maxlen):
    def read(name):
        xs, ys = [], []
        with gzip.open(os.path.join(data, "imdb/keras_sequences", name), "rt") as f:
            for line in f:
                v = [int(t) for t in line.split()]
                ys.append(v[0])
                xs.append(v[1:])
        return xs, np.array(ys)

    (xtr, ytr), (xte, yte) = read("imdb_train.txt.gz"), read("imdb_test.txt.gz")
    rng = np.random.RandomState(113)
    i = np.arange(len(xtr)); rng.shuffle(i); xtr = [xtr[k] for k in i]; ytr = ytr[i]
    i = np.arange(len(xte)); rng.shuffle(i); xte = [xte[k] for k in i]; yte = yte[i]

    def prep(xs):
        xs = [[1] + [w + 3 for w in x] for x in xs]
        xs = [[w if w < num_words else 2 for w in x] for x in xs]
        return keras.utils.pad_sequences(xs, maxlen=maxlen)

    return (prep(xtr), ytr.astype("float32")), (prep(xte), yte.astype("float32"))
