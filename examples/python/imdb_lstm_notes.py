"""IMDB sentiment with a small LSTM, as the Korean study notes build it (after Park Haesun's
"혼자 공부하는 머신러닝+딥러닝", chapter 9-3): Embedding(500, 16) -> LSTM(8) -> Dense(1, sigmoid) on reviews cut to
their last 100 words, RMSprop(1e-4), with ModelCheckpoint and EarlyStopping; the best model is then reloaded
and evaluated on the test reviews.

The notes split off 20 % for validation with sklearn's train_test_split(test_size=0.2, random_state=42); the
same split is made here with NumPy's RandomState(42) permutation (it is the one train_test_split draws).

    python examples/python/imdb_lstm_notes.py         # the notes' run (up to 100 epochs, early stopping)
    SEQNET_EXAMPLE_QUICK=1 python ...                 # a few seconds: 2000 reviews, 2 epochs
"""
import os
import tempfile

import numpy as np

from seqnet import keras

QUICK = os.environ.get('SEQNET_EXAMPLE_QUICK') == '1'

# The checkpoint goes to a scratch folder (removed at exit), not the current one.
workdir = tempfile.TemporaryDirectory(prefix='imdb_lstm_notes_')
os.chdir(workdir.name)
keras.utils.set_random_seed(42)

(train_input, train_target), (test_input, test_target) = keras.datasets.imdb.load_data(num_words=500)

# train_test_split(train_input, train_target, test_size=0.2, random_state=42)
perm = np.random.RandomState(42).permutation(len(train_input))
n_val = int(np.ceil(0.2 * len(train_input)))
val_input, val_target = train_input[perm[:n_val]], train_target[perm[:n_val]]
train_input, train_target = train_input[perm[n_val:]], train_target[perm[n_val:]]

if QUICK:
    train_input, train_target = train_input[:2000], train_target[:2000]
    val_input, val_target = val_input[:500], val_target[:500]
    test_input, test_target = test_input[:500], test_target[:500]

train_seq = keras.preprocessing.sequence.pad_sequences(train_input, maxlen=100)
val_seq = keras.preprocessing.sequence.pad_sequences(val_input, maxlen=100)

model = keras.Sequential()
model.add(keras.layers.Embedding(500, 16, input_length=100))
model.add(keras.layers.LSTM(8))
model.add(keras.layers.Dense(1, activation='sigmoid'))
model.summary()

rmsprop = keras.optimizers.RMSprop(learning_rate=1e-4)
model.compile(optimizer=rmsprop, loss='binary_crossentropy', metrics=['accuracy'])
checkpoint_cb = keras.callbacks.ModelCheckpoint('best-lstm-model.h5', save_best_only=True)
early_stopping_cb = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
history = model.fit(train_seq, train_target, epochs=2 if QUICK else 100, batch_size=64,
                    validation_data=[val_seq, val_target],
                    callbacks=[checkpoint_cb, early_stopping_cb])

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    plt.plot(history.history['loss'])
    plt.plot(history.history['val_loss'])
    plt.xlabel('epoch')
    plt.ylabel('loss')
    plt.legend(['train', 'val'])
    plt.show()
else:
    print('loss:    ', ' '.join(f'{v:.4f}' for v in history.history['loss']))
    print('val_loss:', ' '.join(f'{v:.4f}' for v in history.history['val_loss']))

test_seq = keras.preprocessing.sequence.pad_sequences(test_input, maxlen=100)
rnn_model = keras.models.load_model('best-lstm-model.h5')
test_loss, test_acc = rnn_model.evaluate(test_seq, test_target)
best = int(np.argmin(history.history['val_loss']))
print(f"best epoch {best + 1}: val_loss {history.history['val_loss'][best]:.4f}, "
      f"val_accuracy {history.history['val_accuracy'][best]:.4f}")
print(f'test loss {test_loss:.4f}, test accuracy {test_acc:.4f}')
