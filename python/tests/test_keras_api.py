"""seqnet.keras as a Keras user meets it: models, training, callbacks, files, data, errors."""
import os
import pathlib
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from seqnet import keras
from seqnet.keras import layers

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA_DIR = pathlib.Path(os.environ.get("SEQNET_DATA_DIR", REPO.parent / "shared" / "data"))


def small_ids(n=96, t=12, vocab=50, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randint(1, vocab, size=(n, t)).astype(np.int32)
    y = (x[:, -1] > vocab // 2).astype(np.float32)  # learnable: the last word decides
    return x, y


def lstm_model(t=12):
    model = keras.Sequential([keras.Input(shape=(t,), dtype="int32"), layers.Embedding(50, 8), layers.LSTM(4),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-2), loss="binary_crossentropy",
                  metrics=["acc"])
    return model


# ---- building models ----

def test_sequential_add_and_list_give_keras_names_and_summary(capsys):
    keras.backend.clear_session()
    a = keras.Sequential()
    a.add(keras.Input(shape=(100,)))
    a.add(layers.Embedding(500, 16))
    a.add(layers.LSTM(8))
    a.add(layers.Dense(1, activation="sigmoid"))
    b = keras.Sequential([keras.Input(shape=(100,)), layers.Embedding(500, 16), layers.LSTM(8), layers.Dense(1)])
    assert [l.name for l in a.layers] == ["embedding", "lstm", "dense"]
    assert [l.name for l in b.layers] == ["embedding_1", "lstm_1", "dense_1"]
    assert a.count_params() == 8000 + 800 + 9
    assert a.get_layer("lstm") is a.layers[1]
    assert a.output_shape == (None, 1) and a.input_shape == (None, 100)
    a.summary()
    out = capsys.readouterr().out
    assert 'Model: "sequential"' in out and "lstm (LSTM)" in out and "Total params: 8,809" in out
    lines = []
    a.summary(print_fn=lines.append)
    assert "Total params: 8,809" in lines[0]


def test_functional_model_with_two_inputs_two_outputs_trains_per_output():
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    words = keras.Input(shape=(10,), dtype="int32", name="words")
    extra = keras.Input(shape=(3,), name="extra")
    h = layers.LSTM(6)(layers.Embedding(30, 4)(words))
    merged = layers.concatenate([h, layers.Dense(5, activation="relu")(extra)])
    price = layers.Dense(1, name="price")(merged)
    kind = layers.Dense(3, activation="softmax", name="kind")(merged)
    model = keras.Model([words, extra], [price, kind])
    assert model.input_names == ["words", "extra"] and model.output_names == ["price", "kind"]
    model.compile(optimizer="adam", loss={"price": "mse", "kind": "sparse_categorical_crossentropy"},
                  loss_weights={"price": 1.0, "kind": 0.5}, metrics={"kind": ["accuracy"]})
    rng = np.random.RandomState(0)
    x1 = rng.randint(0, 30, size=(64, 10))
    x2 = rng.rand(64, 3)
    y1, y2 = rng.rand(64, 1), rng.randint(0, 3, size=(64,))
    hist = model.fit({"words": x1, "extra": x2}, [y1, y2], epochs=2, batch_size=16, verbose=0)
    assert set(hist.history) == {"loss", "price_loss", "kind_loss", "kind_accuracy"}
    p_price, p_kind = model.predict([x1, x2])
    assert p_price.shape == (64, 1) and p_kind.shape == (64, 3)
    np.testing.assert_allclose(p_kind.sum(axis=1), 1.0, rtol=1e-5)
    assert isinstance(model.evaluate([x1, x2], [y1, y2], verbose=0), list)
    assert set(model.evaluate([x1, x2], [y1, y2], verbose=0, return_dict=True)) == set(hist.history)


def test_recurrent_states_and_keras_list_call_spelling():
    keras.backend.clear_session()
    enc_in = keras.Input(shape=(None, 3))
    _, h, c = layers.LSTM(5, return_state=True)(enc_in)
    dec_in = keras.Input(shape=(None, 2))
    dec = layers.LSTM(5, return_sequences=True)(dec_in, initial_state=[h, c])
    out = layers.TimeDistributed(layers.Dense(2))(dec)
    model = keras.Model([enc_in, dec_in], out)
    assert model.output_shape == (None, None, 2)
    y = model.predict([np.zeros((2, 4, 3), np.float32), np.zeros((2, 6, 2), np.float32)])
    assert y.shape == (2, 6, 2)
    assert model.count_params() == 4 * 5 * (3 + 5 + 1) + 4 * 5 * (2 + 5 + 1) + (5 * 2 + 2)


def test_bidirectional_and_keras2_aliases():
    keras.backend.clear_session()
    with pytest.warns(UserWarning, match="input_length"):
        emb = layers.Embedding(100, 8, input_length=20)
    model = keras.Sequential([emb, layers.Conv1D(4, 3, activation="relu"), layers.MaxPool1D(2),
                              layers.Bidirectional(layers.GRU(3)), layers.Dense(1)])
    assert model.built and model.output_shape == (None, 1)
    assert [type(l).__name__ for l in model.layers][2] == "MaxPooling1D"
    assert keras.losses.mae is keras.losses.mean_absolute_error
    assert keras.preprocessing.sequence.pad_sequences is keras.utils.pad_sequences
    with pytest.warns(UserWarning, match="learning_rate"):
        opt = keras.optimizers.RMSprop(lr=1e-4)
    model.compile(optimizer=opt, loss=keras.losses.mae)
    assert abs(model.optimizer.learning_rate - 1e-4) < 1e-9


def test_every_unsupported_argument_is_an_error_naming_it():
    with pytest.raises(ValueError, match="bogus"):
        layers.Dense(3, bogus=1)
    with pytest.raises(ValueError, match="kernel_regularizer"):
        layers.Dense(3, kernel_regularizer=keras.regularizers.l2(0.01))
    with pytest.raises(TypeError, match="positional"):
        layers.Dense(3, "relu", True, "extra", 1)
    with pytest.raises(ValueError, match="Python"):
        layers.Dense(3, activation=lambda x: x)
    with pytest.raises(NotImplementedError, match="subclassed"):
        keras.Model()
    model = lstm_model()
    with pytest.raises(ValueError, match="Python"):
        model.compile(optimizer="adam", loss=lambda y, p: (y - p) ** 2)
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(*small_ids(), class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_bad_shapes_are_value_errors_with_the_message():
    model = lstm_model()
    x, y = small_ids()
    with pytest.raises(ValueError, match="shape"):
        model.fit(x[:, :5], y, verbose=0)
    with pytest.raises(ValueError):
        model.fit(x, y[:10], verbose=0)
    import seqnet
    assert issubclass(seqnet.SeqnetError, ValueError)


# ---- training ----

def test_fit_returns_history_and_validation_data_may_be_a_list():
    keras.utils.set_random_seed(1)
    model = lstm_model()
    x, y = small_ids()
    hist = model.fit(x, y, epochs=3, batch_size=16, validation_data=[x[:32], y[:32]], verbose=0)
    assert isinstance(hist, keras.callbacks.History) and model.history is hist
    assert hist.epoch == [0, 1, 2]
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_same_seed_same_history_and_python_equals_cpp_bitwise(tmp_path):
    exe = next((p for p in (REPO / "build" / "tests" / "python_parity_fit",
                            pathlib.Path(os.environ.get("SEQNET_BUILD_DIR", "/nonexistent")) / "tests" /
                            "python_parity_fit") if p.exists()), None)
    x, y = small_ids(n=80)

    def python_history():
        keras.backend.clear_session()
        keras.utils.set_random_seed(7)
        model = keras.Sequential([keras.Input(shape=(12,), dtype="int32"), layers.Embedding(50, 8), layers.LSTM(4),
                                  layers.Dropout(0.25), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-2), loss="binary_crossentropy",
                      metrics=["acc"])
        return model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.25).history

    first, second = python_history(), python_history()
    assert first == second
    if exe is None:
        pytest.skip("the C++ half (build/tests/python_parity_fit) is not built; scripts/test.sh builds it")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = subprocess.run([str(exe), str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "7"], check=True,
                         capture_output=True, text=True).stdout
    cpp = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()}
    assert cpp == first  # bitwise: the same doubles


def test_python_callbacks_get_keras_logs_and_can_stop_training():
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("begin", self.params["epochs"]))

        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))
            logs["lr_seen"] = self.model.optimizer.learning_rate
            if epoch == 1:
                self.model.stop_training = True

    batches = []
    lam = keras.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: batches.append(logs["loss"]))
    model = lstm_model()
    x, y = small_ids()
    hist = model.fit(x, y, epochs=10, batch_size=32, validation_split=0.25, verbose=0, callbacks=[Recorder(), lam])
    assert seen[0] == ("begin", 10)
    assert seen[1] == (0, ["acc", "loss", "val_acc", "val_loss"])
    assert hist.epoch == [0, 1]  # stopped after the second epoch
    assert hist.history["lr_seen"] == pytest.approx([1e-2, 1e-2])
    assert len(batches) == 2 * 3


