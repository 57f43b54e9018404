# Developer check (not run by CI): the notes' IMDB LSTM(8) experiments (experiments/imdb_lstm8*.json) in
# Keras 3 on the same arrays, to put Keras's own result beside seqnet's in docs/RESULTS.md.
#   KERAS_BACKEND=jax python3 experiments/checks/keras_imdb_lstm8.py [plain|dropout] [SHARED_DATA_DIR]
# keras.datasets.imdb.load_data is reproduced from ../shared/data/imdb/keras_sequences (the content of
# imdb.npz, see its PROVENANCE.md): RandomState(113) shuffles, start_char 1, index_from 3, oov_char 2.
import gzip, os, sys
os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np, keras
from keras import layers

variant = sys.argv[1] if len(sys.argv) > 1 else "plain"
data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "../../../shared/data")

def read(name):
    xs, ys = [], []
    with gzip.open(os.path.join(data, "imdb/keras_sequences", name), "rt") as f:
        for line in f:
            v = [int(t) for t in line.split()]
            ys.append(v[0]); xs.append(v[1:])
    return xs, np.array(ys)

(xtr, ytr), (xte, yte) = read("imdb_train.txt.gz"), read("imdb_test.txt.gz")
rng = np.random.RandomState(113)
i = np.arange(len(xtr)); rng.shuffle(i); xtr = [xtr[k] for k in i]; ytr = ytr[i]
i = np.arange(len(xte)); rng.shuffle(i); xte = [xte[k] for k in i]; yte = yte[i]
def prep(xs):
    xs = [[1] + [w + 3 for w in x] for x in xs]
    xs = [[w if w < 500 else 2 for w in x] for x in xs]
    return keras.utils.pad_sequences(xs, maxlen=100)
xtr, xte = prep(xtr), prep(xte)

keras.utils.set_random_seed(1337)
drop = dict(dropout=0.3, recurrent_dropout=0.3) if variant == "dropout" else {}
model = keras.Sequential([keras.Input((100,), dtype="int32"), layers.Embedding(500, 16), layers.LSTM(8, **drop),
                          layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["acc"])
h = model.fit(xtr, ytr.astype("float32"), batch_size=64, epochs=60, validation_split=0.2, verbose=2,
              callbacks=[keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)])
best = int(np.argmin(h.history["val_loss"]))
print(f"keras {variant}: best epoch {best + 1} val_acc {h.history['val_acc'][best]:.4f} "
      f"test {model.evaluate(xte, yte.astype('float32'), verbose=0)}")
