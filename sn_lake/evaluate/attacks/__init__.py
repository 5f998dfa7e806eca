"""The attacks, one small class per attack with the paper's parameters as arguments and one ``__call__``.

Every attack takes a :class:`~sn_lake.evaluate.models.Classifier` (images in [0, 1] in, logits out)
and plain tensors; none knows about Dagster, the lake or the warehouse.
"""
