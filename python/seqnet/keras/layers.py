"""keras.layers: every layer seqnet has, with Keras's names, positional arguments and keyword arguments.

A layer is made in C++ at construction from its Keras config (so an argument seqnet cannot honour is an error
right there, naming it), and calling it on symbolic tensors adds it to the graph, as in Keras.
"""
import json
import warnings
import weakref

import numpy as np

from .. import _core
from . import activations, initializers, regularizers

# Python's view of each C++ layer, so that model.layers gives back the objects the user made.
_by_core = weakref.WeakValueDictionary()


def _none_to_minus_one(shape):
    return [-1 if d is None else int(d) for d in shape]


def _minus_one_to_none(shape):
    return tuple(None if d < 0 else int(d) for d in shape)


class KerasTensor:
    """A symbolic tensor: keras.Input(...) or the output of a layer called on symbolic tensors."""

    def __init__(self, sym):
        self._sym = sym

    @property
    def shape(self):
        return _minus_one_to_none(self._sym.shape)

    @property
    def dtype(self):
        return self._sym.dtype

    @property
    def ndim(self):
        return len(self._sym.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse=False, name=keras_tensor>"

    def _eq(self, other):
        return isinstance(other, KerasTensor) and self._sym.same_as(other._sym)

    def __array__(self, *args, **kwargs):
        raise TypeError("a symbolic KerasTensor has no values; build a keras.Model and call predict")


def Input(shape=None, batch_size=None, name=None, dtype=None, sparse=None, batch_shape=None, tensor=None,
          optional=False, ragged=None):
    """keras.Input: a symbolic input of `shape` (without the batch axis; None for an unknown length)."""
    if sparse or ragged:
        raise ValueError("Input: sparse and ragged inputs are not supported by seqnet")
    if tensor is not None or optional:
        raise ValueError("Input: `tensor` and `optional` are not supported by seqnet")
    if batch_shape is not None:
        if shape is not None:
            raise ValueError("Input: give `shape` or `batch_shape`, not both")
        batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
    if shape is None:
        raise ValueError("Input: `shape` is required")
    if isinstance(shape, int):
        shape = (shape,)
    dtype = _dtype_name(dtype or "float32")
    return KerasTensor(_core.input(_none_to_minus_one(shape), dtype, batch_size, name or ""))


def _dtype_name(dtype):
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name in ("float32", "float", "float64", "float16", "bfloat16"):
        if name != "float32" and name != "float":
            warnings.warn(f"dtype {name}: seqnet computes in float32", stacklevel=3)
        return "float32"
    if name in ("int32", "int64", "int", "int16", "int8", "uint8", "uint16"):
        return "int32"
    raise ValueError(f"dtype {name!r} is not supported (float32 or an integer type)")


def _serialize_value(value):
    if isinstance(value, tuple):
        return [_serialize_value(v) for v in value]
    if isinstance(value, list):
        return [_serialize_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, initializers.Initializer):
        return value._serialize()
    if isinstance(value, regularizers.Regularizer):
        return value._serialize()
    if isinstance(value, Layer):
        return {"class_name": value._core.class_name, "config": json.loads(value._core.get_config())}
    if callable(value):
        return activations.serialize(value)
    return value


class Layer:
    """The base of seqnet's layers. Layers with Python code of their own (a `call` written in Python) are not
    supported: seqnet computes every forward and backward pass in C++."""

    _class_name = None

    def __init__(self, **kwargs):
        if type(self)._class_name is None:
            raise NotImplementedError(
                "custom layers written in Python (subclasses of keras.layers.Layer with their own call()) are not "
                "supported: seqnet computes every layer's forward and backward pass in C++ (docs/python.md)")
        self._pending_weights = kwargs.pop("weights", None)
        # Keras 2's batch_input_shape= (stateful models): the Sequential it joins first gets an Input with it.
        self._batch_input_shape = kwargs.pop("batch_input_shape", None)
        if self._batch_input_shape is not None:
            kwargs.setdefault("input_shape", tuple(self._batch_input_shape[1:]))
        dtype = kwargs.pop("dtype", None)
        if dtype is not None and not isinstance(dtype, dict):
            if _dtype_name(dtype) != "float32":
                raise ValueError(f"{self._class_name}: dtype {dtype!r} is not supported: seqnet's layers compute "
                                 "in float32")
        config = {k: _serialize_value(v) for k, v in kwargs.items()}
        core = _core.make_layer(self._class_name, json.dumps(config))
        self._bind(core)

    def _bind(self, core):
        self._core = core
        _by_core[_core_key(core)] = self

    @classmethod
    def _wrap(cls, core):
        """The Python layer of a C++ layer (one made by load_model, or inside a Bidirectional)."""
        found = _by_core.get(_core_key(core))
        if found is not None:
            return found
        layer_cls = _CLASSES.get(core.class_name, Layer)
        obj = layer_cls.__new__(layer_cls)
        obj._pending_weights = None
        obj._batch_input_shape = None
        obj._bind(core)
        return obj

    # ---- calling ----
    def __call__(self, inputs, initial_state=None, mask=None, training=None, **kwargs):
        if mask is not None:
            raise ValueError(f"layer '{self.name}': an explicit `mask` argument is not supported; masks flow from "
                             "Embedding(mask_zero=True) and Masking")
        if training is not None:
            raise ValueError(f"layer '{self.name}': `training=` in a call is not supported; dropout is on in fit "
                             "and off in evaluate and predict")
        if kwargs:
            raise ValueError(f"layer '{self.name}': unsupported call arguments {sorted(kwargs)}")
        as_list = isinstance(inputs, (list, tuple))
        xs = list(inputs) if as_list else [inputs]
        for x in xs:
            if not isinstance(x, KerasTensor):
                raise TypeError(f"layer '{self.name}' was called on {type(x).__name__}: seqnet layers are called on "
                                "symbolic tensors (keras.Input and layer outputs); to compute on arrays, build a "
                                "keras.Model and call predict")
        states = []
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if as_list and len(xs) > 1 and not self._takes_list and not states:
            # Keras's RNN(x, [h, c]) spelling: the first tensor is the input, the rest its initial states.
            xs, states = xs[:1], xs[1:]
            as_list = False
        elif as_list and len(xs) == 1 and not self._takes_list:
            as_list = False
        outputs = _core.call_layer(self._core, [x._sym for x in xs], as_list, [s._sym for s in states])
        self._apply_pending_weights()
        wrapped = [KerasTensor(o) for o in outputs]
        return wrapped[0] if len(wrapped) == 1 else wrapped

    _takes_list = False

    def _apply_pending_weights(self):
        if self._pending_weights is not None and self._core.built:
            weights, self._pending_weights = self._pending_weights, None
            self.set_weights(weights)

    # ---- Keras's layer attributes ----
    @property
    def name(self):
        return self._core.name

    @property
    def trainable(self):
        return self._core.trainable

    @trainable.setter
    def trainable(self, value):
        self._core.trainable = bool(value)

    @property
    def built(self):
        return self._core.built

    @property
    def dtype(self):
        return "float32"

    def get_config(self):
        return json.loads(self._core.get_config())

    @classmethod
    def from_config(cls, config):
        obj = cls.__new__(cls)
        obj._pending_weights = None
        obj._batch_input_shape = None
        obj._bind(_core.make_layer(cls._class_name, json.dumps(config)))
        return obj

    def get_weights(self):
        return self._core.get_weights()

    def set_weights(self, weights):
        self._core.set_weights([np.ascontiguousarray(w, dtype=np.float32) for w in weights])

    @property
    def weights(self):
        return self.get_weights()

    def count_params(self):
        return self._core.count_params()

    @property
    def input_shape(self):
        shapes = [_minus_one_to_none(s) for s in self._core.input_shapes()]
        if not shapes:
            raise AttributeError(f"layer '{self.name}' has not been called yet, so it has no input shape")
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [_minus_one_to_none(s) for s in self._core.output_shapes()]
        if not shapes:
            raise AttributeError(f"layer '{self.name}' has not been called yet, so it has no output shape")
        return shapes[0] if len(shapes) == 1 else shapes

    def reset_states(self):
        """A stateful recurrent layer forgets the states it carries from batch to batch."""
        _core.reset_states(self._core)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _core_key(core):
    return core.address()


def _layer(class_name, positional, defaults=None, takes_list=False, doc=None):
    """A Keras layer class: `positional` are the names of its positional arguments, in Keras's order."""
    defaults = defaults or {}

    def __init__(self, *args, **kwargs):
        if len(args) > len(positional):
            raise TypeError(f"{class_name}() takes at most {len(positional)} positional arguments "
                            f"({', '.join(positional) or 'none'}), got {len(args)}")
        for name, value in zip(positional, args):
            if name in kwargs:
                raise TypeError(f"{class_name}() got multiple values for argument '{name}'")
            kwargs[name] = value
        for name, value in defaults.items():
            kwargs.setdefault(name, value)
        _keras2_arguments(class_name, kwargs)
        Layer.__init__(self, **kwargs)

    cls = type(class_name, (Layer,), {"__init__": __init__, "_class_name": class_name, "_takes_list": takes_list,
                                      "__doc__": doc or f"keras.layers.{class_name}"})
    _CLASSES[class_name] = cls
    return cls


def _keras2_arguments(class_name, kwargs):
    """Keras 2 spellings Keras 3 still meets in the notes and the book, honoured with Keras 3's warnings."""
    if "input_length" in kwargs:
        warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=3)
    if "input_dim" in kwargs and class_name != "Embedding":
        # Keras 2: Dense(32, input_dim=784) is input_shape=(784,); a sequence layer's is (input_length, input_dim).
        dim = kwargs.pop("input_dim")
        shape = (dim,) if class_name == "Dense" else (kwargs.pop("input_length", None), dim)
        kwargs.setdefault("input_shape", shape)
    if class_name in ("Dropout", "SpatialDropout1D", "GaussianNoise") and kwargs.get("seed") is not None:
        warnings.warn(f"{class_name}(seed={kwargs['seed']}): seqnet draws dropout and noise from the model's stream "
                      "(keras.utils.set_random_seed); the layer's own seed is not used", stacklevel=3)
        kwargs.pop("seed")
    if ("input_shape" in kwargs or "batch_input_shape" in kwargs) and class_name != "InputLayer":
        warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential models, "
                      "prefer using an `Input(shape)` object as the first layer in the model instead.", stacklevel=3)
    for alias, name in (("init", "kernel_initializer"), ("inner_init", "recurrent_initializer"),
                        ("dropout_W", "dropout"), ("dropout_U", "recurrent_dropout")):
        if alias in kwargs:
            raise TypeError(f"{class_name}: argument '{alias}' is Keras 1's; use '{name}'")


