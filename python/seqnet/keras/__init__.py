"""A Keras 3 namespace over seqnet's C++ engine: change ``import keras`` to ``from seqnet import keras``."""
import os as _os

from .. import _core
from . import _console  # noqa: F401  (the training log goes to sys.stdout)
from . import activations, backend, callbacks, datasets, initializers, layers, losses, metrics, models
from . import optimizers, preprocessing, regularizers, utils
from .layers import Input, InputLayer, Layer, KerasTensor
from .models import Model, Sequential
from .callbacks import History

# As in Keras, a process that sets no seed draws fresh initial weights, shuffles and dropout masks each run;
# keras.utils.set_random_seed makes a run repeat exactly.
_core.set_random_seed(int.from_bytes(_os.urandom(8), "little"))

__version__ = "3.15.1"  # the Keras version whose semantics and file formats seqnet follows

__all__ = ["Input", "InputLayer", "Layer", "KerasTensor", "Model", "Sequential", "History", "activations",
           "backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics", "models",
           "optimizers", "preprocessing", "regularizers", "utils"]
