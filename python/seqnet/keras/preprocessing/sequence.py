from ..utils import pad_sequences, timeseries_dataset_from_array  # noqa: F401