def test_exceptions_in_callbacks_and_generators_propagate_with_their_traceback():
    class Boom(Exception):
        pass

    class Failing(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise Boom("from the callback")

    model = lstm_model()
    x, y = small_ids()
    with pytest.raises(Boom, match="from the callback") as info:
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Failing()])
    assert any("on_train_batch_end" in str(entry.name) for entry in info.traceback)

    def bad_generator():
        yield x[:16], y[:16]
        raise Boom("from the generator")

    with pytest.raises(Boom, match="from the generator"):
        model.fit(bad_generator(), steps_per_epoch=4, epochs=1, verbose=0)
    assert model.predict(x[:2]).shape == (2, 1)  # still usable


def test_ctrl_c_stops_fit_after_the_batch_and_leaves_the_model_usable():
    class Interrupter(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                os.kill(os.getpid(), signal.SIGINT)

    model = lstm_model()
    x, y = small_ids()
    # Python's own Ctrl-C handler, which a process started in the background (CI) does not get by default.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[Interrupter()])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert model.history.epoch == []
    hist = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


def test_fit_on_a_generator_as_the_book_and_fit_generator():
    x, y = small_ids(n=64)

    def generator(batch_size=16):
        i = 0
        while True:
            rows = np.arange(i, i + batch_size) % len(x)
            i += batch_size
            yield x[rows], y[rows]

    model = lstm_model()
    hist = model.fit(generator(), steps_per_epoch=4, epochs=2, validation_data=generator(), validation_steps=2,
                     verbose=0)
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc"}
    with pytest.warns(UserWarning, match="fit_generator"):
        model.fit_generator(generator(), steps_per_epoch=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(generator(), epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="evaluate_generator"):
        loss, acc = model.evaluate_generator(generator(), steps=2)
    # A finite iterator that runs out: Keras's warning, and the epochs done are kept.
    finite = iter([(x[:16], y[:16])] * 5)
    with pytest.warns(UserWarning, match="ran out of data"):
        hist = model.fit(finite, steps_per_epoch=2, epochs=5, verbose=0)
    assert model.history.epoch == [0, 1]
    ds = keras.utils.timeseries_dataset_from_array(np.arange(40, dtype=np.float32).reshape(40, 1),
                                                   np.arange(40, dtype=np.float32), sequence_length=5,
                                                   batch_size=8)
    reg = keras.Sequential([keras.Input(shape=(5, 1)), layers.SimpleRNN(3), layers.Dense(1)])
    reg.compile(optimizer="adam", loss="mse")
    assert len(reg.fit(ds, epochs=2, verbose=0).history["loss"]) == 2


def test_the_gil_is_released_while_cpp_trains():
    model = lstm_model(t=40)
    x, y = small_ids(n=512, t=40)
    count = [0]
    done = threading.Event()

    def spin():
        while not done.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    finally:
        done.set()
        t.join()
    assert count[0] > 1000


# ---- the log ----

def test_progress_bar_in_a_pipe_is_one_line_per_epoch(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        "import numpy as np\nfrom seqnet import keras\n"
        "m = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])\n"
        "m.compile(optimizer='sgd', loss='mse')\n"
        "print('before', flush=True)\n"
        "m.fit(np.ones((256, 4)), np.ones((256, 1)), epochs=2, batch_size=8)\n"
        "print('after')\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "before" and lines[-1] == "after"
    assert lines[1] == "Epoch 1/2" and lines[3] == "Epoch 2/2"
    assert lines[2].startswith("32/32 [==============================]") and "\r" not in out
    assert len(lines) == 6


def test_progress_bar_goes_through_sys_stdout(capsys):
    model = lstm_model()
    model.fit(*small_ids(), epochs=1, batch_size=32)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "loss:" in out


# ---- files and weights ----

@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_save_and_load_model_round_trip(tmp_path, suffix):
    model = lstm_model()
    x, y = small_ids()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.learning_rate == pytest.approx(1e-2)
    loaded.fit(x, y, epochs=1, verbose=0)  # compiled as saved


def test_weights_get_set_save_load(tmp_path):
    model, other = lstm_model(), lstm_model()
    x, _ = small_ids()
    other.set_weights(model.get_weights())
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    lstm = model.get_layer(model.layers[1].name)
    kernel, recurrent, bias = lstm.get_weights()
    assert kernel.shape == (8, 16) and recurrent.shape == (4, 16) and bias.shape == (16,)
    with pytest.raises(ValueError, match="shape"):
        lstm.set_weights([kernel.T, recurrent, bias])
    model.save_weights(tmp_path / "w.weights.h5")
    third = lstm_model()
    third.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(third.predict(x), model.predict(x))
    clone = keras.models.model_from_json(model.to_json())
    assert [type(l).__name__ for l in clone.layers] == ["Embedding", "LSTM", "Dense"]


def test_predict_hands_back_numpy_without_a_copy_and_converts_inputs_once():
    model = lstm_model()
    x, _ = small_ids()
    out = model.predict(x.astype(np.int64))  # int64 ids: converted once
    assert out.dtype == np.float32 and not out.flags.owndata
    np.testing.assert_array_equal(out, model.predict(x))
    with pytest.raises(ValueError, match="int32"):
        model.predict(x.astype(np.int64) + 2**40)


# ---- data ----

def test_pad_sequences_as_keras():
    seqs = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9]]
    np.testing.assert_array_equal(keras.utils.pad_sequences(seqs, maxlen=3),
                                  [[1, 2, 3], [0, 4, 5], [0, 0, 0], [7, 8, 9]])
    np.testing.assert_array_equal(
        keras.preprocessing.sequence.pad_sequences(seqs, maxlen=3, padding="post", truncating="post", value=-1),
        [[1, 2, 3], [4, 5, -1], [-1, -1, -1], [6, 7, 8]])
    assert keras.utils.pad_sequences(seqs).shape == (4, 4)
    assert keras.utils.to_categorical([0, 2, 1]).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]


