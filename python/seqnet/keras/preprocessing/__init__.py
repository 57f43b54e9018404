"""keras.preprocessing: Keras 2's path to pad_sequences, which the notes use."""
from . import sequence

__all__ = ["sequence"]
