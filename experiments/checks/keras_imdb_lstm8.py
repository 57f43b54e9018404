# Developer check (not run by CI): the notes' IMDB LSTM(8) experiments (experiments/imdb_lstm8*.json) in
# Keras 3 on the same arrays, to put Keras's own result beside seqnet's in docs/RESULTS.md.
#   KERAS_BACKEND=jax python3 experiments/checks/keras_imdb_lstm8.py [plain|dropout] [SHARED_DATA_DIR]
import os, sys
os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np, keras
from keras import layers
import imdb_arrays

variant = sys.argv[1] if len(sys.argv) > 1 else "plain"
data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "../../../shared/data")
(xtr, ytr), (xte, yte) = imdb_arrays.load(data, num_words=500, maxlen=100)

keras.utils.set_random_seed(1337)
drop = dict(dropout=0.3, recurrent_dropout=0.3) if variant == "dropout" else {}
model = keras.Sequential([keras.Input((100,), dtype="int32"), layers.Embedding(500, 16), layers.LSTM(8, **drop),
                          layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["acc"])
h = model.fit(xtr, ytr, batch_size=64, epochs=60, validation_split=0.2, verbose=2,
              callbacks=[keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)])
best = int(np.argmin(h.history["val_loss"]))
print(f"keras {variant}: best epoch {best + 1} val_acc {h.history['val_acc'][best]:.4f} "
      f"test {model.evaluate(xte, yte, verbose=0)}")