_CLASSES = {}

Dense = _layer("Dense", ["units"])
Embedding = _layer("Embedding", ["input_dim", "output_dim"])
Flatten = _layer("Flatten", [])
Reshape = _layer("Reshape", ["target_shape"])
Dropout = _layer("Dropout", ["rate"])
Activation = _layer("Activation", ["activation"])
Conv1D = _layer("Conv1D", ["filters", "kernel_size"])
MaxPooling1D = _layer("MaxPooling1D", ["pool_size", "strides", "padding"])
AveragePooling1D = _layer("AveragePooling1D", ["pool_size", "strides", "padding"])
GlobalMaxPooling1D = _layer("GlobalMaxPooling1D", [])
GlobalAveragePooling1D = _layer("GlobalAveragePooling1D", [])
SimpleRNN = _layer("SimpleRNN", ["units"])
LSTM = _layer("LSTM", ["units"])
GRU = _layer("GRU", ["units"])
Bidirectional = _layer("Bidirectional", ["layer", "merge_mode", "weights", "backward_layer"])
TimeDistributed = _layer("TimeDistributed", ["layer"])
Masking = _layer("Masking", ["mask_value"])
Normalization = _layer("Normalization", ["axis", "mean", "variance", "invert"])
Add = _layer("Add", [], takes_list=True)
Subtract = _layer("Subtract", [], takes_list=True)
Multiply = _layer("Multiply", [], takes_list=True)
Average = _layer("Average", [], takes_list=True)
Maximum = _layer("Maximum", [], takes_list=True)
Minimum = _layer("Minimum", [], takes_list=True)
Concatenate = _layer("Concatenate", ["axis"], takes_list=True)
Dot = _layer("Dot", ["axes", "normalize"], takes_list=True)
RepeatVector = _layer("RepeatVector", ["n"])
Permute = _layer("Permute", ["dims"])
Cropping1D = _layer("Cropping1D", ["cropping"])
ZeroPadding1D = _layer("ZeroPadding1D", ["padding"])
UpSampling1D = _layer("UpSampling1D", ["size"])
SpatialDropout1D = _layer("SpatialDropout1D", ["rate"])
GaussianNoise = _layer("GaussianNoise", ["stddev"])
LayerNormalization = _layer("LayerNormalization", ["axis", "epsilon"])

