"""Deprecated location of the linear losses: they moved to :mod:`infoloss.linear` (public).

This re-export shim stays for one release; import from ``infoloss`` or ``infoloss.linear`` instead.
"""

from infoloss.linear import (
    LinearLossOptions,
    TokenStats,
    linear_cross_entropy,
    linear_min_entropy_loss,
    linear_mixed_entropy_loss,
    linear_token_stats,
)

__all__ = [
    "linear_cross_entropy",
    "linear_min_entropy_loss",
    "linear_mixed_entropy_loss",
    "linear_token_stats",
    "TokenStats",
    "LinearLossOptions",
]
