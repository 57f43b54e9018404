"""keras.metrics: the metrics seqnet computes, by name (as compile takes them) or as these objects."""


class Metric:
    _name = None

    def __init__(self, name=None, **config):
        self.name = name or self._name
        self._config = config


def _metric(class_name, default_name):
    def __init__(self, name=default_name, dtype=None, **kwargs):
        if kwargs and set(kwargs) - {"threshold"}:
            raise ValueError(f"{class_name}: unsupported arguments {sorted(kwargs)}")
        if kwargs.get("threshold", 0.5) != 0.5:
            raise ValueError(f"{class_name}: only threshold=0.5 is supported")
        Metric.__init__(self, name=name)
    return type(class_name, (Metric,), {"__init__": __init__, "_name": default_name, "_keras_name": default_name})


Accuracy = _metric("Accuracy", "accuracy")
BinaryAccuracy = _metric("BinaryAccuracy", "binary_accuracy")
CategoricalAccuracy = _metric("CategoricalAccuracy", "categorical_accuracy")
SparseCategoricalAccuracy = _metric("SparseCategoricalAccuracy", "sparse_categorical_accuracy")
MeanAbsoluteError = _metric("MeanAbsoluteError", "mean_absolute_error")
MeanSquaredError = _metric("MeanSquaredError", "mean_squared_error")


def serialize(metric):
    """The name seqnet logs the metric under (the spelling the user chose: 'acc' logs 'acc')."""
    if isinstance(metric, str):
        return metric
    if isinstance(metric, type) and issubclass(metric, Metric):
        metric = metric()
    if isinstance(metric, Metric) and type(metric).__name__ == "Accuracy":
        raise ValueError("metric Accuracy (exact equality of y_true and y_pred) is not supported by seqnet; the "
                         "string 'accuracy' picks binary, categorical or sparse categorical accuracy as Keras does")
    if isinstance(metric, Metric):
        if metric.name != metric._keras_name:
            raise ValueError(f"metric {type(metric).__name__}(name={metric.name!r}): seqnet logs metrics under "
                             "their Keras names; leave `name` out")
        return metric._keras_name
    from . import losses
    if metric in losses._NAME_OF_FUNCTION:
        return {"mean_absolute_error": "mae", "mean_squared_error": "mse"}.get(losses._NAME_OF_FUNCTION[metric],
                                                                             losses._NAME_OF_FUNCTION[metric])
    name = getattr(metric, "__name__", repr(metric))
    raise ValueError(f"metric {name}: a metric written in Python cannot be used; seqnet's metrics: accuracy "
                     "(acc), binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mae, mse")
