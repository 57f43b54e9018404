"""seqnet: Keras-style sequence deep learning, natively in C++.

``from seqnet import keras`` gives a Keras 3 namespace (layers, Sequential and functional models, optimizers,
losses, callbacks, the data sets) whose models train in seqnet's C++ engine. See docs/python.md.
"""
from . import _core
from . import keras

__version__ = _core.version()
SeqnetError = _core.SeqnetError


def set_num_threads(n: int) -> None:
    """The threads seqnet's kernels use (default: every core)."""
    _core.set_num_threads(int(n))


def kernel_variant() -> str:
    """The kernel variant running on this CPU ("avx2" or "avx512")."""
    return _core.kernel_variant()


__all__ = ["keras", "SeqnetError", "set_num_threads", "kernel_variant", "__version__"]
