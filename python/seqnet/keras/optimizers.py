"""keras.optimizers: SGD, RMSprop, Adam, AdamW, Adagrad with Keras 3's defaults, by object or by name."""
import warnings


class Optimizer:
    _defaults = {}

    def __init__(self, **kwargs):
        if "lr" in kwargs:
            # Keras 2's spelling (the book's RMSprop(lr=1e-4)); Keras 3 raises on it.
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.", stacklevel=3)
            kwargs["learning_rate"] = kwargs.pop("lr")
        if "decay" in kwargs and kwargs["decay"]:
            raise ValueError(f"{type(self).__name__}: `decay` is Keras 2's; use a learning-rate callback")
        kwargs.pop("decay", None)
        kwargs.pop("name", None)
        for key in ("use_ema", "jit_compile"):
            if kwargs.get(key):
                raise ValueError(f"{type(self).__name__}: {key}=True is not supported by seqnet")
            kwargs.pop(key, None)
        # Keras's defaults of options that only matter when set (EMA, loss scaling, accumulation).
        for key, default in (("ema_momentum", 0.99), ("ema_overwrite_frequency", None), ("loss_scale_factor", None),
                             ("gradient_accumulation_steps", None)):
            value = kwargs.pop(key, default)
            if value != default:
                raise ValueError(f"{type(self).__name__}: {key}={value!r} is not supported by seqnet")
        unknown = set(kwargs) - set(self._defaults) - {"clipnorm", "clipvalue", "global_clipnorm", "weight_decay"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(unknown)}")
        self._config = {k: v for k, v in kwargs.items() if v is not None}
        self._model = None  # the model it was compiled into: learning_rate reads and sets that model's

    @property
    def learning_rate(self):
        if self._model is not None:
            return self._model._core.learning_rate()
        return self._config.get("learning_rate", self._defaults["learning_rate"])

    @learning_rate.setter
    def learning_rate(self, value):
        self._config["learning_rate"] = float(value)
        if self._model is not None:
            self._model._core.set_learning_rate(float(value))

    lr = learning_rate

    def get_config(self):
        return {**self._defaults, **self._config}

    def _serialize(self):
        return {"class_name": type(self).__name__, "config": dict(self._config)}


def _optimizer(name, defaults):
    def __init__(self, *args, **kwargs):
        if args:
            if len(args) > 1 or "learning_rate" in kwargs:
                raise TypeError(f"{name}() takes learning_rate as its only positional argument")
            kwargs["learning_rate"] = args[0]
        Optimizer.__init__(self, **kwargs)
    return type(name, (Optimizer,), {"__init__": __init__, "_defaults": defaults})


SGD = _optimizer("SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False})
RMSprop = _optimizer("RMSprop", {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
                                 "centered": False})
Adam = _optimizer("Adam", {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                           "amsgrad": False})
AdamW = _optimizer("AdamW", {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999,
                             "epsilon": 1e-7, "amsgrad": False})
Adagrad = _optimizer("Adagrad", {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7})

_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (known: sgd, rmsprop, adam, adamw, "
                     "adagrad)")
