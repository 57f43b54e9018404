"""keras.regularizers: accepted as arguments so that seqnet's layers can refuse them by name (seqnet does not
implement weight penalties yet; a layer given one raises ValueError rather than training another model)."""


class Regularizer:
    def __init__(self, **config):
        self._config = config

    def _serialize(self):
        return {"class_name": type(self).__name__, "config": dict(self._config)}


class L1(Regularizer):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(Regularizer):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        super().__init__(l1=l1, l2=l2)


l1, l2, l1_l2 = L1, L2, L1L2