def test_imdb_load_data_as_keras():
    if not (DATA_DIR / "imdb").exists():
        pytest.skip(f"IMDB not found under {DATA_DIR} (set SEQNET_DATA_DIR)")
    (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=500)
    assert x_train.shape == (25000,) and x_test.shape == (25000,) and x_train.dtype == object
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == {0, 1}
    assert x_train[0][0] == 1 and max(max(s) for s in x_train[:100]) < 500
    padded = keras.preprocessing.sequence.pad_sequences(x_train[:10], maxlen=100)
    assert padded.shape == (10, 100) and padded.dtype == np.int32


def test_mnist_load_data_as_keras():
    if not (DATA_DIR / "mnist").exists():
        pytest.skip(f"MNIST not found under {DATA_DIR} (set SEQNET_DATA_DIR)")
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8 and x_train.max() == 255
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8


def test_built_in_callbacks_write_their_files_and_messages(tmp_path, capsys):
    model = lstm_model()
    x, y = small_ids()
    ckpt = tmp_path / "best-lstm-model.h5"
    log = tmp_path / "log.csv"
    hist = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(str(ckpt), save_best_only=True, verbose=1),
        keras.callbacks.CSVLogger(str(log)),
        keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True),
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
        keras.callbacks.TerminateOnNaN()])
    assert ckpt.exists() and log.read_text().splitlines()[0].startswith("epoch,")
    assert len(log.read_text().splitlines()) == 4
    assert hist.history["learning_rate"] == pytest.approx([5e-3, 2.5e-3, 1.25e-3])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to" in out and "saving model to" in out
    best = keras.models.load_model(ckpt)
    assert best.predict(x[:4]).shape == (4, 1)
    with pytest.raises(TypeError, match="patiense"):
        keras.callbacks.EarlyStopping(patiense=3)
    with pytest.raises(ValueError, match="unknown argument 'patiense'"):  # the C++ check behind it
        from seqnet import _core
        _core.make_callback("EarlyStopping", '{"patiense": 3}')
    with pytest.raises(ValueError, match="mode"):
        keras.callbacks.EarlyStopping(mode=3)


