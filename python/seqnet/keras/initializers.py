"""keras.initializers: each serializes to Keras's {"class_name", "config"} for seqnet's layers."""
import warnings


class Initializer:
    def __init__(self, **config):
        seed = config.pop("seed", None)
        if seed is not None:
            warnings.warn(f"{type(self).__name__}(seed={seed}): seqnet draws initial weights from the stream "
                          "keras.utils.set_random_seed seeds; the initializer's own seed is not used", stacklevel=3)
        self._config = config

    def get_config(self):
        return dict(self._config)

    def _serialize(self):
        return {"class_name": type(self).__name__, "config": dict(self._config)}


def _simple(name):
    def __init__(self, seed=None):
        Initializer.__init__(self, seed=seed)
    return type(name, (Initializer,), {"__init__": __init__})


GlorotUniform = _simple("GlorotUniform")
GlorotNormal = _simple("GlorotNormal")
HeUniform = _simple("HeUniform")
HeNormal = _simple("HeNormal")
LecunUniform = _simple("LecunUniform")
LecunNormal = _simple("LecunNormal")


class Zeros(Initializer):
    def __init__(self):
        super().__init__()


class Ones(Initializer):
    def __init__(self):
        super().__init__()


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__(value=float(value))


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(minval=minval, maxval=maxval, seed=seed)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(mean=mean, stddev=stddev, seed=seed)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(mean=mean, stddev=stddev, seed=seed)


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        super().__init__(gain=gain, seed=seed)


class Identity(Initializer):
    def __init__(self, gain=1.0):
        super().__init__(gain=gain)


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)


def serialize(initializer):
    if initializer is None or isinstance(initializer, str):
        return initializer
    if isinstance(initializer, Initializer):
        return initializer._serialize()
    if isinstance(initializer, dict):
        return initializer
    raise ValueError(f"unsupported initializer {initializer!r}: use a name or a keras.initializers class")
