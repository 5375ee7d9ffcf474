"""infoloss: information-theoretic classification losses for PyTorch."""

__version__ = "0.1.0"