def test_stateful_layers_carry_states_until_reset():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inp = keras.Input(batch_shape=(2, 3, 1))
    model = keras.Model(inp, layers.Dense(1)(layers.LSTM(4, stateful=True)(inp)))
    x = np.ones((2, 3, 1), np.float32)
    first = model.predict(x, batch_size=2)
    second = model.predict(x, batch_size=2)
    assert not np.array_equal(first, second)  # the second call starts from the first's states
    model.reset_states()
    np.testing.assert_array_equal(model.predict(x, batch_size=2), first)


def test_the_bar_redraws_in_place_in_a_notebook(monkeypatch, capsys):
    import types
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    model = lstm_model()
    model.fit(*small_ids(), epochs=1, batch_size=32)
    out = capsys.readouterr().out
    assert "\r3/3 [==============================]" in out and out.endswith("\n")


def test_lambda_layers_and_python_layers_say_why_they_cannot_be_used():
    with pytest.raises(NotImplementedError, match="Lambda"):
        layers.Lambda(lambda t: t * 2)

    class MyLayer(keras.layers.Layer):
        def call(self, x):
            return x

    with pytest.raises(NotImplementedError, match="custom layers"):
        MyLayer()


def test_seqnet_warnings_are_python_warnings_and_unseeded_runs_differ():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)])
    with pytest.warns(UserWarning, match="binary_crossentropy expects probabilities"):
        model.compile(optimizer="sgd", loss="binary_crossentropy")
    script = "from seqnet import keras\nprint(keras.layers.Dense(2)(keras.Input(shape=(3,))) is not None, " \
             "keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)]).get_weights()[0].sum())"
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(runs) == 2  # fresh weights in each process, as Keras


