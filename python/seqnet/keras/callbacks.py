"""keras.callbacks: the built-in callbacks (run in C++, with Keras 3's messages) and Python callbacks
(subclasses of Callback, LambdaCallback), called with Keras's `logs` dict."""
import json
import warnings

from .. import _core


class Callback:
    """Subclass it and override the hooks you need; `self.model` is the model being trained, and setting
    `self.model.stop_training = True` ends training after the current batch."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    # Keras 2's names of the training batch hooks.
    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    # Called by evaluate and predict in Keras; seqnet's evaluate and predict do not call callbacks yet.
    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def _core_callback(self):
        """The C++ side: only the hooks this class overrides are called (each call takes the GIL)."""
        hooks = 0
        for bit, names in ((1, ("on_train_begin",)), (2, ("on_train_end",)), (4, ("on_epoch_begin",)),
                           (8, ("on_epoch_end",)), (16, ("on_train_batch_begin", "on_batch_begin")),
                           (32, ("on_train_batch_end", "on_batch_end"))):
            if any(getattr(type(self), n) is not getattr(Callback, n) for n in names):
                hooks |= bit
        return _core.python_callback(self, hooks)


class LambdaCallback(Callback):
    """Callback(on_epoch_end=lambda epoch, logs: ...), as Keras's LambdaCallback."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, on_batch_begin=None, on_batch_end=None,
                 **kwargs):
        super().__init__()
        unknown = set(kwargs) - {"on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end"}
        if unknown:
            raise TypeError(f"LambdaCallback: unexpected arguments {sorted(unknown)}")
        batch_begin = on_train_batch_begin or on_batch_begin
        batch_end = on_train_batch_end or on_batch_end
        if on_epoch_begin:
            self.on_epoch_begin = on_epoch_begin
        if on_epoch_end:
            self.on_epoch_end = on_epoch_end
        if on_train_begin:
            self.on_train_begin = on_train_begin
        if on_train_end:
            self.on_train_end = on_train_end
        if batch_begin:
            self.on_train_batch_begin = batch_begin
        if batch_end:
            self.on_train_batch_end = batch_end
        self._given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                       "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                       "on_train_batch_begin": batch_begin, "on_train_batch_end": batch_end}

    def _core_callback(self):
        hooks = 0
        for bit, name in ((1, "on_train_begin"), (2, "on_train_end"), (4, "on_epoch_begin"), (8, "on_epoch_end"),
                          (16, "on_train_batch_begin"), (32, "on_train_batch_end")):
            if self._given[name]:
                hooks |= bit
        return _core.python_callback(self, hooks)


class History(Callback):
    """What fit returns: `history.history` is a dict of lists (one value per epoch), `history.epoch` the epochs."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class _Builtin(Callback):
    """A callback run in C++ (its arguments checked there, by name)."""

    _class_name = None

    def __init__(self, **arguments):
        super().__init__()
        self._arguments = {k: v for k, v in arguments.items() if v is not None or k == "baseline"}
        self._core = _core.make_callback(self._class_name, json.dumps(self._arguments))

    def _core_callback(self):
        return self._core


class EarlyStopping(_Builtin):
    _class_name = "EarlyStopping"

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor=monitor, min_delta=min_delta, patience=patience, verbose=verbose, mode=mode,
                         baseline=baseline, restore_best_weights=restore_best_weights,
                         start_from_epoch=start_from_epoch)


class ModelCheckpoint(_Builtin):
    _class_name = "ModelCheckpoint"

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(filepath=str(filepath), monitor=monitor, verbose=verbose, save_best_only=save_best_only,
                         save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
                         initial_value_threshold=initial_value_threshold)


class ReduceLROnPlateau(_Builtin):
    _class_name = "ReduceLROnPlateau"

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        if "epsilon" in kwargs:  # Keras 2's name of min_delta
            warnings.warn("`epsilon` argument is deprecated and will be removed, use `min_delta` instead.",
                          stacklevel=2)
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments {sorted(kwargs)}")
        super().__init__(monitor=monitor, factor=factor, patience=patience, verbose=verbose, mode=mode,
                         min_delta=min_delta, cooldown=cooldown, min_lr=min_lr)


class CSVLogger(_Builtin):
    _class_name = "CSVLogger"

    def __init__(self, filename, separator=",", append=False):
        super().__init__(filename=str(filename), separator=separator, append=append)


class TerminateOnNaN(_Builtin):
    _class_name = "TerminateOnNaN"

    def __init__(self):
        super().__init__()


class LearningRateScheduler(Callback):
    """schedule(epoch, lr) -> new learning rate, set at the start of each epoch (Keras's messages and the
    `learning_rate` entry of the logs)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch alone
            lr = self.schedule(epoch)
        lr = float(lr)
        self.model.optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
