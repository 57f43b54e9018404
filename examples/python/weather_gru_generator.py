"""Temperature forecasting with a GRU fed by a Python generator, as in Deep Learning with Python (1st ed.),
listings 6.33-6.39 ("a first recurrent baseline"): the book's CSV parsing, normalization, generator(),
common-sense baseline and Sequential GRU(32) -> Dense(1) trained with fit_generator on the MAE.

The book uses the Jena climate CSV (10-minute rows, 420,551 of them). It is not available here, so the
hourly Beijing weather CSV (UCI "Beijing PM2.5", 43,824 rows) stands in for it, with these changes:
  * the six numeric weather columns DEWP, TEMP, PRES, Iws, Is, Ir are read (pm2.5 has NA values and cbwd is
    text); TEMP is column 1 of float_data, the same place as the book's "T (degC)";
  * rows are hourly, so the book's 10-day lookback of 1440 rows with step=6 (one sample an hour) becomes
    lookback=240 with step=1, and "24 hours later" is delay=24 (the book: 144);
  * the book normalizes with, and trains on, the first 200,000 of 420,551 rows; here the first 26,280 rows
    (about 2010-2012, 60 %) do that, then rows 26,281-35,064 (about 2013) validate and the rest (2014) test.

    python examples/python/weather_gru_generator.py    # the book's run: 20 epochs of 500 batches
    SEQNET_EXAMPLE_QUICK=1 python ...                  # a few seconds: 2 epochs of 20 batches
"""
import os

import numpy as np

from seqnet.keras.models import Sequential
from seqnet.keras import layers
from seqnet.keras.optimizers import RMSprop

QUICK = os.environ.get('SEQNET_EXAMPLE_QUICK') == '1'

repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data_dir = os.path.join(os.environ.get('SEQNET_DATA_DIR') or os.path.join(repo_root, '..', 'shared', 'data'),
                        'beijing_pm25')
fname = os.path.join(data_dir, 'PRSA_data_2010.1.1-2014.12.31.csv')

f = open(fname)
data = f.read()
f.close()

lines = data.split('\n')
header = lines[0].split(',')
lines = [line for line in lines[1:] if line]
print(header)
print(len(lines))

columns = ['DEWP', 'TEMP', 'PRES', 'Iws', 'Is', 'Ir']
column_index = [header.index(name) for name in columns]
float_data = np.zeros((len(lines), len(columns)))
for i, line in enumerate(lines):
    values = line.split(',')
    float_data[i, :] = [float(values[j]) for j in column_index]

train_end, val_end = 26280, 35064  # the book: 200000 and 300000

mean = float_data[:train_end].mean(axis=0)
float_data -= mean
std = float_data[:train_end].std(axis=0)
float_data /= std


def generator(data, lookback, delay, min_index, max_index, shuffle=False, batch_size=128, step=6):
    if max_index is None:
        max_index = len(data) - delay - 1
    i = min_index + lookback
    while 1:
        if shuffle:
            rows = np.random.randint(min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)

        samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, row in enumerate(rows):
            indices = range(rows[j] - lookback, rows[j], step)
            samples[j] = data[indices]
            targets[j] = data[rows[j] + delay][1]
        yield samples, targets


lookback = 240  # 10 days of hourly rows (the book: 1440 10-minute rows)
step = 1        # the book: 6, one sample an hour
delay = 24      # 24 hours later (the book: 144)
batch_size = 128

np.random.seed(0)
train_gen = generator(float_data, lookback=lookback, delay=delay, min_index=0, max_index=train_end,
                      shuffle=True, step=step, batch_size=batch_size)
val_gen = generator(float_data, lookback=lookback, delay=delay, min_index=train_end + 1, max_index=val_end,
                    step=step, batch_size=batch_size)
test_gen = generator(float_data, lookback=lookback, delay=delay, min_index=val_end + 1, max_index=None,
                     step=step, batch_size=batch_size)

# How many batches to draw from val_gen and test_gen to see each whole part once
val_steps = (val_end - (train_end + 1) - lookback) // batch_size
test_steps = (len(float_data) - (val_end + 1) - lookback) // batch_size
steps_per_epoch, epochs = 500, 20
if QUICK:
    val_steps, test_steps, steps_per_epoch, epochs = 5, 5, 20, 2


def evaluate_naive_method():
    batch_maes = []
    for step in range(val_steps):
        samples, targets = next(val_gen)
        preds = samples[:, -1, 1]
        mae = np.mean(np.abs(preds - targets))
        batch_maes.append(mae)
    return np.mean(batch_maes)


baseline_mae = evaluate_naive_method()
print(f'common-sense baseline: val MAE {baseline_mae:.4f} ({baseline_mae * std[1]:.2f} degrees C)')

model = Sequential()
model.add(layers.GRU(32, input_shape=(None, float_data.shape[-1])))
model.add(layers.Dense(1))
model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit_generator(train_gen,
                              steps_per_epoch=steps_per_epoch,
                              epochs=epochs,
                              validation_data=val_gen,
                              validation_steps=val_steps)

val_loss = history.history['val_loss']
best = int(np.argmin(val_loss))
print(f'common-sense baseline: val MAE {baseline_mae:.4f} ({baseline_mae * std[1]:.2f} degrees C)')
print(f'GRU(32): best val MAE {val_loss[best]:.4f} ({val_loss[best] * std[1]:.2f} degrees C) at epoch {best + 1}')
test_mae = model.evaluate(test_gen, steps=test_steps, verbose=0)
print(f'GRU(32) after the last epoch: test MAE {test_mae:.4f} ({test_mae * std[1]:.2f} degrees C)')
