"""Class hierarchies (trees of class names): leaves, tree distances and soft labels.

A hierarchy is a nested mapping whose keys are node names. A value is another mapping (an inner node),
a list/tuple of leaf names (or of further mappings), a single leaf name (str), or ``None`` (the key
itself is a leaf). The leaves are the classes. Example::

    {"land": ["horse", "zebra"], "sea": ["whale", "shark"]}

Distances between two leaves ``a`` and ``b`` (``metric``):

* ``"lca_height"`` (default): the height of their lowest common ancestor, where the height of a node is
  the number of edges on the longest downward path from it to a leaf (a leaf has height 0). This is the
  mistake severity of Bertinetto et al., "Making Better Mistakes", CVPR 2020; in a tree whose leaves all
  lie at the same depth it is "how many levels up the two classes meet". It is an ultrametric.
* ``"path_length"``: the number of edges on the path between the two leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from infoloss.bespoke._checks import check_positive, float_dtype

__all__ = [
    "Hierarchy",
    "hierarchy_distance_matrix",
    "hierarchy_leaves",
    "hierarchy_target_matrix",
]

Hierarchy = Mapping[str, Any] | Sequence[Any]
"""A class tree: nested mappings / lists of str; see the module docstring."""

Metric = Literal["lca_height", "path_length"]
_METRICS = ("lca_height", "path_length")


def _children(node: Any, where: str) -> list[tuple[str, Any]]:
    """(name, subtree) pairs below ``node``; a subtree of None marks a leaf."""
    if isinstance(node, str):
        return [(node, None)]
    if isinstance(node, Mapping):
        items = list(node.items())
        for name, _ in items:
            if not isinstance(name, str):
                raise TypeError(f"hierarchy node names must be str; got {name!r} under {where}")
        out: list[tuple[str, Any]] = []
        for name, sub in items:
            if sub is None:
                out.append((name, None))
            elif isinstance(sub, (str, Mapping)) or (isinstance(sub, Sequence) and not isinstance(sub, str)):
                out.append((name, sub))
            else:
                raise TypeError(
                    f"hierarchy node {name!r} has a value of type {type(sub).__name__}; "
                    "expected a mapping, a list of names, a str or None"
                )
        return out
    if isinstance(node, Sequence):
        out = []
        for item in node:
            if isinstance(item, (str, Mapping)):
                out.extend(_children(item, where))
            else:
                raise TypeError(f"hierarchy lists may hold str leaves or mappings; got {item!r} under {where}")
        return out
    raise TypeError(f"a hierarchy must be a mapping or a list of names, got {type(node).__name__}")


def _leaf_paths(tree: Hierarchy) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, ...], int]]:
    """Map each leaf to its node path from the root, and each node path to its height."""
    paths: dict[str, tuple[str, ...]] = {}
    heights: dict[tuple[str, ...], int] = {}

    def walk(node: Any, path: tuple[str, ...]) -> int:
        """Record the leaves below ``node`` and return its height."""
        where = "/".join(path) or "the root"
        kids = _children(node, where)
        if not kids:
            raise ValueError(f"hierarchy node {where!r} has no leaves")
        height = 0
        for name, sub in kids:
            child = (*path, name)
            if sub is None:
                if name in paths:
                    raise ValueError(
                        f"duplicate leaf name {name!r} in the hierarchy "
                        f"(at {'/'.join(paths[name])} and {'/'.join(child)})"
                    )
                paths[name] = child
                heights[child] = 0
                h = 0
            else:
                h = walk(sub, child)
            height = max(height, h + 1)
        heights[path] = height
        return height

    walk(tree, ())
    return paths, heights


def hierarchy_leaves(tree: Hierarchy) -> list[str]:
    """Return the leaf (class) names of a hierarchy, in depth-first order.

    Args:
        tree: nested mapping / list of names (see the module docstring).

    Returns:
        The leaves, left to right, as a list of str.

    Raises:
        ValueError: if a leaf name appears twice, or an inner node has no leaves.
        TypeError: if a node name is not a str, or a node is not a mapping, list/tuple, str or None.

    Example:
        >>> from infoloss.bespoke import hierarchy_leaves
        >>> hierarchy_leaves({"land": ["horse", "zebra"], "sea": ["whale", "shark"]})
        ['horse', 'zebra', 'whale', 'shark']
    """
    return list(_leaf_paths(tree)[0])


def _resolve_classes(paths: Mapping[str, tuple[str, ...]], classes: Sequence[str] | None) -> list[str]:
    """The class names in index order: ``classes`` checked against the leaves, or the leaves themselves."""
    if classes is None:
        return list(paths)
    if isinstance(classes, str):
        raise TypeError("classes must be a sequence of class names, not a single str")
    names = list(classes)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate class name {name!r} in classes")
        seen.add(name)
    unknown = [n for n in names if n not in paths]
    if unknown:
        raise ValueError(f"unknown class names {unknown} (not leaves of the hierarchy); leaves: {list(paths)}")
    missing = [n for n in paths if n not in seen]
    if missing:
        raise ValueError(f"hierarchy leaves {missing} are missing from classes")
    return names


def hierarchy_distance_matrix(
    tree: Hierarchy,
    classes: Sequence[str] | None = None,
    *,
    metric: Metric = "lca_height",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Return the ``C x C`` tree distance between the classes (leaves) of a hierarchy; usable as a cost matrix.

    .. math::
        D_{ab} = \operatorname{height}(\operatorname{LCA}(a, b)) \quad (\texttt{'lca\_height'}), \qquad
        D_{ab} = \text{number of edges between } a \text{ and } b \quad (\texttt{'path\_length'})

    Symmetric, non-negative, zero diagonal (see the module docstring for the height of a node).

    Args:
        tree: nested mapping / list of names (see the module docstring).
        classes: class names in class-index order (exactly the leaves, each once). Default None: the
            leaves in depth-first order.
        metric: ``'lca_height'`` (the mistake severity of Bertinetto et al. 2020) | ``'path_length'``.
            Default ``'lca_height'``.
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(C, C)`` tensor, rows (true class) and columns (predicted class) in ``classes`` order.

    Raises:
        ValueError: if ``metric`` is unknown, a leaf name appears twice, an inner node has no leaves, or
            ``classes`` repeats a name, names a non-leaf or misses a leaf.
        TypeError: if the tree has a node that is not a mapping, list/tuple, str or None, a non-str node
            name, ``classes`` is a single str, or ``dtype`` is not a floating dtype.

    Example:
        >>> from infoloss.bespoke import hierarchy_distance_matrix
        >>> hierarchy_distance_matrix({"land": ["horse", "zebra"], "sea": ["whale", "shark"]})
        tensor([[0., 1., 2., 2.],
                [1., 0., 2., 2.],
                [2., 2., 0., 1.],
                [2., 2., 1., 0.]])
        >>> tree = {"land": ["horse", "zebra"], "whale": None}  # whale: a leaf right below the root
        >>> hierarchy_distance_matrix(tree, metric="path_length")  # horse -> land -> root -> whale: 3 edges
        tensor([[0., 2., 3.],
                [2., 0., 3.],
                [3., 3., 0.]])

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020. https://arxiv.org/abs/1912.09393
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}")
    paths, heights = _leaf_paths(tree)
    names = _resolve_classes(paths, classes)
    c = len(names)
    d = torch.zeros(c, c, dtype=torch.float64)
    for i, a in enumerate(names):
        pa = paths[a]
        for j, b in enumerate(names):
            if i == j:
                continue
            pb = paths[b]
            common = 0
            while common < min(len(pa), len(pb)) and pa[common] == pb[common]:
                common += 1
            if metric == "lca_height":
                d[i, j] = heights[pa[:common]]
            else:
                d[i, j] = (len(pa) - common) + (len(pb) - common)
    return d.to(float_dtype(dtype))


def hierarchy_target_matrix(
    tree: Hierarchy,
    classes: Sequence[str] | None = None,
    *,
    beta: float = 4.0,
    metric: Metric = "lca_height",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Return soft labels from a class hierarchy: ``T[y, j]`` proportional to ``exp(-beta * D[y, j])``.

    .. math::
        T_{yj} = \frac{\exp(-\beta D_{yj})}{\sum_k \exp(-\beta D_{yk})}

    with ``D`` from :func:`hierarchy_distance_matrix`. Larger ``beta`` concentrates mass on the true
    class; siblings get more than distant classes.

    Args:
        tree: nested mapping / list of names (see the module docstring).
        classes: class names in class-index order. Default None: the leaves in depth-first order.
        beta: hardness, finite and > 0 (Bertinetto et al. sweep it). Default 4.0.
        metric: ``'lca_height'`` | ``'path_length'``. Default ``'lca_height'``.
        dtype: floating dtype of the result. Default ``torch.float32``.

    Returns:
        ``(C, C)`` row-stochastic tensor (computed in float64, then cast to ``dtype``).

    Raises:
        TypeError: if ``beta`` is not a number, or as :func:`hierarchy_distance_matrix`.
        ValueError: if ``beta`` is not finite and > 0, or as :func:`hierarchy_distance_matrix`.

    Example:
        >>> from infoloss.bespoke import hierarchy_target_matrix
        >>> hierarchy_target_matrix({"land": ["horse", "zebra"], "sea": ["whale", "shark"]}, beta=1.0)
        tensor([[0.6103, 0.2245, 0.0826, 0.0826],
                [0.2245, 0.6103, 0.0826, 0.0826],
                [0.0826, 0.0826, 0.6103, 0.2245],
                [0.0826, 0.0826, 0.2245, 0.6103]])

    Row 0 is ``[1, e^-1, e^-2, e^-2] / (1 + e^-1 + 2 e^-2)``.

    References:
        - L. Bertinetto et al., "Making Better Mistakes: Leveraging Class Hierarchies with Deep Networks",
          CVPR 2020 (the "soft labels" method). https://arxiv.org/abs/1912.09393
    """
    b = check_positive(beta, "beta")
    d = hierarchy_distance_matrix(tree, classes, metric=metric, dtype=torch.float64)
    return torch.softmax(-b * d, dim=1).to(float_dtype(dtype))
