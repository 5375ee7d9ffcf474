"""``nn.Module`` wrappers of :mod:`infoloss.functional`: they store options and call the functional form.

Constructor keywords mirror the functions (and torch's ``nn.CrossEntropyLoss`` where it has them), so
``nn.CrossEntropyLoss()`` -> ``infoloss.MinEntropyLoss(entropy_weight=0.1)`` is a one-line change. Options are
validated when the module is built; the inputs on every call. Shapes everywhere: input ``(C,)``, ``(N, C)``
or ``(N, C, d_1, ..., d_K)`` logits; target class indices ``()``, ``(N,)``, ``(N, d_1, ..., d_K)`` or
probabilities shaped as the input; output a scalar, or the input's shape without the class dim for
``reduction='none'``. :class:`MinEntropyLoss` and :class:`MixedEntropyLoss` can also learn their two weights
(``learnable=True``).
"""

from __future__ import annotations

import math
from typing import TypedDict, cast

import torch
from torch import Tensor, nn

from infoloss import _common
from infoloss import functional as F
from infoloss._common import before_one_call, one_call_in_graph, register_in_graph
from infoloss._ops import COMPILE_COMPOSE_ELEMENTS
from infoloss._validation import (
    REDUCTIONS,
    check_finite_number,
    check_ignore_index,
    check_label_smoothing,
    check_open_unit,
    check_reduction,
    log_base,
)

__all__ = [
    "CrossEntropyLoss",
    "MinEntropyLoss",
    "MixedEntropyLoss",
    "SymmetricCrossEntropyLoss",
    "FocalLoss",
    "Poly1CrossEntropyLoss",
    "KLDivergenceLoss",
]


class _CEOptions(TypedDict):
    """The keyword options every CE-family module passes on to its functional form."""

    weight: Tensor | None
    ignore_index: int
    reduction: str
    label_smoothing: float


class _WeightedLoss(nn.Module):
    """Common options of the CE family: class ``weight`` (a buffer), ``ignore_index``, reduction, smoothing."""

    weight: Tensor | None
    _smoothing_on: bool

    def __init__(self, weight: Tensor | None, ignore_index: int, reduction: str, label_smoothing: float) -> None:
        super().__init__()
        check_reduction(reduction)
        if weight is not None:
            if not isinstance(weight, Tensor):
                raise TypeError(
                    f"weight must be a 1-D floating tensor with one entry per class, got {type(weight).__name__}"
                )
            if not weight.dtype.is_floating_point:
                raise TypeError(f"weight must be a floating tensor (one weight per class), got dtype {weight.dtype}")
            if weight.dim() != 1:
                raise ValueError(
                    f"weight must be a 1-D tensor with one entry per class, got shape {tuple(weight.shape)}"
                )
        self.register_buffer("weight", weight)
        self.ignore_index = check_ignore_index(ignore_index)
        self.reduction = reduction
        self.label_smoothing = check_label_smoothing(label_smoothing)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "label_smoothing":  # validated on assignment too; whether it is on, as a bool
            value = check_label_smoothing(cast(float, value))
            self.__dict__["_smoothing_on"] = value != 0.0
        elif name == "reduction":  # validated on assignment too
            check_reduction(cast(str, value))
        # torch annotates nn.Module.__setattr__'s value as Tensor | Module, but it stores any object
        super().__setattr__(name, value)  # type: ignore[arg-type]

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickling: ``_smoothing_on`` is derived, so it is rebuilt (older pickles lack it)."""
        super().__setstate__(state)  # type: ignore[no-untyped-call]  # untyped in torch
        self.__dict__["_smoothing_on"] = self.label_smoothing != 0.0

    def _label_smoothing(self) -> float:
        """``label_smoothing``, or the literal ``0.0`` when it is off.

        Under ``torch.compile(dynamic=True)`` a float read from an attribute becomes a graph input (a tensor
        built on every call, plus value guards); the literal does not, and reading the bool guards cheaply.
        """
        return self.label_smoothing if self._smoothing_on else 0.0

    def _options(self) -> _CEOptions:
        """The stored options as keywords of the functional form."""
        return _CEOptions(
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self._label_smoothing(),
        )

    def extra_repr(self) -> str:
        """The stored options, for ``repr``."""
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class CrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy on logits; drop-in for ``torch.nn.CrossEntropyLoss`` with an optional log ``base``.

    With ``base=None`` the value equals torch's, except that an empty ``'mean'`` (every element ignored) is 0
    instead of NaN. See :func:`infoloss.functional.cross_entropy`.

    .. math::
        \ell_i = -\sum_c w_c\, q'_{ic} \log_b \operatorname{softmax}(x_i)_c, \qquad
        q' = (1-\varepsilon)\, q + \varepsilon / C

    Args:
        weight: class weights, a 1-D floating tensor of shape ``(C,)``, stored as a buffer (it follows
            ``.to(device)`` and is saved in the ``state_dict``). Default ``None`` (all 1).
        ignore_index: class-index value whose elements contribute nothing (converted with ``int()``). Default
            ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` as in
            :func:`infoloss.functional.cross_entropy`. Default ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Raises:
        TypeError: if ``weight`` is not a floating tensor or ``ignore_index`` not an int; if ``label_smoothing`` or a base is not a number.
        ValueError: if ``reduction`` is not one of the three; if ``weight`` is not 1-D; if
            ``label_smoothing`` is not in ``[0, 1]``; if a base is not a finite number > 0 and != 1.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)`` logits (the class dim is 1; 0 for 1-D input).
        - Target: class indices ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (integer dtype), or probabilities
          shaped as the input (floating dtype).
        - Output: scalar; ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` if ``reduction='none'``.

    Example:
        >>> import torch, infoloss
        >>> loss = infoloss.CrossEntropyLoss(base=2)
        >>> round(loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1])).item(), 4)   # one bit
        1.0
        >>> infoloss.CrossEntropyLoss(reduction="none")(torch.zeros(2, 4), torch.tensor([0, 3]))   # ln 4 each
        tensor([1.3863, 1.3863])

    References:
        - C. E. Shannon, "A Mathematical Theory of Communication", Bell System Technical Journal, 1948.
          https://doi.org/10.1002/j.1538-7305.1948.tb01338.x
        - C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016 (label
          smoothing). https://arxiv.org/abs/1512.00567
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Cross entropy of ``input`` logits against ``target``, with the stored options.

        Args:
            input: logits ``x``, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype.
            target: class indices of ``input``'s shape without the class dim (integer dtype, values in ``[0, C)``
                or ``ignore_index``), or probabilities of ``input``'s shape (floating dtype).

        Returns:
            Scalar tensor (``'mean'``/``'sum'``), or shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``); in
            ``input``'s dtype (float32 under autocast for float16/bfloat16).

        Raises:
            TypeError: if ``input`` is not a floating tensor, ``target`` is not a tensor or is bool/complex, or the
                stored ``weight`` is not floating.
            ValueError: if ``input`` is a scalar or has no classes, ``target``'s shape does not match, ``target`` or
                the stored ``weight`` is on another device than ``input``, ``weight`` does not have ``C`` entries;
                for CPU tensors in eager mode, if a class index is outside ``[0, C)`` and not ``ignore_index``, or a
                probability target has a negative or NaN entry.
        """
        return F.cross_entropy(input, target, base=self.base, **self._options())


