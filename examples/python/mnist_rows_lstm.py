"""MNIST read row by row: each 28x28 image is a sequence of 28 steps of 28 pixels, classified by
LSTM(128) -> Dense(10, softmax) -- the common "RNN on MNIST" example of Keras tutorials and of the notes'
sequence-classifier section (Geron, Hands-On ML, ch. 14, with an LSTM in place of the basic cell).

    python examples/python/mnist_rows_lstm.py      # 60,000 images, 3 epochs
    SEQNET_EXAMPLE_QUICK=1 python ...              # a few seconds: 3000 images, 1 epoch
"""
import os

from seqnet import keras
from seqnet.keras import layers

QUICK = os.environ.get('SEQNET_EXAMPLE_QUICK') == '1'

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
if QUICK:
    x_train, y_train, x_test, y_test = x_train[:3000], y_train[:3000], x_test[:1000], y_test[:1000]
x_train = (x_train / 255.0).astype('float32')
x_test = (x_test / 255.0).astype('float32')
print('x_train', x_train.shape, 'x_test', x_test.shape)

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.LSTM(128),
    layers.Dense(10, activation='softmax'),
])
model.summary()
model.compile(loss='sparse_categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=64, epochs=1 if QUICK else 3, validation_split=0.1)

test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
print(f'test loss {test_loss:.4f}, test accuracy {test_acc:.4f}')
