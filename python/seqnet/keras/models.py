"""keras.Model (functional), keras.Sequential and the Keras workflow on them: compile, fit (arrays or a
generator), evaluate, predict, summary, save / load, weights."""
import collections.abc
import json
import warnings

import numpy as np

from .. import _core
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .layers import Input, KerasTensor, Layer, InputLayer, _minus_one_to_none, _none_to_minus_one


class _OutOfData(Exception):
    """A generator ran out before steps_per_epoch * epochs batches (Keras warns and stops)."""


class Model:
    """keras.Model(inputs, outputs, name=None): a functional model of symbolic tensors."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if inputs is None or outputs is None:
            raise NotImplementedError(
                "subclassed models (class MyModel(keras.Model) with a Python call()) are not supported: seqnet "
                "computes forward and backward passes in C++; build the model with keras.Input and layer calls, "
                "or keras.Sequential (docs/python.md)")
        if kwargs.pop("trainable", True) is False:
            raise ValueError("Model(trainable=False): set model.trainable = False after building it")
        if kwargs:
            raise TypeError(f"Model: unexpected arguments {sorted(kwargs)}")
        if isinstance(outputs, dict):
            raise ValueError("Model: outputs as a dict are not supported by seqnet; pass a list (the outputs are "
                             "named after the layers that give them)")
        self._single_input = not isinstance(inputs, (list, tuple, dict))
        self._single_output = not isinstance(outputs, (list, tuple))
        if isinstance(inputs, dict):  # Keras flattens a dict of inputs in the order of its sorted keys
            inputs = [inputs[k] for k in sorted(inputs)]
        ins = [inputs] if self._single_input else list(inputs)
        outs = [outputs] if self._single_output else list(outputs)
        for t in ins + outs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be symbolic tensors (keras.Input, layer outputs), "
                                f"got {type(t).__name__}")
        self._inputs, self._outputs = ins, outs
        self._init_core(_core.Model([t._sym for t in ins], [t._sym for t in outs], name or ""))

    def _init_core(self, core):
        self._core = core
        self._optimizer = None
        self.history = None
        self._compiled_loss = None
        self._loss_tracker = [0.0, 0.0]  # Keras's loss tracker: the running sum and count train_on_batch reports

    @classmethod
    def _from_core(cls, core):
        model = (Sequential if core.class_name == "Sequential" else Model).__new__(
            Sequential if core.class_name == "Sequential" else Model)
        model._init_core(core)
        model._single_input = core.num_inputs() == 1
        model._single_output = core.num_outputs() == 1
        model._inputs = model._outputs = None
        if core.compiled:
            model._optimizer = _optimizer_from_config(json.loads(core.optimizer_config()))
            model._optimizer._model = model
        return model

    # ---- Keras's model attributes ----
    @property
    def name(self):
        return self._core.name

    @property
    def layers(self):
        if self._core.class_name == "Sequential":  # the layers added so far, built or not
            return [_as_model(Layer._wrap(c)) for c in self._core.sequential_layers()]
        # Keras 3's functional models list their InputLayers too, in their places.
        return [_InputLayerView(name) if core is None else _as_model(Layer._wrap(core))
                for name, core in self._core.layers_with_inputs()]

    def get_layer(self, name=None, index=None):
        if index is not None:
            layers = self.layers
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has {len(layers)} "
                                 "layers.")
            return layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")

    @property
    def inputs(self):
        return self._inputs

    @property
    def outputs(self):
        return self._outputs

    @property
    def input_names(self):
        return self._core.input_names()

    @property
    def output_names(self):
        return self._core.output_names()

    @property
    def input_shape(self):
        self._require_built("input_shape")
        shapes = [_minus_one_to_none(self._core.input_shape(i)) for i in range(self._core.num_inputs())]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        self._require_built("output_shape")
        shapes = [_minus_one_to_none(self._core.output_shape(i)) for i in range(self._core.num_outputs())]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def built(self):
        return self._core.built

    @property
    def trainable(self):
        return all(layer.trainable for layer in self.layers)

    @trainable.setter
    def trainable(self, value):
        for layer in self.layers:
            layer.trainable = value

    @property
    def stop_training(self):
        return self._core.stop_training

    @stop_training.setter
    def stop_training(self, value):
        self._core.stop_training = bool(value)

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def metrics_names(self):
        return ["loss"] + self._core.metric_names()

    def _require_built(self, what):
        if not self._core.built:
            raise ValueError(f"model '{self.name}' is not built yet, so it has no {what}: give the first layer an "
                             "input shape (keras.Input or input_shape=) or call fit, build or predict first")

    # ---- compile ----
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, **kwargs):
        if kwargs:
            raise TypeError(f"compile: unexpected arguments {sorted(kwargs)}")
        if weighted_metrics:
            raise ValueError("compile: weighted_metrics are not supported by seqnet")
        if steps_per_execution != 1:
            raise ValueError("compile: steps_per_execution other than 1 is not supported by seqnet")
        if loss is None:
            raise ValueError("compile: seqnet needs a loss (models with add_loss do not exist here)")
        opt = optimizers_module.get(optimizer)
        outputs = self._core.output_names() if self._core.built else []
        per_output = isinstance(loss, (dict, list, tuple)) or isinstance(metrics, dict) or (
            isinstance(metrics, (list, tuple)) and any(isinstance(m, (list, tuple, dict)) for m in metrics)) or \
            loss_weights is not None
        if per_output and not self._core.built:
            self._require_built("compile with losses, weights or metrics per output")
        losses = [json.dumps(losses_module.serialize(l)) for l in self._per_output(loss, outputs, "loss")] \
            if per_output else [json.dumps(losses_module.serialize(loss))]
        weights = [float(w) for w in self._per_output(loss_weights, outputs, "loss_weights")] \
            if loss_weights is not None else []
        if metrics is None:
            metric_lists = [[] for _ in outputs] if per_output else [[]]
        elif per_output and (isinstance(metrics, dict) or any(isinstance(m, (list, tuple)) for m in metrics)):
            metric_lists = [[metrics_module.serialize(m) for m in (ms if isinstance(ms, (list, tuple)) else [ms])]
                            if ms is not None else [] for ms in self._per_output(metrics, outputs, "metrics")]
        elif per_output:
            metric_lists = [[metrics_module.serialize(m) for m in metrics] for _ in outputs]
        else:
            metric_lists = [[metrics_module.serialize(m) for m in metrics]]
        if per_output and len(outputs) == 1:  # a one-output model given lists: the C++ compile of one output
            per_output = False
            metric_lists = metric_lists[:1]
        self._core.compile(json.dumps(opt._serialize()), losses, weights, metric_lists, per_output)
        self._optimizer = opt
        opt._model = self
        self._compiled_loss = loss

    @staticmethod
    def _per_output(value, outputs, what):
        if isinstance(value, dict):
            unknown = set(value) - set(outputs)
            if unknown:
                raise ValueError(f"compile: {what} names {sorted(unknown)}, which are not outputs of the model "
                                 f"(outputs: {outputs})")
            return [value.get(name) for name in outputs]
        if isinstance(value, (list, tuple)):
            if len(value) != len(outputs):
                raise ValueError(f"compile: {what} has {len(value)} entries for a model of {len(outputs)} outputs")
            return list(value)
        return [value for _ in outputs]

    # ---- data ----
    def _input_dtypes(self, xs):
        if self._core.built:
            return [np.int32 if self._core.input_dtype(i) == "int32" else np.float32
                    for i in range(self._core.num_inputs())]
        # Not built yet (a Sequential given no input shape): ids for an Embedding first, else values.
        layers = self._core.layers()
        first = layers[0].class_name if layers else ""
        return [np.int32 if first == "Embedding" else np.float32 for _ in xs]

    def _as_list(self, data, names, what):
        if isinstance(data, dict):
            missing = [n for n in names if n not in data]
            if missing or len(data) != len(names):
                raise ValueError(f"{what}: the dict's keys {sorted(data)} must be the model's {what} names {names}")
            return [data[n] for n in names]
        if isinstance(data, (list, tuple)) and len(names) > 1:
            if len(data) != len(names):
                raise ValueError(f"{what}: expected {len(names)} arrays (one per model {what}), got {len(data)}")
            return list(data)
        if isinstance(data, (list, tuple)) and len(data) == 1 and isinstance(data[0], np.ndarray):
            return [data[0]]
        return [data]

    def _num_samples(self, x):
        """The samples in x, read as _xs reads it, without converting it."""
        if isinstance(x, dict):
            return len(next(iter(x.values())))
        if isinstance(x, (list, tuple)) and (self._core.num_inputs() > 1 or
                                             (len(x) == 1 and isinstance(x[0], np.ndarray))):
            return len(x[0])
        return len(x)

    def _xs(self, x, what="input"):
        names = self._core.input_names() if self._core.built else ["input"]
        xs = self._as_list(x, names, what)
        return [_contiguous(a, dt, what) for a, dt in zip(xs, self._input_dtypes(xs))]

    def _ys(self, y, what="target"):
        names = self._core.output_names() if self._core.built else ["output"]
        ys = self._as_list(y, names, what)
        return [_contiguous(a, np.float32, what) for a in ys]

    def _callbacks(self, callbacks, params):
        history = callbacks_module.History()
        core = []
        # History last, as in Keras: what the user's callbacks add to the logs is in the history.
        for cb in list(callbacks or []) + [history]:
            if not isinstance(cb, callbacks_module.Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback objects, got {type(cb).__name__}")
            cb.set_model(self)
            cb.set_params(params)
            core.append(cb._core_callback())
        return history, core

    # ---- fit ----
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        if class_weight is not None or sample_weight is not None:
            raise ValueError("fit: class_weight and sample_weight are not supported by seqnet yet")
        if validation_freq != 1:
            raise ValueError("fit: validation_freq other than 1 is not supported by seqnet")
        if self._optimizer is None:
            raise RuntimeError("You must call `compile()` before using the model.")
        if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool):
            raise TypeError(f"fit: epochs must be an integer, got {epochs!r}")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
        if shuffle == "batch":
            raise ValueError('fit: shuffle="batch" is not supported by seqnet (True shuffles the whole set)')
        options = _core.FitOptions()
        options.epochs = int(epochs)
        options.verbose = 1 if verbose == "auto" else int(verbose)
        options.initial_epoch = int(initial_epoch)
        options.shuffle = bool(shuffle)
        generator = _is_generator(x)
        if generator:
            if y is not None:
                raise ValueError("fit: `y` must not be given when `x` is a generator or dataset of (x, y) batches")
            if validation_split:
                raise ValueError("fit: validation_split is not available when `x` is a generator")
            steps = steps_per_epoch if steps_per_epoch is not None else _length(x, "fit", "steps_per_epoch")
            options.steps_per_epoch = int(steps)
            params = {"verbose": options.verbose, "epochs": options.epochs, "steps": options.steps_per_epoch}
        else:
            if x is None or y is None:
                raise ValueError("fit: give x and y (or a generator of (x, y) batches as x)")
            if steps_per_epoch is not None:
                raise ValueError("fit: steps_per_epoch is for generators; with arrays, use batch_size")
            xs, ys = self._xs(x), self._ys(y)
            options.batch_size = int(batch_size or 32)
            options.validation_split = float(validation_split)
            n = len(xs[0])
            train_n = int(np.floor(n * (1.0 - float(validation_split)))) if validation_split else n
            params = {"verbose": options.verbose, "epochs": options.epochs,
                      "steps": -(-train_n // options.batch_size)}
        # validation_batch_size changes no result (the validation loss is a mean over every sample) and is let be.
        val_next, val_x, val_y = None, [], []
        if validation_data is not None:
            if _is_generator(validation_data):
                vsteps = validation_steps if validation_steps is not None else _length(
                    validation_data, "fit", "validation_steps")
                options.validation_steps = int(vsteps)
                val_next = _batch_reader(validation_data, self, "validation_data", repeat=True)
            else:
                if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                    raise ValueError("fit: validation_data must be (x_val, y_val) or a generator of batches")
                if len(validation_data) == 3 and validation_data[2] is not None:
                    raise ValueError("fit: validation sample weights are not supported by seqnet yet")
                val_x, val_y = self._xs(validation_data[0], "validation input"), self._ys(validation_data[1],
                                                                                          "validation target")
        history, core_callbacks = self._callbacks(callbacks, params)
        history.set_model(self)
        self.history = history
        try:
            if generator:
                self._core.fit_generator(_batch_reader(x, self, "fit", repeat=False), options, core_callbacks,
                                         val_next, val_x, val_y)
            else:
                self._core.fit(xs, ys, options, core_callbacks, val_x, val_y)
        except _OutOfData:
            warnings.warn("Your input ran out of data; interrupting training. Make sure that your dataset or "
                          "generator can generate at least `steps_per_epoch * epochs` batches.", stacklevel=2)
        if history.history.get("loss"):
            self._track_loss(history.history["loss"][-1], params["steps"] if generator else train_n)
        return history

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, validation_freq=1, class_weight=None,
                      max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """Keras 2's name (the book's): fit on a generator."""
        warnings.warn("`Model.fit_generator` is deprecated and will be removed in a future version. Please use "
                      "`Model.fit`, which supports generators.", stacklevel=2)
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        validation_freq=validation_freq, class_weight=class_weight, shuffle=shuffle,
                        initial_epoch=initial_epoch)

    # ---- evaluate / predict ----
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        if sample_weight is not None:
            raise ValueError("evaluate: sample_weight is not supported by seqnet yet")
        if kwargs:
            raise TypeError(f"evaluate: unexpected arguments {sorted(kwargs)}")
        if self._optimizer is None:
            raise RuntimeError("You must call `compile()` before using the model.")
        if callbacks:
            raise ValueError("evaluate: callbacks are not called by seqnet's evaluate")
        if _is_generator(x):
            count = int(steps if steps is not None else _length(x, "evaluate", "steps"))
            items = self._core.evaluate_generator(_batch_reader(x, self, "evaluate", repeat=False), count)
        else:
            if steps is not None:
                raise ValueError("evaluate: steps is for generators; with arrays, every sample is evaluated")
            xs = self._xs(x)  # converted once
            count = len(xs[0])
            items = self._core.evaluate(xs, self._ys(y), int(batch_size or 32),
                                        1 if verbose == "auto" else int(verbose))
        logs = dict(items)
        if "loss" in logs:
            self._track_loss(logs["loss"], count)
        if return_dict:
            return logs
        values = [v for _, v in items]
        return values[0] if len(values) == 1 else values

    def evaluate_generator(self, generator, steps=None, **kwargs):
        warnings.warn("`Model.evaluate_generator` is deprecated and will be removed in a future version. Please "
                      "use `Model.evaluate`, which supports generators.", stacklevel=2)
        return self.evaluate(generator, steps=steps, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        if _is_generator(x):
            raise ValueError("predict: seqnet predicts on arrays; concatenate the generator's batches first")
        if steps is not None or callbacks:
            raise ValueError("predict: steps and callbacks are not supported by seqnet's predict")
        outputs = self._core.predict(self._xs(x), int(batch_size or 32))
        return outputs[0] if len(outputs) == 1 else outputs

    def __call__(self, inputs, training=None, **kwargs):
        if isinstance(inputs, KerasTensor) or (isinstance(inputs, (list, tuple)) and inputs and
                                               all(isinstance(t, KerasTensor) for t in inputs)):
            if training is not None:
                raise ValueError("calling a model with training= is not supported by seqnet")
            # One layer per model, so that calling it twice shares it (as Keras) rather than copying it.
            if getattr(self, "_as_layer", None) is None:
                self._as_layer = _NestedModelLayer(self)
            return self._as_layer(inputs, **kwargs)
        if training or kwargs:
            raise ValueError("model(x) on arrays runs predict (inference); training= and other arguments are "
                             "not supported")
        return self.predict(inputs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """As Keras 3: the running means of the loss and of each metric since they were last reset (by fit's
        epochs, evaluate or reset_metrics), after one step on this batch."""
        if sample_weight is not None or class_weight is not None:
            raise ValueError("train_on_batch: sample_weight and class_weight are not supported by seqnet yet")
        if self._optimizer is None:
            raise RuntimeError("You must call `compile()` before using the model.")
        xs, ys = self._xs(x), self._ys(y)
        loss = self._core.train_on_batch(xs, ys)
        n = float(len(xs[0]))
        self._loss_tracker[0] += loss * n
        self._loss_tracker[1] += n
        logs = {"loss": self._loss_tracker[0] / self._loss_tracker[1]}
        logs.update(self._core.metric_results())
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def reset_metrics(self):
        self._loss_tracker = [0.0, 0.0]
        self._core.reset_metrics()

    def _track_loss(self, mean, count):
        """Where fit and evaluate leave Keras's loss tracker (its mean over their last pass)."""
        self._loss_tracker = [mean * count, float(count)] if count else [0.0, 0.0]

    def test_on_batch(self, x, y=None, return_dict=False):
        return self.evaluate(x, y, batch_size=self._num_samples(x), verbose=0, return_dict=return_dict)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=self._num_samples(x))

    # ---- summary, configs, files ----
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        if positions is not None or expand_nested or show_trainable or layer_range is not None:
            raise ValueError("summary: positions, expand_nested, show_trainable and layer_range are not supported "
                             "by seqnet")
        text = self._core.summary_string(int(line_length or 0))
        if print_fn is not None:
            print_fn(text.rstrip("\n"))
        else:
            import sys
            sys.stdout.write(text)
            sys.stdout.flush()

    def to_json(self, indent=None, **kwargs):
        if kwargs:
            raise TypeError(f"to_json: unexpected arguments {sorted(kwargs)}")
        return self._core.to_json(-1 if indent is None else int(indent))

    def get_config(self):
        return json.loads(self.to_json())["config"]

    def count_params(self):
        return self._core.count_params()

    def get_weights(self):
        return self._core.get_weights()

    def set_weights(self, weights):
        self._core.set_weights([np.ascontiguousarray(w, dtype=np.float32) for w in weights])

    @property
    def weights(self):
        return self.get_weights()

    def save(self, filepath, overwrite=True, **kwargs):
        import os
        if kwargs.pop("include_optimizer", True) is not True or kwargs:
            raise ValueError(f"save: {sorted(kwargs) or ['include_optimizer']} not supported by seqnet (the file's "
                             "format follows its extension: .keras or .h5)")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        self._core.save(os.fspath(filepath))

    def save_weights(self, filepath, overwrite=True):
        import os
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        self._core.save_weights(os.fspath(filepath))

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        import os
        if kwargs:
            raise ValueError(f"load_weights: {sorted(kwargs)} not supported by seqnet (weights load by position, "
                             "as Keras 3 does)")
        if skip_mismatch:
            raise ValueError("load_weights: skip_mismatch is not supported by seqnet")
        self._core.load_weights(os.fspath(filepath))

    def reset_states(self):
        """Keras 2's model.reset_states(): every stateful recurrent layer forgets its carried states."""
        for core in self._core.layers():
            if core.class_name in ("SimpleRNN", "LSTM", "GRU", "Bidirectional"):
                _core.reset_states(core)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class Sequential(Model):
    """keras.Sequential(layers=None, name=None): a stack of layers, with .add and .pop."""

    def __init__(self, layers=None, name=None, trainable=True):
        self._init_core(_core.Sequential(name or ""))
        self._single_input = self._single_output = True
        self._inputs = self._outputs = None
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False

    def add(self, layer):
        if isinstance(layer, KerasTensor):
            self._core.add_input(layer._sym)
            self._inputs = [layer]
        elif isinstance(layer, InputLayer):
            self._core.add_input(layer.output._sym)
            self._inputs = [layer.output]
        elif isinstance(layer, Model):
            if layer.built and not self._core.sequential_layers() and self._inputs is None:
                # A built model first: the Sequential takes its input, as Keras builds it at once.
                self.add(Input(shape=layer._core.input_shape(0)[1:], dtype=layer._core.input_dtype(0)))
            if getattr(layer, "_as_layer", None) is None:
                layer._as_layer = _NestedModelLayer(layer)
            self._core.add(layer._as_layer._core)
        elif isinstance(layer, Layer):
            batch_shape = getattr(layer, "_batch_input_shape", None)
            if batch_shape is not None and not self._core.layers() and self._inputs is None:
                # Keras 2's batch_input_shape= on the first layer (stateful models): an Input with a batch size.
                self.add(Input(batch_shape=batch_shape))
            self._core.add(layer._core)
            layer._apply_pending_weights()
        else:
            raise TypeError(f"Only instances of `keras.Layer` can be added to a Sequential model. Received: {layer!r}")

    def build(self, input_shape=None):
        if input_shape is None:
            raise ValueError("build: give the input shape, with the batch axis: build((None, 100))")
        self._core.build(_none_to_minus_one(tuple(input_shape)[1:]), "float32")
        for layer in self.layers:
            layer._apply_pending_weights()