@one_call_in_graph
def _two_term_composed(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    coef: Tensor | str,
    ignore_index: int,
    reduction: int,
    label_smoothing: str,
    ce_on: bool,
    reg_on: bool,
    reverse: bool,
    rev_log_eps: str,
) -> Tensor:
    """A fixed-weight MIN-ENT (``reverse=False``) or MIX-ENT loss, composed: the modules' compiled path.

    ``coef[0] * CE_i + coef[1] * s_i * (H_i or R_i)``, reduced as :func:`infoloss.functional.min_entropy_loss`
    does, as plain torch ops. ``coef`` is a (2,) float64 tensor (weights read at run time; ``ce_on`` and
    ``reg_on`` say which terms are on), or the two coefficients as ``float.hex`` strings, which a traced
    call turns into constants (a string is static to dynamo, where a float read from an attribute becomes
    a graph input converted to a tensor on every call). ``label_smoothing`` and ``rev_log_eps`` are such
    strings; ``reduction`` indexes ``('none', 'mean', 'sum')``. It is registered with
    ``torch.compiler.allow_in_graph`` when a module is built (:func:`infoloss._common.one_call_in_graph`):
    dynamo then records one call instead of tracing infoloss's validation and dispatch, whose guards,
    checked on every call, were most of the compiled step's overhead at 256 x 26; AOTAutograd and
    inductor still trace through it, into the same fused kernels. With constant weights it dispatches
    as the functional losses do (plain torch ops up to ``COMPILE_COMPOSE_ELEMENTS`` logits, the custom op
    above that and under ``torch.export``); with the run-time ``coef``, plain torch ops (the module's
    forward sends more than ``COMPILE_COMPOSE_ELEMENTS`` logits to the kernel instead).
    Called eagerly (dynamo's eager backend), it is the same loss.

    Example:
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])   # CE 0.4170, H 0.8467
        >>> coef, zero = torch.tensor([1.0, 0.1], dtype=torch.float64), (0.0).hex()
        >>> round(_two_term_composed(x, y, None, coef, -100, 1, zero, True, True, False, zero).item(), 4)
        0.5017
        >>> key = " ".join(v.hex() for v in (1.0, 0.1))
        >>> round(_two_term_composed(x, y, None, key, -100, 1, zero, True, True, False, zero).item(), 4)
        0.5017
    """
    if isinstance(coef, str):  # constants
        ce, reg = (float.fromhex(v) for v in coef.split())
        pair = None
    else:
        ce, reg = (1.0 if ce_on else 0.0), (1.0 if reg_on else 0.0)
        pair = (coef[0], coef[1])
    return F._ce_family(
        input,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=REDUCTIONS[reduction],
        label_smoothing=float.fromhex(label_smoothing),
        ce_coef=ce,
        ent_coef=0.0 if reverse else reg,
        rev_coef=reg if reverse else 0.0,
        rev_log_eps=float.fromhex(rev_log_eps),
        coef=pair,
    )


_compiling = torch.compiler.is_compiling


