"""A 1D convnet on IMDB, as the study notes run it: Deep Learning with Python (1st ed.), listings 6.45-6.46
("training and evaluating a simple 1D convnet on the IMDB data"), with the notes' settings -- RMSprop() at its
default learning rate (the book: 1e-4) and batch_size=32 (the book: 128). As in the book the last Dense(1)
has no sigmoid, so the binary crossentropy is computed on its outputs clipped to [1e-7, 1 - 1e-7], as Keras
does. The notes' log reaches val_acc 0.8754 after the first epoch.

    python examples/python/imdb_conv1d_notes.py    # the notes' run: 10 epochs
    SEQNET_EXAMPLE_QUICK=1 python ...              # a few seconds: 1000 reviews, 1 epoch
"""
import os

from seqnet.keras.datasets import imdb
from seqnet.keras.preprocessing import sequence
from seqnet.keras.models import Sequential
from seqnet.keras import layers
from seqnet.keras.optimizers import RMSprop

QUICK = os.environ.get('SEQNET_EXAMPLE_QUICK') == '1'

max_features = 10000
max_len = 500

print('Loading data...')
(x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
if QUICK:
    x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:500], y_test[:500]
print(len(x_train), 'train sequences')
print(len(x_test), 'test sequences')

print('Pad sequences (samples x time)')
x_train = sequence.pad_sequences(x_train, maxlen=max_len)
x_test = sequence.pad_sequences(x_test, maxlen=max_len)
print('x_train shape:', x_train.shape)
print('x_test shape:', x_test.shape)

model = Sequential()
model.add(layers.Embedding(max_features, 128, input_length=max_len))
model.add(layers.Conv1D(32, 7, activation='relu'))
model.add(layers.MaxPooling1D(5))
model.add(layers.Conv1D(32, 7, activation='relu'))
model.add(layers.GlobalMaxPooling1D())
model.add(layers.Dense(1))
model.summary()

model.compile(optimizer=RMSprop(), loss='binary_crossentropy', metrics=['acc'])
history = model.fit(x_train, y_train, epochs=1 if QUICK else 10, batch_size=32, validation_split=0.2)

test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
val_acc = history.history['val_acc']
print(f'val_acc after epoch 1: {val_acc[0]:.4f} (the notes: 0.8754)')
print(f'val_acc after epoch {len(val_acc)}: {val_acc[-1]:.4f}, best {max(val_acc):.4f}')
print(f'test loss {test_loss:.4f}, test acc {test_acc:.4f}')