def test_a_sequential_without_input_shape_builds_from_the_first_batch():
    keras.backend.clear_session()
    model = keras.Sequential([layers.Embedding(100, 8), layers.LSTM(4), layers.Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy", metrics=["acc"])
    x, y = small_ids(vocab=100)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.input_shape == (None, 12)
    images = keras.Sequential([layers.Flatten(), layers.Dense(3, activation="softmax")])
    images.compile("adam", "sparse_categorical_crossentropy")
    out = images.predict(np.zeros((4, 28, 28), np.uint8))  # uint8 pixels go in as float32, as Keras
    assert out.shape == (4, 3)


def test_functional_layers_list_the_input_layers_as_keras_3():
    keras.backend.clear_session()
    i = keras.Input(shape=(4,), name="features")
    model = keras.Model(i, layers.Dense(2)(layers.Dense(3)(i)))
    assert [l.name for l in model.layers] == ["features", "dense_1", "dense"]  # Dense(2) was made first
    assert model.get_layer("features").get_weights() == []
    assert model.layers[1].get_weights()[0].shape == (4, 3)
    seq = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
    assert [l.name for l in seq.layers] == ["dense_2"]  # a Sequential's do not, as in Keras 3


def test_validation_split_counts_as_keras():
    seen = {}

    class Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["batches"] = batch + 1

    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((25, 2)), np.zeros((25, 1)), batch_size=1, validation_split=0.2, verbose=0,
              callbacks=[Steps()])
    assert seen["batches"] == 20  # floor(25 * (1 - 0.2)) in double; 19 in float32


def test_a_model_used_as_a_layer_is_the_users_model_in_layers():
    keras.backend.clear_session()
    a = keras.Input(shape=(3,))
    encoder = keras.Model(a, layers.Dense(2)(a), name="encoder")
    x = keras.Input(shape=(3,))
    outer = keras.Model(x, layers.Dense(1)(encoder(x)))
    assert any(l is encoder for l in outer.layers)
    stacked = keras.Sequential([encoder, layers.Dense(1)])
    assert stacked.layers[0] is encoder


def test_another_thread_cannot_use_a_model_while_it_trains():
    model = lstm_model(t=40)
    x, y = small_ids(n=1024, t=40)
    errors = []
    started = threading.Event()

    class Signal(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            started.set()

    def use():
        started.wait(30)
        try:
            model.predict(x[:4])
        except ValueError as e:
            errors.append(str(e))

    t = threading.Thread(target=use)
    t.start()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Signal()])
    t.join()
    assert errors and "another thread" in errors[0]
    assert model.predict(x[:4]).shape == (4, 1)  # free again once fit is done


