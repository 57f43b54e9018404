"""keras.datasets: the book's data sets, read from seqnet's data folders ($SEQNET_DATA_DIR, ../shared/data,
~/.cache/seqnet/datasets; docs/data.md) and returned as Keras returns them."""
from . import imdb, mnist

__all__ = ["imdb", "mnist"]