class _NestedModelLayer(Layer):
    """A model called on symbolic tensors inside another model (Keras: a model used as a layer)."""

    def __init__(self, model):
        self._pending_weights = None
        self._model = model
        self._bind(_core.as_layer(model._core))


def _as_model(layer):
    """In model.layers, a model used as a layer is the user's model object, as in Keras."""
    return getattr(layer, "_model", None) or layer


class _InputLayerView:
    """An InputLayer in a functional model's layers: a name, no weights."""

    def __init__(self, name):
        self.name = name
        self.trainable = True
        self.built = True

    def get_weights(self):
        return []

    def set_weights(self, weights):
        if weights:
            raise ValueError(f"InputLayer '{self.name}' has no weights")

    def count_params(self):
        return 0

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<InputLayer name={self.name}>"


def _optimizer_from_config(config):
    """The Python optimizer of a loaded model, from the C++ optimizer's Keras get_config()."""
    name = str(config.get("name", config.get("class_name", ""))).lower()
    cls = optimizers_module._BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"a loaded model's optimizer {name!r} is not one seqnet.keras knows")
    opt = cls.__new__(cls)
    opt._config = {k: config[k] for k in list(cls._defaults) + ["clipnorm", "clipvalue", "global_clipnorm"]
                   if config.get(k) is not None}
    opt._model = None
    return opt


