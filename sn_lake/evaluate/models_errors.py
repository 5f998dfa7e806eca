"""The error of a model that cannot be loaded (torch-free, so the label rules can raise it too)."""


class ModelLoadError(RuntimeError):
    """A model could not be found or built from its folder."""
