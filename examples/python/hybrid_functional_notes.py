"""The study notes' hybrid forecaster, written with the functional API: Conv1D(32, 10, swish) ->
MaxPooling1D(2) -> two Bidirectional layers whose forward half is an LSTM and whose backward half a GRU ->
Flatten -> Dense(256, swish) -> Dense(1, relu), trained on the MAE with Adam. (This is the model of
tests/fixtures/make_hybrid_model.py; Keras itself reports the Bidirectional widths wrong for it, keras#23688 --
seqnet gives units_f + units_b: 24 + 16 = 40, then 24 + 24 = 48.)

The model's input is a window of 20 steps of 6 features (keras.Input(shape=(20, 6))), as in the notes.
Here the windows come from the hourly Beijing weather CSV (UCI "Beijing PM2.5"): the six numeric columns
DEWP, TEMP, PRES, Iws, Is, Ir over 20 hours, and the target is TEMP 24 hours after the window's last hour.
Because the last layer is a ReLU, the columns are min-max scaled to [0, 1] (with the training rows' minimum
and maximum) so that the target is never negative. Rows 0-26,279 (about 2010-2012) train, 26,280-35,063
(about 2013) validate and the rest (2014) test; the MAE is also printed in degrees C (MAE times TEMP's
training range), beside the common-sense baseline (the window's last temperature).

    python examples/python/hybrid_functional_notes.py   # 10 epochs, batch 32
    SEQNET_EXAMPLE_QUICK=1 python ...                   # a few seconds: 2000 windows, 2 epochs
"""
import os

import numpy as np

from seqnet import keras
from seqnet.keras import layers

QUICK = os.environ.get('SEQNET_EXAMPLE_QUICK') == '1'

repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data_dir = os.environ.get('SEQNET_DATA_DIR') or os.path.join(repo_root, '..', 'shared', 'data')
csv_path = os.path.join(data_dir, 'beijing_pm25', 'PRSA_data_2010.1.1-2014.12.31.csv')

columns = ['DEWP', 'TEMP', 'PRES', 'Iws', 'Is', 'Ir']
with open(csv_path) as f:
    header = f.readline().strip().split(',')
    usecols = [header.index(name) for name in columns]
series = np.loadtxt(csv_path, delimiter=',', skiprows=1, usecols=usecols, dtype=np.float32)

train_end, val_end = 26280, 35064
lo, hi = series[:train_end].min(axis=0), series[:train_end].max(axis=0)
series = (series - lo) / (hi - lo)
temp_range = hi[1] - lo[1]

n_steps, delay = 20, 24


def make_windows(start, end):
    """Every window of n_steps rows starting in [start, end) whose target row is before `end`."""
    starts = np.arange(start, end - n_steps - delay + 1)
    x = series[starts[:, None] + np.arange(n_steps)]
    y = series[starts + n_steps - 1 + delay, 1:2]
    return x, y


x_train, y_train = make_windows(0, train_end)
x_val, y_val = make_windows(train_end, val_end)
x_test, y_test = make_windows(val_end, len(series))
epochs = 10
if QUICK:
    x_train, y_train = x_train[::13][:2000], y_train[::13][:2000]
    x_val, y_val, x_test, y_test = x_val[:500], y_val[:500], x_test[:500], y_test[:500]
    epochs = 2
print('train', x_train.shape, 'val', x_val.shape, 'test', x_test.shape)

baseline = np.mean(np.abs(x_val[:, -1, 1] - y_val[:, 0]))
print(f'common-sense baseline (the last temperature): val MAE {baseline:.4f} ({baseline * temp_range:.2f} degrees C)')

keras.backend.clear_session()
# The last layer is a ReLU: for some initial weights its input is negative on every window, so the model
# predicts 0 everywhere and gets no gradient (seeds 5 and 42 do that here). This seed starts it alive.
keras.utils.set_random_seed(1)

il = keras.Input(shape=(n_steps, len(columns)))
x = layers.Conv1D(32, 10, activation='swish', padding='valid')(il)
x = layers.MaxPooling1D(2)(x)
x = layers.Bidirectional(layers.LSTM(24, return_sequences=True),
                         backward_layer=layers.GRU(16, return_sequences=True, go_backwards=True))(x)
x = layers.Bidirectional(layers.LSTM(24, return_sequences=True),
                         backward_layer=layers.GRU(24, return_sequences=True, go_backwards=True))(x)
x = layers.Flatten()(x)
x = layers.Dense(256, activation='swish')(x)
ol = layers.Dense(1, activation='relu')(x)

model = keras.Model(il, ol)
model.compile(loss=keras.losses.mae, optimizer='adam')
model.summary()

history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_val, y_val))

val_loss = history.history['val_loss']
best = int(np.argmin(val_loss))
test_mae = model.evaluate(x_test, y_test, verbose=0)
print(f'common-sense baseline: val MAE {baseline:.4f} ({baseline * temp_range:.2f} degrees C)')
print(f'hybrid: best val MAE {val_loss[best]:.4f} ({val_loss[best] * temp_range:.2f} degrees C) at epoch {best + 1}, '
      f'test MAE after the last epoch {test_mae:.4f} ({test_mae * temp_range:.2f} degrees C)')
