"""infoloss: information-theoretic classification losses for PyTorch.

The functional API lives in :mod:`infoloss.functional`, the NumPy reference in :mod:`infoloss.numpy`, the
bespoke (cost-aware) losses in :mod:`infoloss.bespoke` and the experiment harness in
:mod:`infoloss.experiments`. The loss modules are exported here.
"""

from infoloss import bespoke, functional, parallel
from infoloss._backend import get_backend, set_backend, use_backend
from infoloss.bespoke import ExpectedCostLoss, PairwiseCostLoss, SimilarityCrossEntropyLoss
from infoloss.linear import (
    TokenStats,
    linear_cross_entropy,
    linear_min_entropy_loss,
    linear_mixed_entropy_loss,
    linear_token_stats,
)
from infoloss.modules import (
    CrossEntropyLoss,
    FocalLoss,
    KLDivergenceLoss,
    MinEntropyLoss,
    MixedEntropyLoss,
    Poly1CrossEntropyLoss,
    SymmetricCrossEntropyLoss,
)
from infoloss.schedules import regularizer_weight
from infoloss.tokens import TokenLogprobEntropy, token_logprob_entropy, token_logprob_entropy_from_logits

__version__ = "0.1.0"

__all__ = [
    "functional",
    "CrossEntropyLoss",
    "MinEntropyLoss",
    "MixedEntropyLoss",
    "SymmetricCrossEntropyLoss",
    "FocalLoss",
    "Poly1CrossEntropyLoss",
    "KLDivergenceLoss",
    "SimilarityCrossEntropyLoss",
    "PairwiseCostLoss",
    "ExpectedCostLoss",
    "bespoke",
    "linear_cross_entropy",
    "linear_min_entropy_loss",
    "linear_mixed_entropy_loss",
    "linear_token_stats",
    "TokenStats",
    "token_logprob_entropy",
    "token_logprob_entropy_from_logits",
    "TokenLogprobEntropy",
    "parallel",
    "regularizer_weight",
    "set_backend",
    "get_backend",
    "use_backend",
    "__version__",
]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    # infoloss.metrics (evaluation metrics, optional torchmetrics classes) is imported on first access
    if name == "metrics":
        import importlib

        return importlib.import_module("infoloss.metrics")
    raise AttributeError(f"module 'infoloss' has no attribute {name!r}")