def test_more_arguments_keras_users_pass_are_honoured_or_refused():
    with pytest.raises(ValueError, match="dict"):
        i = keras.Input(shape=(2,))
        keras.Model(i, {"a": layers.Dense(1)(i)})
    model = lstm_model()
    with pytest.raises(ValueError, match="Accuracy"):
        model.compile("adam", "binary_crossentropy", metrics=[keras.metrics.Accuracy()])
    with pytest.raises(ValueError, match="batch"):
        model.fit(*small_ids(), shuffle="batch", verbose=0)
    with pytest.raises(TypeError, match="epochs"):
        model.fit(*small_ids(), epochs=2.5, verbose=0)
    with pytest.raises(ValueError, match="int32"):
        keras.utils.pad_sequences([[2**40]], dtype="int64")
    rnn = keras.Sequential([layers.GRU(3, input_dim=5), layers.Dense(1)])  # Keras 2: input_shape=(None, 5)
    assert rnn.input_shape == (None, None, 5)
    stateful = keras.Sequential([layers.LSTM(2, batch_input_shape=(4, 3, 5), stateful=True), layers.Dense(1)])
    assert stateful.input_shape == (4, 3, 5)

    class Recompile(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.compile("adam", "mse")

    with pytest.raises(ValueError, match="compile while it trains"):
        model.fit(*small_ids(), epochs=1, verbose=0, callbacks=[Recompile()])


def test_a_loaded_models_optimizer_is_the_keras_class(tmp_path):
    model = lstm_model()
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer).__name__ == "RMSprop"
    assert loaded.optimizer.learning_rate == pytest.approx(1e-2)
    loaded.compile(loaded.optimizer, "binary_crossentropy")


def test_train_on_batch_returns_keras_3_running_means():
    model = lstm_model()
    x, y = small_ids()
    before = model.evaluate(x[:32], y[:32], verbose=0, return_dict=True)
    model.reset_metrics()
    first = model.train_on_batch(x[:32], y[:32], return_dict=True)
    assert set(first) == {"loss", "acc"}
    assert first["loss"] == pytest.approx(before["loss"], rel=1e-5)  # the step's loss is taken before the update
    assert first["acc"] == pytest.approx(before["acc"])
    loss, acc = model.train_on_batch(x[32:48], y[32:48])
    assert loss != first["loss"] and 0.0 <= acc <= 1.0
    plain = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    plain.compile("sgd", "mse")
    assert isinstance(plain.train_on_batch(np.ones((4, 2)), np.ones((4, 1))), float)


def test_a_shared_sub_model_siamese_as_keras():
    keras.backend.clear_session()
    keras.utils.set_random_seed(5)
    a = keras.Input(shape=(6,))
    encoder = keras.Model(a, layers.Dense(3, activation="tanh")(a), name="encoder")
    p, q = keras.Input(shape=(6,), name="p"), keras.Input(shape=(6,), name="q")
    distance = layers.Dense(1, activation="sigmoid")(layers.subtract([encoder(p), encoder(q)]))
    model = keras.Model([p, q], distance)
    assert model.count_params() == encoder.count_params() + 4
    rng = np.random.RandomState(0)
    xp, xq = rng.rand(64, 6), rng.rand(64, 6)
    same = (np.abs(xp - xq).sum(axis=1, keepdims=True) < 2.0).astype(np.float32)
    model.compile("adam", "binary_crossentropy")
    before = encoder.get_weights()[0].copy()
    model.fit([xp, xq], same, epochs=2, verbose=0)
    assert not np.array_equal(before, encoder.get_weights()[0])  # trained through both calls
    np.testing.assert_allclose(model.predict([xp, xp])[:, 0], model.predict([xq, xq])[:, 0], rtol=1e-5)