# Keras's aliases (Keras 2's names among them).
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
Convolution1D = Conv1D
for _alias in ("MaxPool1D", "AvgPool1D", "GlobalMaxPool1D", "GlobalAvgPool1D"):
    _CLASSES[_alias] = globals()[_alias]


class Lambda:
    """keras.layers.Lambda wraps Python code, which seqnet cannot differentiate: it raises, saying so."""

    def __init__(self, function=None, *args, **kwargs):
        raise NotImplementedError("Lambda layers run Python code inside the model, which seqnet cannot compute "
                                  "or differentiate in C++; use a built-in layer (docs/python.md)")


class InputLayer:
    """keras.layers.InputLayer(shape=...) as the first element of a Sequential (Keras 2's input_shape= too)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None, batch_input_shape=None,
                 **kwargs):
        if kwargs:
            raise TypeError(f"InputLayer: unsupported arguments {sorted(kwargs)}")
        if shape is None and input_shape is not None:
            shape = input_shape
        if batch_input_shape is not None:
            batch_size, shape = batch_input_shape[0], tuple(batch_input_shape[1:])
        self._tensor = Input(shape=shape, batch_size=batch_size, dtype=dtype, name=name)

    @property
    def output(self):
        return self._tensor


# The functional spellings of the merge layers: keras.layers.concatenate([a, b]).
def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