def _contiguous(a, dtype, what):
    if isinstance(a, KerasTensor):
        raise TypeError(f"{what}: a symbolic tensor has no values")
    arr = np.asarray(a)
    if arr.dtype == object:
        raise ValueError(f"{what}: an array of Python objects (ragged lists?) cannot be fed to the model; pad them "
                         "first (keras.utils.pad_sequences)")
    if dtype is np.int32 and arr.dtype != np.int32:
        if np.issubdtype(arr.dtype, np.integer) and arr.size and (arr.max() > 2**31 - 1 or arr.min() < -2**31):
            raise ValueError(f"{what}: integer values beyond int32 ({arr.min()}..{arr.max()})")
        if np.issubdtype(arr.dtype, np.floating) and arr.size and not np.all(np.isfinite(arr)):
            raise ValueError(f"{what}: non-finite values where the model takes integer ids")
    return np.ascontiguousarray(arr, dtype=dtype)


def _is_generator(x):
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)) or hasattr(x, "__array__"):
        return False
    return isinstance(x, collections.abc.Iterator) or isinstance(x, collections.abc.Iterable) or (
        hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def _length(x, method, what):
    try:
        return len(x)
    except TypeError:
        raise ValueError(f"{method}: `{what}` is required when the data is a generator or iterator without a "
                         "length (the book's generators run forever)") from None


def _batch_reader(source, model, what, repeat):
    """A function returning the next (x, y) batch of `source`, converted once to the model's dtypes. A re-iterable
    source (a list, a Sequence, a dataset) starts over at its end; an iterator that ends stops training."""
    state = {"it": iter(source)}
    reiterable = state["it"] is not source

    def next_batch():
        try:
            batch = next(state["it"])
        except StopIteration:
            if not reiterable:
                raise _OutOfData() from None
            state["it"] = iter(source)
            try:
                batch = next(state["it"])
            except StopIteration:
                raise ValueError(f"{what}: the data yields no batches") from None
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(f"{what}: each batch must be an (x, y) tuple, got {type(batch).__name__}")
        if len(batch) == 3 and batch[2] is not None:
            raise ValueError(f"{what}: sample weights in batches are not supported by seqnet yet")
        xs, ys = model._xs(batch[0], f"{what} batch input"), model._ys(batch[1], f"{what} batch target")
        if len(xs) != 1 or len(ys) != 1:
            raise ValueError(f"{what}: generators feed models of one input and one output in seqnet")
        return xs[0], ys[0]

    return next_batch


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A .keras or .h5 model file (Keras 3 or Keras 2), compiled as saved when `compile`."""
    import os
    if custom_objects:
        raise ValueError("load_model: custom_objects are not supported: seqnet reads Keras's built-in layers only")
    return Model._from_core(_core.load_model(os.fspath(filepath), bool(compile)))


def model_from_json(json_string, custom_objects=None):
    if custom_objects:
        raise ValueError("model_from_json: custom_objects are not supported")
    return Model._from_core(_core.model_from_json(json_string))


def clone_model(model):
    return model_from_json(model.to_json())
