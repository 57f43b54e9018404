# Developer check (not run by CI): the book's IMDB Conv1D model (DLwP 6.46, experiments/imdb_conv1d.json) in
# Keras 3 on the same arrays, to put Keras's own result beside seqnet's in docs/RESULTS.md.
#   [SEED=1337] KERAS_BACKEND=jax python3 experiments/checks/keras_imdb_conv1d.py [SHARED_DATA_DIR]
import os, sys
os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np, keras
from keras import layers
import imdb_arrays

data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../shared/data")
(xtr, ytr), (xte, yte) = imdb_arrays.load(data, num_words=10000, maxlen=500)
keras.utils.set_random_seed(int(os.environ.get("SEED", "1337")))
# As the book writes it: Dense(1) without a sigmoid under binary_crossentropy.
model = keras.Sequential([keras.Input((500,), dtype="int32"), layers.Embedding(10000, 128),
                          layers.Conv1D(32, 7, activation="relu"), layers.MaxPooling1D(5),
                          layers.Conv1D(32, 7, activation="relu"), layers.GlobalMaxPooling1D(), layers.Dense(1)])
model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["acc"])
h = model.fit(xtr, ytr, batch_size=128, epochs=10, validation_split=0.2, verbose=2)
print(f"keras conv1d: val_acc by epoch {[round(v, 4) for v in h.history['val_acc']]} "
      f"test {model.evaluate(xte, yte, verbose=0)}")