class _TwoTermLoss(_WeightedLoss):
    """A CE term plus a regularizer term, with fixed or learnable (``log_vars``) weights.

    Fixed weights are kept as the Python floats the eager kernels take, and for ``torch.compile``
    (:func:`infoloss._ops.composes`) in two derived attributes, rebuilt on every assignment of an option
    (:meth:`_refresh_compiled`): ``_coef``, a (2,) float64 CPU tensor of the coefficients (weight / ln
    base), and ``_compiled_args``, every argument of the compiled call as constants in one tuple (one
    equality guard). There the coefficients are ``float.hex`` strings while the weights are those the
    module was built with: constants in the compiled graph, like literals in hand-written code (a float
    attribute would be a graph input, converted to a tensor on every call: ~5% of a small step). The first
    reassignment of a weight, a base or ``eps`` sets ``_runtime_coef``, and from then on the path
    multiplies by ``_coef``, read at run time: a scheduled weight costs one recompile in all, not one per
    value. Switching a term on or off at 0, label smoothing and ``eps`` are constants too (a change
    recompiles). That path is :func:`_two_term_composed`, one call in dynamo's graph.
    """

    _reg_name = "reg_weight"
    _base_names = ("ce_base", "reg_base")
    _reverse = False  # whether the regularizer is the reverse term (MIX-ENT) rather than the entropy
    _key_names: tuple[str, ...] = ()  # more options that _compiled_args holds (MIX-ENT: eps)
    _coef: Tensor
    _runtime_coef: bool = False
    _compiled_args: tuple[str | None, int, int, str, bool, bool, bool, str] | None  # None when learnable

    def __init__(
        self,
        ce_weight: float,
        reg_weight: float,
        weight: Tensor | None,
        ignore_index: int,
        reduction: str,
        label_smoothing: float,
        learnable: bool,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.ce_weight = check_finite_number(ce_weight, "ce_weight")
        reg_weight = check_finite_number(reg_weight, self._reg_name)
        setattr(self, self._reg_name, reg_weight)
        self.learnable = bool(learnable)
        if self.learnable:
            if self.ce_weight <= 0 or reg_weight <= 0:
                raise ValueError(
                    f"learnable=True needs ce_weight > 0 and {self._reg_name} > 0 (they initialize "
                    f"exp(-log_var)); got {self.ce_weight} and {reg_weight}"
                )
            init = torch.tensor([-math.log(self.ce_weight), -math.log(reg_weight)])
            self.log_vars = nn.Parameter(init)
        else:
            register_in_graph()  # imports torch._dynamo (~1-3 s, once): mark_static needs it

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("ce_weight", self._reg_name) and self.__dict__.get("learnable", False):
            raise AttributeError(
                f"{type(self).__name__}(learnable=True) learns {name} (through log_vars), so assigning it would "
                f"be ignored; read the learned values from .effective_weights, or build the loss with "
                f"learnable=False to set or schedule {name} (e.g. with infoloss.regularizer_weight)"
            )
        if name in ("ce_weight", self._reg_name) and "learnable" in self.__dict__:
            value = check_finite_number(cast(float, value), name)  # raises TypeError for a non-number
        elif name == "eps" and name in self._key_names:  # validated on assignment too (MIX-ENT)
            value = check_open_unit(cast(float, value), name)
        super().__setattr__(name, value)
        weights = ("ce_weight", self._reg_name, *self._base_names, *self._key_names)
        if name in weights and "_compiled_args" in self.__dict__:  # reassigned once built: a schedule
            self.__dict__["_runtime_coef"] = True
        if name in (*weights, "ignore_index", "reduction", "label_smoothing", "learnable"):
            self._refresh_compiled()

    def _refresh_compiled(self) -> None:
        """Rebuild ``_coef`` and ``_compiled_args`` from the options (once all of them are set).

        Dynamo guards each attribute that a compiled forward reads, on every call; one tuple is one
        equality guard where nine attributes were about twenty guards (~1 us of a small step)."""
        d = self.__dict__
        names = ("ce_weight", self._reg_name, *self._base_names)
        if not all(n in d for n in (*names, *self._key_names, "ignore_index", "reduction", "label_smoothing")):
            return
        ce = float(d["ce_weight"] / log_base(d[names[2]], names[2]))
        reg = float(d[names[1]] / log_base(d[names[3]], names[3]))
        coef = torch.tensor([ce, reg], dtype=torch.float64)
        if _common._REGISTERED == [True]:  # dynamo is imported: a static shape (no size symbol, no size guard)
            torch._dynamo.mark_static(coef)
        d["_coef"] = coef
        d["_compiled_args"] = (
            None
            if d.get("learnable", False)
            else (
                None if d.get("_runtime_coef", False) else f"{ce.hex()} {reg.hex()}",
                d["ignore_index"],
                REDUCTIONS.index(d["reduction"]),
                float(d["label_smoothing"]).hex(),
                ce != 0.0,
                reg != 0.0,
                self._reverse,
                float(self._rev_log_eps()).hex(),
            )
        )

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickling (``copy.deepcopy``, ``torch.load`` of a whole module): derived attributes are rebuilt,
        so a module pickled by an older infoloss, which lacks them, still works."""
        super().__setstate__(state)
        self._refresh_compiled()

    @property
    def effective_weights(self) -> tuple[float, float]:
        """The (CE, regularizer) weights in effect (fixed values, or ``exp(-log_vars)``)."""
        if self.learnable:
            w = torch.exp(-self.log_vars.detach())
            return float(w[0]), float(w[1])
        return self.ce_weight, float(getattr(self, self._reg_name))

    def _fixed(self, input: Tensor, target: Tensor, ce_weight: float, reg_weight: float) -> Tensor:
        """The loss with the given fixed weights (the subclass's functional form)."""
        raise NotImplementedError

    def _rev_log_eps(self) -> float:
        """``log eps`` of the reverse term's floor (MIX-ENT); 0.0 where there is no reverse term."""
        return 0.0

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The weighted sum of the two reduced terms (plus ``log_vars.sum()`` when learnable)."""
        args = self._compiled_args  # None when learnable
        # Under compile (CPU): one call of _two_term_composed, which picks the kernel itself (constant weights:
        # plain torch ops up to COMPILE_COMPOSE_ELEMENTS logits, the custom op above that and under export),
        # with the weights as constants or, once reassigned, as the run-time tensor _coef (plain torch ops, so
        # above COMPILE_COMPOSE_ELEMENTS the kernel takes the weights as floats instead). Each attribute and
        # global read here is a guard checked on every call, so the options come from the one tuple.
        if args is not None and _compiling() and getattr(input, "is_cpu", False):
            before_one_call()  # registers (a module unpickled in a new process, say); guards the backend
            key, ignore_index, reduction, smoothing, ce_on, reg_on, reverse, rle = args
            if key is None and input.numel() > COMPILE_COMPOSE_ELEMENTS:
                return self._fixed(input, target, self.ce_weight, float(getattr(self, self._reg_name)))
            return _two_term_composed(
                input,
                target,
                self.weight,
                self._coef if key is None else key,
                ignore_index,
                reduction,
                smoothing,
                ce_on,
                reg_on,
                reverse,
                rle,
            )
        if not self.learnable:
            return self._fixed(input, target, self.ce_weight, float(getattr(self, self._reg_name)))
        # Learnable weights: compute the two reduced terms separately, then weight them.
        ce = self._fixed(input, target, 1.0, 0.0)
        reg = self._fixed(input, target, 0.0, 1.0)
        precision = torch.exp(-self.log_vars).to(ce.dtype)
        loss = precision[0] * ce + precision[1] * reg
        if self.reduction != "none":
            loss = loss + self.log_vars.sum().to(ce.dtype)
        return loss


class MinEntropyLoss(_TwoTermLoss):
    r"""MIN-ENT: cross entropy plus a minimum-entropy regularizer.

    ``+entropy_weight * H`` is added: a positive weight minimizes the entropy of the prediction, a negative
    weight is the confidence penalty of Pereyra et al. ``s_i`` is the sample weight (``weight[y_i]``, 0 for
    ignored elements), so both terms share cross entropy's 'mean' denominator. See
    :func:`infoloss.functional.min_entropy_loss`.

    .. math::
        \ell_i = w_{ce}\, \mathrm{CE}_i + w_H\, s_i\, H(\hat p_i), \qquad
        H(\hat p_i) = -\sum_c \hat p_{ic} \log \hat p_{ic}, \quad \hat p_i = \operatorname{softmax}(x_i)

    With ``learnable=True`` the two weights are learned by homoscedastic-uncertainty weighting (Kendall, Gal
    and Cipolla). The module then owns a parameter ``log_vars = (s_ce, s_H)`` of shape ``(2,)``, initialized
    to ``(-log ce_weight, -log entropy_weight)`` (so both weights must be > 0), and returns

    .. math::
        L = e^{-s_{ce}}\, \overline{\mathrm{CE}} + e^{-s_H}\, \overline{H} + s_{ce} + s_H

    where the bars are the reduced (mean or sum) terms. Gradient descent on ``w_ce * CE + w_H * H`` over
    the weights themselves would drive both to zero; the ``+ s`` terms make the optimum ``e^{-s} = 1 / term``
    instead, so each weight settles at the inverse of its term's size and cannot collapse. Pass
    ``criterion.parameters()`` to the optimizer, and read the weights in effect from
    :attr:`effective_weights` (assigning ``ce_weight`` or ``entropy_weight`` then raises). A term that shrinks
    towards 0 (e.g. an entropy driven to 0) gets a growing weight ``1 / term``: watch :attr:`effective_weights`,
    or clamp ``log_vars``, if that matters. The two terms are computed in two passes over the logits (the
    fixed-weight path fuses them into one). With ``reduction='none'`` the learned weights multiply the
    per-element terms and the ``s`` terms are left out (add ``log_vars.sum()`` when you reduce).

    With ``learnable=False`` the attributes ``ce_weight`` and ``entropy_weight`` can be reassigned between steps
    (e.g. from :func:`infoloss.regularizer_weight`); an assigned value must be a finite number.

    Args:
        ce_weight: ``w_ce``, a finite number (> 0 when ``learnable``). Default ``1.0``.
        entropy_weight: ``w_H``, a finite number (> 0 when ``learnable``). Default ``0.1``.
        ce_base: logarithm base of the CE term (``None``: nats). Default ``None``.
        entropy_base: logarithm base of the entropy term (``None``: nats). Default ``None``.
        weight: class weights, a 1-D floating tensor of shape ``(C,)``, stored as a buffer (it follows
            ``.to(device)`` and is saved in the ``state_dict``). Default ``None`` (all 1).
        ignore_index: class-index value whose elements contribute nothing (converted with ``int()``). Default
            ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` as in
            :func:`infoloss.functional.cross_entropy`. Default ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        learnable: learn both weights (see above). Default ``False``.

    Raises:
        TypeError: if ``weight`` is not a floating tensor or ``ignore_index`` not an int; if ``ce_weight``, ``entropy_weight``, ``label_smoothing`` or a base is
            not a number.
        ValueError: if ``reduction`` is not one of the three; if ``weight`` is not 1-D; if
            ``label_smoothing`` is not in ``[0, 1]``; if a base is not a finite number > 0 and != 1; if ``ce_weight`` or
            ``entropy_weight`` is not finite (or is <= 0 with ``learnable=True``).
        AttributeError: on assigning ``ce_weight`` or ``entropy_weight`` of a ``learnable=True`` module.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)`` logits (the class dim is 1; 0 for 1-D input).
        - Target: class indices ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (integer dtype), or probabilities
          shaped as the input (floating dtype).
        - Output: scalar; ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` if ``reduction='none'``.

    Example:
        >>> import torch, infoloss
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])   # CE 0.4170, H 0.8467
        >>> criterion = infoloss.MinEntropyLoss(entropy_weight=0.1)   # was nn.CrossEntropyLoss()
        >>> round(criterion(x, y).item(), 4)   # 0.4170 + 0.1 * 0.8467
        0.5017
        >>> learned = infoloss.MinEntropyLoss(entropy_weight=0.1, learnable=True)
        >>> round(learned(x, y).item(), 4)   # 0.5017 + s_ce + s_H = 0.5017 + 0 + ln 10
        2.8043
        >>> [round(w, 4) for w in learned.effective_weights]
        [1.0, 0.1]

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - G. Pereyra et al., "Regularizing Neural Networks by Penalizing Confident Output Distributions",
          2017. https://arxiv.org/abs/1701.06548
        - A. Kendall, Y. Gal and R. Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
          Geometry and Semantics", CVPR 2018. https://arxiv.org/abs/1705.07115
    """

    _reg_name = "entropy_weight"
    _base_names = ("ce_base", "entropy_base")

    def __init__(
        self,
        *,
        ce_weight: float = 1.0,
        entropy_weight: float = 0.1,
        ce_base: float | None = None,
        entropy_base: float | None = None,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        learnable: bool = False,
    ) -> None:
        super().__init__(ce_weight, entropy_weight, weight, ignore_index, reduction, label_smoothing, learnable)
        log_base(ce_base, "ce_base")
        log_base(entropy_base, "entropy_base")
        self.ce_base, self.entropy_base = ce_base, entropy_base

    @property
    def effective_weights(self) -> tuple[float, float]:
        """The (CE, entropy) weights in effect (the fixed values, or ``exp(-log_vars)`` when learnable).

        Returns:
            A tuple of two Python floats ``(w_ce, w_H)``; with ``learnable=True`` they are read from the current
            ``log_vars`` (float32, so ``0.1`` reads back as ``0.0999999940...``).
        """
        return super().effective_weights

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """MIN-ENT loss of ``input`` logits against ``target``, with the stored (or learned) weights.

        Args:
            input: logits ``x``, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype.
            target: class indices of ``input``'s shape without the class dim (integer dtype, values in ``[0, C)``
                or ``ignore_index``), or probabilities of ``input``'s shape (floating dtype).

        Returns:
            Scalar tensor (``'mean'``/``'sum'``; with ``learnable=True`` it includes ``log_vars.sum()``), or shape
            ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast
            for float16/bfloat16).

        Raises:
            TypeError: if ``input`` is not a floating tensor, ``target`` is not a tensor or is bool/complex, or the
                stored ``weight`` is not floating.
            ValueError: if ``input`` is a scalar or has no classes, ``target``'s shape does not match, ``target`` or
                the stored ``weight`` is on another device than ``input``, ``weight`` does not have ``C`` entries;
                for CPU tensors in eager mode, if a class index is outside ``[0, C)`` and not ``ignore_index``, or a
                probability target has a negative or NaN entry.
        """
        return super().forward(input, target)

    def _fixed(self, input: Tensor, target: Tensor, ce_weight: float, reg_weight: float) -> Tensor:
        return F.min_entropy_loss(
            input,
            target,
            ce_weight=ce_weight,
            entropy_weight=reg_weight,
            ce_base=self.ce_base,
            entropy_base=self.entropy_base,
            **self._options(),
        )


class MixedEntropyLoss(_TwoTermLoss):
    r"""MIX-ENT: cross entropy plus the swapped ("reverse") cross entropy ``CE(p_hat -> max(q', eps))``.

    For strictly positive targets the reverse term is ``H(p_hat) + KL(p_hat || q')``; for one-hot targets it
    is ``(1 - p_hat_y) log(1/eps)``, a symmetric cross entropy with ``log 0 := log eps``. It carries the sample
    weight ``s_i`` and shares cross entropy's 'mean' denominator. See
    :func:`infoloss.functional.mixed_entropy_loss`.

    .. math::
        \ell_i = w_{ce}\, \mathrm{CE}_i + w_R\, s_i\, R_i, \qquad
        R_i = -\sum_c \hat p_{ic} \log \max(q'_{ic}, \varepsilon)

    With ``learnable=True`` the two weights are learned by homoscedastic-uncertainty weighting (Kendall, Gal
    and Cipolla). The module then owns a parameter ``log_vars = (s_ce, s_R)`` of shape ``(2,)``, initialized
    to ``(-log ce_weight, -log reverse_weight)`` (so both weights must be > 0), and returns

    .. math::
        L = e^{-s_{ce}}\, \overline{\mathrm{CE}} + e^{-s_R}\, \overline{R} + s_{ce} + s_R

    where the bars are the reduced (mean or sum) terms. Gradient descent on ``w_ce * CE + w_R * R`` over
    the weights themselves would drive both to zero; the ``+ s`` terms make the optimum ``e^{-s} = 1 / term``
    instead, so each weight settles at the inverse of its term's size and cannot collapse. Pass
    ``criterion.parameters()`` to the optimizer, and read the weights in effect from
    :attr:`effective_weights` (assigning ``ce_weight`` or ``reverse_weight`` then raises). A term that shrinks
    towards 0 (e.g. an entropy driven to 0) gets a growing weight ``1 / term``: watch :attr:`effective_weights`,
    or clamp ``log_vars``, if that matters. The two terms are computed in two passes over the logits (the
    fixed-weight path fuses them into one). With ``reduction='none'`` the learned weights multiply the
    per-element terms and the ``s`` terms are left out (add ``log_vars.sum()`` when you reduce).

    With ``learnable=False`` the attributes ``ce_weight`` and ``reverse_weight`` can be reassigned between steps
    (e.g. from :func:`infoloss.regularizer_weight`); an assigned value must be a finite number.

    Args:
        ce_weight: ``w_ce``, a finite number (> 0 when ``learnable``). Default ``1.0``.
        reverse_weight: ``w_R``, a finite number (> 0 when ``learnable``). Default ``0.1``.
        ce_base: logarithm base of the CE term (``None``: nats). Default ``None``.
        reverse_base: logarithm base of the reverse term (``None``: nats). Default ``None``.
        eps: floor of the target inside the reverse term's log, in ``(0, 1)``. Default ``1e-6``.
        weight: class weights, a 1-D floating tensor of shape ``(C,)``, stored as a buffer (it follows
            ``.to(device)`` and is saved in the ``state_dict``). Default ``None`` (all 1).
        ignore_index: class-index value whose elements contribute nothing (converted with ``int()``). Default
            ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` as in
            :func:`infoloss.functional.cross_entropy`. Default ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        learnable: learn both weights (see above). Default ``False``.

    Raises:
        TypeError: if ``weight`` is not a floating tensor or ``ignore_index`` not an int; if ``ce_weight``, ``reverse_weight``, ``eps``, ``label_smoothing`` or
            a base is not a number.
        ValueError: if ``reduction`` is not one of the three; if ``weight`` is not 1-D; if
            ``label_smoothing`` is not in ``[0, 1]``; if a base is not a finite number > 0 and != 1; if ``ce_weight`` or
            ``reverse_weight`` is not finite (or is <= 0 with ``learnable=True``); if ``eps`` is not in ``(0, 1)``.
        AttributeError: on assigning ``ce_weight`` or ``reverse_weight`` of a ``learnable=True`` module.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)`` logits (the class dim is 1; 0 for 1-D input).
        - Target: class indices ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (integer dtype), or probabilities
          shaped as the input (floating dtype).
        - Output: scalar; ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` if ``reduction='none'``.

    Example:
        >>> import torch, infoloss
        >>> x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])   # CE ln 2, R = 0.5 * ln(1e6) = 6.9078
        >>> round(infoloss.MixedEntropyLoss(reverse_weight=0.1)(x, y).item(), 4)   # 0.6931 + 0.1 * 6.9078
        1.3839
        >>> learned = infoloss.MixedEntropyLoss(reverse_weight=0.1, learnable=True)
        >>> round(learned(x, y).item(), 4)   # 1.3839 + 0 + ln 10
        3.6865
        >>> [round(w, 4) for w in learned.effective_weights]
        [1.0, 0.1]

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
        - Y. Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels", ICCV 2019.
          https://arxiv.org/abs/1908.06112
        - A. Kendall, Y. Gal and R. Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
          Geometry and Semantics", CVPR 2018. https://arxiv.org/abs/1705.07115
    """

    _key_names = ("eps",)
    _reg_name = "reverse_weight"
    _base_names = ("ce_base", "reverse_base")
    _reverse = True

    def __init__(
        self,
        *,
        ce_weight: float = 1.0,
        reverse_weight: float = 0.1,
        ce_base: float | None = None,
        reverse_base: float | None = None,
        eps: float = 1e-6,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        learnable: bool = False,
    ) -> None:
        super().__init__(ce_weight, reverse_weight, weight, ignore_index, reduction, label_smoothing, learnable)
        log_base(ce_base, "ce_base")
        log_base(reverse_base, "reverse_base")
        self.eps = check_open_unit(eps, "eps")
        self.ce_base, self.reverse_base = ce_base, reverse_base

    @property
    def effective_weights(self) -> tuple[float, float]:
        """The (CE, reverse) weights in effect (the fixed values, or ``exp(-log_vars)`` when learnable).

        Returns:
            A tuple of two Python floats ``(w_ce, w_R)``; with ``learnable=True`` they are read from the current
            ``log_vars`` (float32, so ``0.1`` reads back as ``0.0999999940...``).
        """
        return super().effective_weights

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """MIX-ENT loss of ``input`` logits against ``target``, with the stored (or learned) weights.

        Args:
            input: logits ``x``, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype.
            target: class indices of ``input``'s shape without the class dim (integer dtype, values in ``[0, C)``
                or ``ignore_index``), or probabilities of ``input``'s shape (floating dtype).

        Returns:
            Scalar tensor (``'mean'``/``'sum'``; with ``learnable=True`` it includes ``log_vars.sum()``), or shape
            ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``); in ``input``'s dtype (float32 under autocast
            for float16/bfloat16).

        Raises:
            TypeError: if ``input`` is not a floating tensor, ``target`` is not a tensor or is bool/complex, or the
                stored ``weight`` is not floating.
            ValueError: if ``input`` is a scalar or has no classes, ``target``'s shape does not match, ``target`` or
                the stored ``weight`` is on another device than ``input``, ``weight`` does not have ``C`` entries;
                for CPU tensors in eager mode, if a class index is outside ``[0, C)`` and not ``ignore_index``, or a
                probability target has a negative or NaN entry.
        """
        return super().forward(input, target)

    def _rev_log_eps(self) -> float:
        return math.log(self.eps)

    def _fixed(self, input: Tensor, target: Tensor, ce_weight: float, reg_weight: float) -> Tensor:
        return F.mixed_entropy_loss(
            input,
            target,
            ce_weight=ce_weight,
            reverse_weight=reg_weight,
            ce_base=self.ce_base,
            reverse_base=self.reverse_base,
            eps=self.eps,
            **self._options(),
        )


class SymmetricCrossEntropyLoss(_WeightedLoss):
    r"""Symmetric cross entropy ``alpha * CE + beta * RCE`` for learning with noisy labels.

    The reverse cross entropy needs ``log 0``; it is the constant ``A = log_zero``, and every ``log q'`` is
    floored at ``A`` (one-hot targets: ``RCE = -A (1 - p_y)``). See
    :func:`infoloss.functional.symmetric_cross_entropy`.

    .. math::
        \ell_i = \alpha\, \mathrm{CE}_i + \beta\, s_i\, \mathrm{RCE}_i, \qquad
        \mathrm{RCE}_i = -\sum_c \hat p_{ic} \max(\log q'_{ic}, A)

    Args:
        alpha: weight of the CE term, a finite number. Default ``0.1``.
        beta: weight of the RCE term, a finite number. Default ``1.0``.
        log_zero: ``A < 0``, the value used for ``log 0``. Default ``-4.0``.
        weight: class weights, a 1-D floating tensor of shape ``(C,)``, stored as a buffer (it follows
            ``.to(device)`` and is saved in the ``state_dict``). Default ``None`` (all 1).
        ignore_index: class-index value whose elements contribute nothing (converted with ``int()``). Default
            ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` as in
            :func:`infoloss.functional.cross_entropy`. Default ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Raises:
        TypeError: if ``weight`` is not a floating tensor or ``ignore_index`` not an int; if ``alpha``, ``beta``, ``log_zero``, ``label_smoothing`` or a base is
            not a number.
        ValueError: if ``reduction`` is not one of the three; if ``weight`` is not 1-D; if
            ``label_smoothing`` is not in ``[0, 1]``; if a base is not a finite number > 0 and != 1; if ``alpha``,
            ``beta`` or ``log_zero`` is not finite, or ``log_zero >= 0``.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)`` logits (the class dim is 1; 0 for 1-D input).
        - Target: class indices ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (integer dtype), or probabilities
          shaped as the input (floating dtype).
        - Output: scalar; ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` if ``reduction='none'``.

    Example:
        >>> import torch, infoloss
        >>> x, y = torch.zeros(1, 2), torch.tensor([0])
        >>> infoloss.SymmetricCrossEntropyLoss(alpha=0.0, beta=1.0)(x, y)   # -A (1 - p_y) = 4 * 0.5
        tensor(2.)
        >>> round(infoloss.SymmetricCrossEntropyLoss()(x, y).item(), 4)   # 0.1 * ln 2 + 2
        2.0693

    References:
        - Y. Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy Labels", ICCV 2019.
          https://arxiv.org/abs/1908.06112
    """

    def __init__(
        self,
        *,
        alpha: float = 0.1,
        beta: float = 1.0,
        log_zero: float = -4.0,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.alpha = check_finite_number(alpha, "alpha")
        self.beta = check_finite_number(beta, "beta")
        self.log_zero = check_finite_number(log_zero, "log_zero")
        if self.log_zero >= 0:
            raise ValueError(f"log_zero must be negative (it stands for log 0), got {log_zero!r}")
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Symmetric cross entropy of ``input`` logits against ``target``, with the stored options.

        Args:
            input: logits ``x``, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype.
            target: class indices of ``input``'s shape without the class dim (integer dtype, values in ``[0, C)``
                or ``ignore_index``), or probabilities of ``input``'s shape (floating dtype).

        Returns:
            Scalar tensor (``'mean'``/``'sum'``), or shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``); in
            ``input``'s dtype (float32 under autocast for float16/bfloat16).

        Raises:
            TypeError: if ``input`` is not a floating tensor, ``target`` is not a tensor or is bool/complex, or the
                stored ``weight`` is not floating.
            ValueError: if ``input`` is a scalar or has no classes, ``target``'s shape does not match, ``target`` or
                the stored ``weight`` is on another device than ``input``, ``weight`` does not have ``C`` entries;
                for CPU tensors in eager mode, if a class index is outside ``[0, C)`` and not ``ignore_index``, or a
                probability target has a negative or NaN entry.
        """
        return F.symmetric_cross_entropy(
            input, target, alpha=self.alpha, beta=self.beta, log_zero=self.log_zero, base=self.base, **self._options()
        )


class FocalLoss(_WeightedLoss):
    r"""Multi-class focal loss on logits.

    For class indices without smoothing ``-w_y (1 - p_y)^gamma log p_y``; ``gamma = 0`` is cross entropy. The
    class ``weight`` plays the role of Lin et al.'s alpha-balancing. See :func:`infoloss.functional.focal_loss`.

    .. math::
        \ell_i = -\sum_c w_c\, q'_{ic}\, (1 - \hat p_{ic})^{\gamma} \log_b \hat p_{ic}

    Args:
        gamma: focusing parameter, a finite number >= 0. Default ``2.0``.
        weight: class weights, a 1-D floating tensor of shape ``(C,)``, stored as a buffer (it follows
            ``.to(device)`` and is saved in the ``state_dict``). Default ``None`` (all 1).
        ignore_index: class-index value whose elements contribute nothing (converted with ``int()``). Default
            ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` as in
            :func:`infoloss.functional.cross_entropy`. Default ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Raises:
        TypeError: if ``weight`` is not a floating tensor or ``ignore_index`` not an int; if ``gamma``, ``label_smoothing`` or a base is not a number.
        ValueError: if ``reduction`` is not one of the three; if ``weight`` is not 1-D; if
            ``label_smoothing`` is not in ``[0, 1]``; if a base is not a finite number > 0 and != 1; if ``gamma`` is not
            finite or is negative.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)`` logits (the class dim is 1; 0 for 1-D input).
        - Target: class indices ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (integer dtype), or probabilities
          shaped as the input (floating dtype).
        - Output: scalar; ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` if ``reduction='none'``.

    Example:
        >>> import torch, infoloss
        >>> x, y = torch.tensor([[2.0, 1.0, 0.1]]), torch.tensor([0])   # p_y = 0.6590
        >>> round(infoloss.FocalLoss(gamma=2.0)(x, y).item(), 4)   # (1 - 0.6590)^2 * -ln 0.6590
        0.0485

    References:
        - T.-Y. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017. https://arxiv.org/abs/1708.02002
    """

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.gamma = check_finite_number(gamma, "gamma")
        if self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Focal loss of ``input`` logits against ``target``, with the stored options.

        Args:
            input: logits ``x``, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype.
            target: class indices of ``input``'s shape without the class dim (integer dtype, values in ``[0, C)``
                or ``ignore_index``), or probabilities of ``input``'s shape (floating dtype).

        Returns:
            Scalar tensor (``'mean'``/``'sum'``), or shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``); in
            ``input``'s dtype (float32 under autocast for float16/bfloat16).

        Raises:
            TypeError: if ``input`` is not a floating tensor, ``target`` is not a tensor or is bool/complex, or the
                stored ``weight`` is not floating.
            ValueError: if ``input`` is a scalar or has no classes, ``target``'s shape does not match, ``target`` or
                the stored ``weight`` is on another device than ``input``, ``weight`` does not have ``C`` entries;
                for CPU tensors in eager mode, if a class index is outside ``[0, C)`` and not ``ignore_index``, or a
                probability target has a negative or NaN entry.
        """
        return F.focal_loss(input, target, gamma=self.gamma, base=self.base, **self._options())


class Poly1CrossEntropyLoss(_WeightedLoss):
    r"""Poly-1 loss: cross entropy plus ``epsilon * (1 - p_t)``.

    ``p_t = sum_c q'_c p_c`` is the probability of the true class. See
    :func:`infoloss.functional.poly1_cross_entropy`.

    .. math::
        \ell_i = \mathrm{CE}_i + \epsilon\, s_i \left(1 - \sum_c q'_{ic} \hat p_{ic}\right) / \ln b

    Args:
        epsilon: weight of the polynomial term, a finite number. Default ``1.0``.
        weight: class weights, a 1-D floating tensor of shape ``(C,)``, stored as a buffer (it follows
            ``.to(device)`` and is saved in the ``state_dict``). Default ``None`` (all 1).
        ignore_index: class-index value whose elements contribute nothing (converted with ``int()``). Default
            ``-100``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; ``'mean'`` as in
            :func:`infoloss.functional.cross_entropy`. Default ``'mean'``.
        label_smoothing: ``eps`` in ``[0, 1]``; the target becomes ``q' = (1 - eps) q + eps / C``. Default
            ``0.0``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.

    Raises:
        TypeError: if ``weight`` is not a floating tensor or ``ignore_index`` not an int; if ``epsilon``, ``label_smoothing`` or a base is not a number.
        ValueError: if ``reduction`` is not one of the three; if ``weight`` is not 1-D; if
            ``label_smoothing`` is not in ``[0, 1]``; if a base is not a finite number > 0 and != 1; if ``epsilon`` is
            not finite.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)`` logits (the class dim is 1; 0 for 1-D input).
        - Target: class indices ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (integer dtype), or probabilities
          shaped as the input (floating dtype).
        - Output: scalar; ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` if ``reduction='none'``.

    Example:
        >>> import torch, infoloss
        >>> round(infoloss.Poly1CrossEntropyLoss(epsilon=1.0)(torch.zeros(1, 2), torch.tensor([0])).item(), 4)
        1.1931

    References:
        - Z. Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions",
          ICLR 2022. https://arxiv.org/abs/2204.12511
    """

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        base: float | None = None,
    ) -> None:
        super().__init__(weight, ignore_index, reduction, label_smoothing)
        self.epsilon = check_finite_number(epsilon, "epsilon")
        log_base(base)
        self.base = base

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Poly-1 loss of ``input`` logits against ``target``, with the stored options.

        Args:
            input: logits ``x``, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype.
            target: class indices of ``input``'s shape without the class dim (integer dtype, values in ``[0, C)``
                or ``ignore_index``), or probabilities of ``input``'s shape (floating dtype).

        Returns:
            Scalar tensor (``'mean'``/``'sum'``), or shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``); in
            ``input``'s dtype (float32 under autocast for float16/bfloat16).

        Raises:
            TypeError: if ``input`` is not a floating tensor, ``target`` is not a tensor or is bool/complex, or the
                stored ``weight`` is not floating.
            ValueError: if ``input`` is a scalar or has no classes, ``target``'s shape does not match, ``target`` or
                the stored ``weight`` is on another device than ``input``, ``weight`` does not have ``C`` entries;
                for CPU tensors in eager mode, if a class index is outside ``[0, C)`` and not ``ignore_index``, or a
                probability target has a negative or NaN entry.
        """
        return F.poly1_cross_entropy(input, target, epsilon=self.epsilon, base=self.base, **self._options())


class KLDivergenceLoss(nn.Module):
    r"""``KL(target || softmax(input))`` with reductions that do what their names say.

    ``'mean'`` averages the per-element divergences over the ``N * d_1 * ... * d_K`` elements (torch's
    ``'batchmean'`` for 2-D input), not over every entry. See :func:`infoloss.functional.kl_divergence`.

    .. math::
        \mathrm{KL}(q \,\|\, p) = \sum_c q_c \left(\log_b q_c - \log_b p_c\right), \qquad
        p = \operatorname{softmax}(x)

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        base: logarithm base: ``None`` (nats), ``2`` (bits), ``10`` (hartleys), or any finite
            number > 0 and != 1. A value in base ``b`` is the nat value divided by ``ln b``. Default ``None``.
        log_target: whether the target holds log-probabilities. Default ``False``.

    Raises:
        ValueError: if ``reduction`` is not one of the three, or ``base`` is not a finite number > 0 and != 1.
        TypeError: if ``base`` is not a number.

    Shape:
        - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)`` logits (the class dim is 1; 0 for 1-D input).
        - Target: probabilities (or log-probabilities) of the input's shape.
        - Output: scalar; ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` if ``reduction='none'``.

    Example:
        >>> import torch, infoloss
        >>> q = torch.tensor([[0.25, 0.75]])
        >>> infoloss.KLDivergenceLoss()(torch.log(q), q)
        tensor(0.)
        >>> infoloss.KLDivergenceLoss()(torch.zeros(1, 2), q)   # 0.25 ln(0.25/0.5) + 0.75 ln(0.75/0.5)
        tensor(0.1308)

    References:
        - S. Kullback and R. A. Leibler, "On Information and Sufficiency", Annals of Mathematical Statistics,
          1951. https://doi.org/10.1214/aoms/1177729694
    """

    def __init__(self, *, reduction: str = "mean", base: float | None = None, log_target: bool = False) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        log_base(base)
        self.base = base
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Divergence of ``softmax(input)`` from ``target``, with the stored options.

        Args:
            input: logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d_1, ..., d_K)``, floating dtype.
            target: probabilities of ``input``'s shape, floating dtype (log-probabilities if ``log_target``).

        Returns:
            Scalar tensor (``'mean'``/``'sum'``), or shape ``()``, ``(N,)`` or ``(N, d_1, ..., d_K)`` (``'none'``); in
            ``input``'s dtype (float32 under autocast for float16/bfloat16).

        Raises:
            TypeError: if ``input`` or ``target`` is not a floating tensor.
            ValueError: if ``input`` is a scalar or ``target``'s shape differs from ``input``'s; for a CPU
                ``target`` in eager mode without ``log_target``, if an entry is negative.
        """
        return F.kl_divergence(input, target, reduction=self.reduction, base=self.base, log_target=self.log_target)
