r"""Hugging Face ``transformers`` / TRL integration: entropy-regularized fine-tuning of causal LMs.

Three entry points (see ``docs/huggingface.md``):

* :func:`loss_function` returns a callable with the contract of HF's ``model.loss_function``
  (``ForCausalLMLoss``): assign it to ``model.loss_function`` and any ``*ForCausalLM`` computes an infoloss
  loss from its logits, with HF's shift, float32 upcast, ``ignore_index`` and ``num_items_in_batch``
  normalization (so gradient accumulation and DDP equal one large batch). :func:`compute_loss_func` is the
  same loss for ``Trainer(compute_loss_func=...)``.
* :func:`apply_infoloss` patches a supported ``*ForCausalLM`` in place so that a training forward with
  ``labels`` computes the loss from the decoder's last hidden states and ``lm_head.weight`` through the fused
  linear losses (:func:`infoloss.linear_min_entropy_loss`, ...): the (B, T, V) logits are never built.
* :class:`TokenEntropyCallback` logs the mean next-token entropy next to the loss; :class:`InfolossSFTTrainer`
  (TRL) trains a patched model with its infoloss loss.

Importing this module imports ``transformers``; ``import infoloss`` does not.

Normalization (every entry point). With shifted targets ``y_i`` (HF: ``labels[:, 1:]`` padded with
``ignore_index``), ``V_set = {i : y_i != ignore_index}`` and the per-token loss ``l_i`` of the named infoloss
loss (``docs/design.md``)::

    loss = sum_{i in V_set} l_i / num_items_in_batch      if num_items_in_batch is given (HF Trainer: the
                                                          non-ignored tokens of the whole accumulated batch)
    loss = sum_{i in V_set} l_i / |V_set|                  otherwise (0 when V_set is empty; HF gives NaN)
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
import sys
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import transformers
from torch import Tensor, nn
from transformers import TrainerCallback

import infoloss
from infoloss import functional as F

__all__ = [
    "LOSSES",
    "SUPPORTED_ARCHITECTURES",
    "CausalLMLoss",
    "loss_function",
    "compute_loss_func",
    "apply_infoloss",
    "remove_infoloss",
    "is_infoloss_patched",
    "pop_token_entropy",
    "TokenEntropyCallback",
]  # and InfolossSFTTrainer, made on first access (it imports trl)


# ------------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class _LossSpec:
    """One named loss: its functional form, defaults, and (if any) its fused linear form."""

    functional: Callable[..., Tensor]
    defaults: dict[str, Any]
    linear: str | None  # "ce" | "min-ent" | "mix-ent" | None (no fused linear path)
    to_linear: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda kw: dict(kw))


def _sce_to_linear(kw: dict[str, Any]) -> dict[str, Any]:
    # SCE = alpha * CE + beta * s_i * R_i with eps = exp(log_zero): MIX-ENT with these weights (docs/design.md).
    kw = dict(kw)
    base = kw.pop("base", None)
    return dict(
        ce_weight=kw.pop("alpha"),
        reverse_weight=kw.pop("beta"),
        eps=math.exp(kw.pop("log_zero")),
        ce_base=base,
        reverse_base=base,
        **kw,
    )


#: Loss names accepted by :func:`loss_function` and :func:`apply_infoloss`, with their defaults (the same
#: defaults as the experiment harness, :mod:`infoloss.experiments.losses`). ``linear`` is None for losses
#: without a fused linear form (``apply_infoloss`` refuses them; ``loss_function`` takes them).
LOSSES: dict[str, _LossSpec] = {
    "ce": _LossSpec(F.cross_entropy, {}, "ce"),
    "label-smoothing": _LossSpec(F.cross_entropy, {"label_smoothing": 0.1}, "ce"),
    "min-ent": _LossSpec(F.min_entropy_loss, {"entropy_weight": 0.1}, "min-ent"),
    "confidence-penalty": _LossSpec(F.min_entropy_loss, {"entropy_weight": -0.1}, "min-ent"),
    "mix-ent": _LossSpec(F.mixed_entropy_loss, {"reverse_weight": 0.1, "eps": 1e-6}, "mix-ent"),
    "sce": _LossSpec(
        F.symmetric_cross_entropy, {"alpha": 0.1, "beta": 1.0, "log_zero": -4.0}, "mix-ent", _sce_to_linear
    ),
    "focal": _LossSpec(F.focal_loss, {"gamma": 2.0}, None),
    "poly1": _LossSpec(F.poly1_cross_entropy, {"epsilon": 1.0}, None),
}

_FIXED_BY_CONTRACT = ("weight", "ignore_index", "reduction")


def _spec(loss: str) -> tuple[str, _LossSpec]:
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a loss name (str), got {type(loss).__name__}")
    name = loss.strip().lower().replace("_", "-")
    if name not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid losses: {', '.join(LOSSES)}")
    return name, LOSSES[name]


def _check_kwargs(name: str, spec: _LossSpec, loss_kwargs: dict[str, Any]) -> dict[str, Any]:
    for key in _FIXED_BY_CONTRACT:
        if key in loss_kwargs:
            raise ValueError(
                f"{key!r} is not a loss keyword here: HF's contract fixes it (ignore_index comes with each call, "
                f"the reduction is the token mean or sum / num_items_in_batch, and class weights would not match "
                f"num_items_in_batch, a token count)"
            )
    params = inspect.signature(spec.functional).parameters
    valid = [p for p in params if params[p].kind == inspect.Parameter.KEYWORD_ONLY or p == "label_smoothing"]
    valid = [p for p in valid if p not in _FIXED_BY_CONTRACT]
    unknown = sorted(set(loss_kwargs) - set(valid))
    if unknown:
        raise TypeError(f"loss {name!r} takes no keyword(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    kwargs = {**spec.defaults, **loss_kwargs}
    # Validate the values now (a wrong value fails here, not at step 1000): one call on a tiny input.
    spec.functional(torch.zeros(2, 3), torch.tensor([0, -100]), reduction="sum", **kwargs)
    return kwargs


# ------------------------------------------------------------------------------------------------ loss_function
def _shift_targets(labels: Tensor, ignore_index: int, shift_labels: Tensor | None) -> Tensor:
    """HF's ``ForCausalLMLoss`` shift: pad ``labels`` on the right with ``ignore_index``, drop the first."""
    if shift_labels is None:
        labels = nn.functional.pad(labels, (0, 1), value=ignore_index)
        shift_labels = labels[..., 1:]
    return shift_labels.reshape(-1)


def _normalize(loss_sum: Tensor, num_items_in_batch: Tensor | int) -> Tensor:
    """``loss_sum / num_items_in_batch`` without reading a tensor count on the host (no device sync)."""
    if isinstance(num_items_in_batch, Tensor):
        return loss_sum / num_items_in_batch.to(loss_sum.device)
    return loss_sum / num_items_in_batch


class CausalLMLoss:
    r"""An infoloss loss with the contract of HF's ``model.loss_function`` for causal LMs.

    Made by :func:`loss_function`. Called as
    ``loss(logits, labels, vocab_size, num_items_in_batch=None, ignore_index=-100, shift_labels=None, **kwargs)``,
    as a ``*ForCausalLM`` forward calls its ``loss_function``.

    .. math::
        \mathcal L = \frac{1}{D} \sum_{i:\, y_i \ne \mathrm{ignore}} \ell_i(\mathrm{float32}(z_i), y_i), \qquad
        D = \texttt{num\_items\_in\_batch} \text{ if given, else } |\{i: y_i \ne \mathrm{ignore}\}|

    with ``y = labels[:, 1:]`` (padded on the right with ``ignore_index``) unless ``shift_labels`` is given,
    and ``ell_i`` the per-token loss of the named infoloss function. When every target is ignored and
    ``num_items_in_batch`` is None the loss is 0 (HF's ``ForCausalLMLoss`` gives NaN).

    Args:
        loss: a key of :data:`LOSSES`. Default ``'min-ent'``.
        **loss_kwargs: keywords of the infoloss function (``weight``, ``ignore_index`` and ``reduction`` are
            fixed by the contract); the defaults of :data:`LOSSES` fill in the others.

    Attributes:
        name: the loss name (a key of :data:`LOSSES`).
        loss_kwargs: its keywords (defaults filled in).

    Raises:
        TypeError: if ``loss`` is not a str, or a keyword is not one the loss takes.
        ValueError: if ``loss`` is not a known name (the message lists the valid ones), a keyword is fixed by
            the contract, or a keyword value is rejected by the loss (checked at construction on a tiny input).

    Shape:
        - Logits: ``(B, T, V)`` (any shape whose last dim is ``vocab_size``).
        - Labels: ``(B, T)``, integer; or ``shift_labels`` with the logits' leading shape.
        - Output: scalar, float32 (float64 for float64 logits).

    Example:
        >>> import torch
        >>> from infoloss.integrations.transformers import CausalLMLoss
        >>> fn = CausalLMLoss("ce", label_smoothing=0.1)
        >>> fn
        CausalLMLoss('ce', label_smoothing=0.1)
        >>> logits = torch.tensor([[[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]]])
        >>> round(fn(logits, torch.tensor([[1, 0]]), vocab_size=3).item(), 4)  # one target: y = 0 at t = 0
        0.5137
    """

    def __init__(self, loss: str = "min-ent", **loss_kwargs: Any) -> None:
        self.name, self._spec = _spec(loss)
        self.loss_kwargs = _check_kwargs(self.name, self._spec, loss_kwargs)

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in self.loss_kwargs.items())
        return f"CausalLMLoss({self.name!r}{', ' if kw else ''}{kw})"

    def rows(self, logits2d: Tensor, target: Tensor, *, ignore_index: int, reduction: str) -> Tensor:
        """The named loss of ``(N, V)`` logits and ``(N,)`` targets with the given reduction.

        Args:
            logits2d: logits, shape ``(N, V)``, floating.
            target: class indices, shape ``(N,)``, integer dtype.
            ignore_index: class index of ignored rows.
            reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

        Returns:
            Scalar tensor, or shape ``(N,)`` for ``'none'``.
        """
        return self._spec.functional(
            logits2d, target, ignore_index=ignore_index, reduction=reduction, **self.loss_kwargs
        )

    def __call__(
        self,
        logits: Tensor,
        labels: Tensor,
        vocab_size: int,
        num_items_in_batch: Tensor | int | None = None,
        ignore_index: int = -100,
        shift_labels: Tensor | None = None,
        **kwargs: Any,
    ) -> Tensor:
        """Loss of ``(B, T, V)`` logits against ``(B, T)`` labels, with the formula of the class.

        Args:
            logits: shape ``(B, T, V)`` (any shape whose last dim is ``vocab_size``), floating; upcast to
                float32.
            labels: shape ``(B, T)``, integer; shifted left by one (padded with ``ignore_index``).
            vocab_size: V.
            num_items_in_batch: the denominator D (a tensor, never read on the host, or an int); None: the
                number of non-ignored targets.
            ignore_index: label value of ignored positions. Default ``-100``.
            shift_labels: already-shifted targets with the logits' leading shape; replaces the shift of
                ``labels``.
            **kwargs: other keywords of HF's call, ignored.

        Returns:
            Scalar tensor, float32 (float64 for float64 logits).
        """
        logits = logits.float()  # as HF: the loss of bf16/fp16 logits is computed in float32
        logits = logits.reshape(-1, vocab_size)
        target = _shift_targets(labels, ignore_index, shift_labels).to(logits.device)
        if num_items_in_batch is None:
            return self.rows(logits, target, ignore_index=ignore_index, reduction="mean")
        return _normalize(self.rows(logits, target, ignore_index=ignore_index, reduction="sum"), num_items_in_batch)


def loss_function(loss: str = "min-ent", **loss_kwargs: Any) -> CausalLMLoss:
    r"""An infoloss loss with HF's ``model.loss_function`` contract (``ForCausalLMLoss``).

    .. math:: \mathcal L = \frac{1}{D} \sum_{i:\,y_i \ne \mathrm{ignore}} \ell_i, \qquad
              D = \texttt{num\_items\_in\_batch} \text{ (if given) or the number of non-ignored } y_i

    ``y`` is ``labels`` shifted left by one (HF's shift), logits are upcast to float32, and ``ell_i`` is the
    per-token loss named by ``loss`` (``min-ent``: ``ce_weight * CE_i + entropy_weight * H_i``).
    ``num_items_in_batch`` may be a tensor or an int; it is never read on the host, so the Trainer's gradient
    accumulation and ``average_tokens_across_devices`` give exactly the update of one large batch.
    Deviation from HF: when every target is ignored and ``num_items_in_batch`` is None the loss is 0 (HF: NaN).

    Args:
        loss: a key of :data:`LOSSES`: ``ce``, ``label-smoothing``, ``min-ent``, ``confidence-penalty``,
            ``mix-ent``, ``sce``, ``focal``, ``poly1`` (defaults as in the experiment harness).
        **loss_kwargs: keywords of the infoloss function (e.g. ``entropy_weight=0.05``, ``label_smoothing``,
            ``ce_base``); ``weight``, ``ignore_index`` and ``reduction`` are fixed by the contract.

    Returns:
        A :class:`CausalLMLoss`; assign it with ``model.loss_function = loss_function(...)``.

    Raises:
        TypeError: if ``loss`` is not a str, or a keyword is not one the loss takes.
        ValueError: if ``loss`` is not a known name (the message lists the valid ones), a keyword is fixed by
            the contract, or a keyword value is rejected by the loss.

    Example:
        >>> import torch
        >>> from infoloss.integrations.transformers import loss_function
        >>> fn = loss_function("min-ent", entropy_weight=0.1)
        >>> logits, labels = torch.zeros(1, 3, 4), torch.tensor([[1, 2, -100]])
        >>> round(fn(logits, labels, vocab_size=4).item(), 4)   # uniform: CE = H = log 4; 1.1 * 1.3863
        1.5249
        >>> round(fn(logits, labels, vocab_size=4, num_items_in_batch=torch.tensor(4)).item(), 4)  # 1 of 4 tokens
        0.3812
    """
    return CausalLMLoss(loss, **loss_kwargs)


def compute_loss_func(loss: str = "min-ent", **loss_kwargs: Any) -> Callable[..., Tensor]:
    """The same loss for ``Trainer(compute_loss_func=...)``: ``fn(outputs, labels, num_items_in_batch=None)``.

    The Trainer then pops ``labels`` from the inputs, so the model returns its (B, T, V) logits and ``fn``
    applies :func:`loss_function`'s formula to ``outputs.logits``. Prefer ``model.loss_function =
    loss_function(...)`` (plain ``Trainer``) or :func:`apply_infoloss` (no logits); this form is for trainers
    that bypass the model's loss, e.g. TRL's ``SFTTrainer``.

    Args:
        loss: as :func:`loss_function`.
        **loss_kwargs: as :func:`loss_function`.

    Returns:
        A callable ``(outputs, labels, num_items_in_batch=None) -> Tensor`` (a float32 scalar); its ``loss``
        attribute is the :class:`CausalLMLoss`.

    Raises:
        TypeError: as :func:`loss_function`.
        ValueError: as :func:`loss_function`; the returned callable raises it too when ``outputs`` has no
            ``logits`` (a model patched by :func:`apply_infoloss` returns ``logits=None``).

    Example:
        >>> import torch
        >>> from types import SimpleNamespace
        >>> fn = compute_loss_func("ce")
        >>> out = SimpleNamespace(logits=torch.zeros(1, 3, 4))
        >>> round(fn(out, torch.tensor([[1, 2, 3]])).item(), 4)  # uniform over 4 classes: log 4
        1.3863
    """
    fn = CausalLMLoss(loss, **loss_kwargs)

    def compute(outputs: Any, labels: Tensor, num_items_in_batch: Tensor | int | None = None) -> Tensor:
        logits = outputs.get("logits") if isinstance(outputs, dict) else getattr(outputs, "logits", None)
        if logits is None:
            raise ValueError(
                "compute_loss_func needs outputs.logits; a model patched by apply_infoloss returns "
                "logits=None when it computes the loss itself (drop compute_loss_func then)"
            )
        return fn(logits, labels, logits.shape[-1], num_items_in_batch=num_items_in_batch)

    compute.loss = fn  # type: ignore[attr-defined]
    return compute


# ------------------------------------------------------------------------------------------------ apply_infoloss
#: Architectures :func:`apply_infoloss` patches: class name -> whether its forward applies Gemma's
#: ``final_logit_softcapping``. Each is tested on a tiny random config against the stock forward.
SUPPORTED_ARCHITECTURES: dict[str, bool] = {
    "LlamaForCausalLM": False,
    "MistralForCausalLM": False,
    "Qwen2ForCausalLM": False,
    "Qwen3ForCausalLM": False,
    "GemmaForCausalLM": False,
    "Gemma2ForCausalLM": True,
    "Gemma3ForCausalLM": True,
    "Phi3ForCausalLM": False,
    "Olmo2ForCausalLM": False,
    "GPT2LMHeadModel": False,
}

_KNOWN_REFUSALS = {
    "CohereForCausalLM": "it scales its logits (logit_scale)",
    "Cohere2ForCausalLM": "it scales its logits (logit_scale)",
    "GraniteForCausalLM": "it divides its logits by logits_scaling",
    "GraniteMoeForCausalLM": "it divides its logits by logits_scaling and adds a MoE auxiliary loss",
    "MixtralForCausalLM": "it adds a MoE router auxiliary loss to the loss",
    "Qwen2MoeForCausalLM": "it adds a MoE router auxiliary loss to the loss",
    "Qwen3MoeForCausalLM": "it adds a MoE router auxiliary loss to the loss",
    "FalconH1ForCausalLM": "it multiplies its logits by lm_head_multiplier",
}

_SOFTCAP_LOGITS = [
    "logits = logits / self.config.final_logit_softcapping",
    "logits = torch.tanh(logits)",
    "logits = logits * self.config.final_logit_softcapping",
]


@dataclass
class _Layout:
    """What the verified stock forward does: decoder attribute, output class and its field sources."""

    decoder: str
    output_cls: type
    fields: dict[str, str]  # output field -> attribute of the decoder's output
    params: list[str]  # forward's named parameters (after self), in order


class _Refused(ValueError):
    pass


def _verify_forward(cls: Any, softcap: bool) -> _Layout:
    """Parse ``cls.forward`` and check it is exactly: decoder -> last hidden state -> slice -> lm_head
    [-> Gemma softcap] -> self.loss_function -> return OutputClass(...). Anything else raises _Refused."""
    fwd = inspect.unwrap(cls.forward)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fwd)))
    except (OSError, TypeError, SyntaxError) as e:
        raise _Refused(f"cannot read the source of {cls.__name__}.forward ({e})") from None
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    params = [a.arg for a in fn.args.args[1:]]
    seen: dict[str, list[str]] = {"logits": [], "hidden_states": [], "loss": []}
    decoder: str | None = None
    decoder_out: str | None = None
    for node in ast.walk(fn):
        if isinstance(node, ast.AugAssign):
            raise _Refused(f"{cls.__name__}.forward updates {ast.unparse(node.target)} in place")
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) != 1 or not isinstance(targets[0], ast.Name) or node.value is None:
                continue
            name, value = targets[0].id, node.value
            if name in seen:
                seen[name].append(ast.unparse(node.value) if name != "loss" else ast.unparse(node))
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and isinstance(value.func.value, ast.Name)
                and value.func.value.id == "self"
                and value.func.attr not in ("lm_head", "loss_function")
            ):
                if decoder is not None:
                    raise _Refused(f"{cls.__name__}.forward calls two submodules ({decoder}, {value.func.attr})")
                decoder, decoder_out = value.func.attr, name
                for a in value.args:
                    if not (isinstance(a, ast.Name) and a.id in params):
                        raise _Refused(f"{cls.__name__}.forward passes {ast.unparse(a)} to self.{decoder}")
                for k in value.keywords:
                    ok = (
                        (k.arg is None and isinstance(k.value, ast.Name) and k.value.id == fn.args.kwarg.arg)
                        if fn.args.kwarg
                        else False
                    )
                    ok = ok or (k.arg in params and isinstance(k.value, ast.Name) and k.value.id == k.arg)
                    if not ok:
                        raise _Refused(f"{cls.__name__}.forward passes {ast.unparse(k)} to self.{decoder}")
    if decoder is None or decoder_out is None:
        raise _Refused(f"{cls.__name__}.forward has no decoder call")
    want_hidden = [f"{decoder_out}.last_hidden_state", "slice_logits_to_keep(hidden_states, logits_to_keep)"]
    want_logits = ["self.lm_head(hidden_states)"] + ([s.split(" = ", 1)[1] for s in _SOFTCAP_LOGITS] if softcap else [])
    if seen["hidden_states"] != want_hidden:
        raise _Refused(f"{cls.__name__}.forward makes its hidden states as {seen['hidden_states']}, not {want_hidden}")
    if seen["logits"] != want_logits:
        raise _Refused(f"{cls.__name__}.forward transforms its logits as {seen['logits']}, not {want_logits}")
    losses = seen["loss"]
    if len(losses) != 2 or losses[0] != "loss = None" or not losses[1].startswith("loss = self.loss_function("):
        raise _Refused(f"{cls.__name__}.forward computes its loss as {losses}")
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    if (
        len(returns) != 1
        or not isinstance(returns[0].value, ast.Call)
        or not isinstance(returns[0].value.func, ast.Name)
    ):
        raise _Refused(f"{cls.__name__}.forward does not end in one `return OutputClass(...)`")
    ret = returns[0].value
    assert isinstance(ret.func, ast.Name)
    output_cls = sys.modules[cls.__module__].__dict__.get(ret.func.id)
    if not (isinstance(output_cls, type) and dataclasses.is_dataclass(output_cls)):
        raise _Refused(f"{cls.__name__}.forward returns {ret.func.id}, not a ModelOutput dataclass")
    fields: dict[str, str] = {}
    for k in ret.keywords:
        if k.arg == "loss" and isinstance(k.value, ast.Name) and k.value.id == "loss":
            continue
        if k.arg == "logits" and isinstance(k.value, ast.Name) and k.value.id == "logits":
            continue
        if (
            k.arg is not None
            and isinstance(k.value, ast.Attribute)
            and isinstance(k.value.value, ast.Name)
            and k.value.value.id == decoder_out
        ):
            fields[k.arg] = k.value.attr
            continue
        raise _Refused(f"{cls.__name__}.forward returns {ast.unparse(k)}")
    return _Layout(decoder=decoder, output_cls=output_cls, fields=fields, params=params)


@dataclass
class _Patch:
    loss: CausalLMLoss
    linear_kwargs: dict[str, Any]
    layout: _Layout
    softcap: bool
    skip_logits: bool | None
    track_entropy: bool
    chunk_size: int | None
    cls_forward: Callable[..., Any]
    saved_loss_function: Any
    entropy_sum: Tensor | None = None
    entropy_count: Tensor | None = None


def _linear_fn(kind: str) -> Callable[..., Tensor]:
    fns: dict[str, Callable[..., Tensor]] = {
        "ce": infoloss.linear_cross_entropy,
        "min-ent": infoloss.linear_min_entropy_loss,
        "mix-ent": infoloss.linear_mixed_entropy_loss,
    }
    return fns[kind]


def _supports_softcap() -> bool:
    return "softcap" in inspect.signature(infoloss.linear_cross_entropy).parameters


@torch.no_grad()
def _entropy_sum(
    hidden: Tensor, weight: Tensor, bias: Tensor | None, softcap: float | None, chunk_rows: int | None
) -> Tensor:
    """sum_i H(softmax(z_i)) over the rows of ``hidden`` (z = softcap(hidden @ weight.T + bias)), chunked.

    One reused chunk buffer (about 32 MiB of float32 logits by default, as the fused loss), the softcap
    applied in place, and :func:`infoloss.functional.entropy` (the fused row kernel) per chunk.
    """
    acc = torch.float64 if hidden.dtype == torch.float64 else torch.float32
    total = torch.zeros((), dtype=acc, device=hidden.device)
    n, vocab = hidden.shape[0], weight.shape[0]
    if n == 0:
        return total
    step = min(n, chunk_rows or max(1, (1 << 23) // max(1, vocab)))
    buf = torch.empty(step, vocab, dtype=hidden.dtype, device=hidden.device)
    for r0 in range(0, n, step):
        h = hidden[r0 : r0 + step]
        z = buf[: h.shape[0]]
        if bias is None:
            torch.mm(h, weight.t(), out=z)
        else:
            torch.addmm(bias, h, weight.t(), out=z)
        if softcap is not None:
            z.div_(softcap).tanh_().mul_(softcap)
        total += F.entropy(z, reduction="sum").to(acc)
    return total


def _infoloss_forward(self: Any, *args: Any, **kwargs: Any) -> Any:
    """The patched forward: see :func:`apply_infoloss`."""
    patch: _Patch = self._infoloss
    if args:
        if len(args) > len(patch.layout.params):
            raise TypeError(f"forward takes at most {len(patch.layout.params)} positional arguments")
        for name, value in zip(patch.layout.params, args, strict=False):
            if name in kwargs:
                raise TypeError(f"forward got multiple values for argument {name!r}")
            kwargs[name] = value
    skip = patch.skip_logits if patch.skip_logits is not None else self.training
    if kwargs.get("labels") is None:
        return patch.cls_forward(self, **kwargs)
    if not skip:
        # Logits wanted: the stock forward, whose self.loss_function is this patch's CausalLMLoss.
        out = patch.cls_forward(self, **kwargs)
        logits = out["logits"] if isinstance(out, dict) else out[1]
        if patch.track_entropy:
            ignore_index = kwargs.get("ignore_index", -100)
            target = _shift_targets(kwargs["labels"], ignore_index, kwargs.get("shift_labels")).to(logits.device)
            with torch.no_grad():
                z = logits.detach().reshape(-1, logits.shape[-1])[target != ignore_index].float()
                logp = torch.log_softmax(z, dim=-1)
                _record_entropy(self, patch, -(logp.exp() * logp).sum(), z.shape[0], out)
        return out

    config_return = getattr(self.config, "return_dict", True)
    return_dict = kwargs.pop("return_dict", None)
    return_dict = config_return if return_dict is None else return_dict
    labels = kwargs.pop("labels")
    logits_to_keep = kwargs.pop("logits_to_keep", 0)
    num_items_in_batch = kwargs.pop("num_items_in_batch", None)
    ignore_index = kwargs.pop("ignore_index", -100)
    shift_labels = kwargs.pop("shift_labels", None)

    outputs = getattr(self, patch.layout.decoder)(**kwargs)
    hidden = transformers.modeling_utils.slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
    lm_head = self.get_output_embeddings()
    if type(lm_head) is not nn.Linear:
        raise RuntimeError(
            f"infoloss: the LM head is a {type(lm_head).__name__}, not a plain nn.Linear (LoRA, quantization or "
            "another wrapper changed it after apply_infoloss): its output is not hidden @ weight.T + bias; "
            "call remove_infoloss(model) or leave the LM head out of the adapter"
        )
    hidden = hidden.reshape(-1, hidden.shape[-1]).to(lm_head.weight.device)
    target = _shift_targets(labels, ignore_index, shift_labels).to(hidden.device)
    if target.shape[0] != hidden.shape[0]:
        raise ValueError(
            f"{hidden.shape[0]} positions have logits (logits_to_keep={logits_to_keep!r}) but there "
            f"are {target.shape[0]} shifted labels; pass shift_labels of the kept positions"
        )
    valid = target != ignore_index
    h, t = hidden[valid], target[valid]  # only scored rows reach the LM head
    softcap = self.config.final_logit_softcapping if patch.softcap else None
    extra = {"softcap": softcap} if softcap is not None else {}
    loss = _linear_fn(patch.loss._spec.linear or "ce")(
        h,
        lm_head.weight,
        t,
        lm_head.bias,
        ignore_index=ignore_index,
        reduction="mean" if num_items_in_batch is None else "sum",
        chunk_size=patch.chunk_size,
        **patch.linear_kwargs,
        **extra,
    )
    if loss.dtype != torch.float64:
        loss = loss.float()
    if num_items_in_batch is not None:
        loss = _normalize(loss, num_items_in_batch)
    out = patch.layout.output_cls(
        loss=loss, logits=None, **{k: getattr(outputs, a, None) for k, a in patch.layout.fields.items()}
    )
    if patch.track_entropy:
        ent = _entropy_sum(
            h.detach(),
            lm_head.weight.detach(),
            None if lm_head.bias is None else lm_head.bias.detach(),
            softcap,
            patch.chunk_size,
        )
        _record_entropy(self, patch, ent, t.shape[0], out)
    return out if return_dict else out.to_tuple()


def _record_entropy(model: Any, patch: _Patch, ent_sum: Tensor, count: int, out: Any) -> None:
    ent_sum = ent_sum.float()
    if not isinstance(out, tuple):  # return_dict=False: a tuple has no room for it
        out.token_entropy = ent_sum / count if count else ent_sum * 0.0
    if model.training:
        c = torch.tensor(float(count), device=ent_sum.device)
        patch.entropy_sum = ent_sum if patch.entropy_sum is None else patch.entropy_sum + ent_sum
        patch.entropy_count = c if patch.entropy_count is None else patch.entropy_count + c


def _unwrap(model: Any) -> Any:
    while True:
        inner = getattr(model, "module", None)  # DDP / DataParallel
        if isinstance(inner, nn.Module):
            model = inner
            continue
        get_base = getattr(model, "get_base_model", None)  # PEFT
        if callable(get_base) and not hasattr(model, "_infoloss"):
            base = get_base()
            if base is not model:
                model = base
                continue
        return model


def is_infoloss_patched(model: nn.Module) -> bool:
    """Whether ``model`` (or the model inside a DDP / PEFT wrapper) was patched by :func:`apply_infoloss`.

    Args:
        model: any ``nn.Module``.

    Returns:
        True if the (unwrapped) model carries the patch of :func:`apply_infoloss`.

    Example:
        >>> import torch
        >>> from infoloss.integrations.transformers import is_infoloss_patched
        >>> is_infoloss_patched(torch.nn.Linear(2, 2))
        False
    """
    return hasattr(_unwrap(model), "_infoloss")


def apply_infoloss(
    model: Any,
    loss: str = "min-ent",
    *,
    skip_logits: bool | None = None,
    track_entropy: bool = True,
    chunk_size: int | None = None,
    **loss_kwargs: Any,
) -> Any:
    r"""Patch a causal LM in place: its loss comes from the fused linear losses, no (B, T, V) logits.

    After the patch a forward with ``labels`` (and, by default, ``model.training``) runs the decoder, takes its
    last hidden states ``h`` (sliced by ``logits_to_keep``), keeps the rows whose shifted label is not
    ``ignore_index`` and returns

    .. math:: \mathcal L = \frac{1}{D}\sum_{i:\,y_i \ne \mathrm{ignore}} \ell_i(z_i, y_i), \qquad
              z_i = \operatorname{softcap}(W h_i + b), \quad
              \operatorname{softcap}(z) = c \tanh(z / c) \text{ (Gemma 2/3; identity elsewhere)}

    computed chunk by chunk by :func:`infoloss.linear_min_entropy_loss` (or the CE / MIX-ENT form) with
    ``W = lm_head.weight`` (the tied embedding for GPT-2 and tied configs) and ``b = lm_head.bias``;
    ``D`` and the shift are :func:`loss_function`'s. The output is the model's own output class with
    ``logits=None`` (as HF's Liger path) and one extra attribute ``token_entropy``: the mean of
    ``H(softmax(z_i))`` over the scored tokens (float32, no gradient). Forwards without ``labels``
    (generation) are the stock forward. With ``skip_logits=False`` (or in eval mode by default) a forward
    with labels is the stock one with ``model.loss_function`` set to the same loss: logits are returned and
    the loss value is the same.

    Only the architectures in :data:`SUPPORTED_ARCHITECTURES` are patched, and only if their ``forward``
    matches, statement by statement, the one verified for them (decoder -> slice -> lm_head [-> softcap] ->
    loss_function), so a transformers release that changes it is refused rather than mis-computed. Apply the
    patch before wrapping the model with PEFT, DDP or TRL's trainers (see :class:`InfolossSFTTrainer`).

    The patched forward raises ``RuntimeError`` if the LM head is no longer a plain ``nn.Linear`` (an adapter
    or quantization added after the patch), ``ValueError`` if the kept positions and the shifted labels differ
    in number, and ``TypeError`` for too many or duplicated positional arguments.

    Args:
        model: a ``*ForCausalLM`` instance (e.g. ``LlamaForCausalLM``), patched in place.
        loss: a key of :data:`LOSSES` with a fused form: ``ce``, ``label-smoothing``, ``min-ent``,
            ``confidence-penalty``, ``mix-ent``, ``sce``.
        skip_logits: True: always fused when labels are given; False: never (stock forward + this loss);
            None (default): fused in training mode, logits in eval mode (as Liger).
        track_entropy: compute ``token_entropy`` (one extra forward-only pass of the LM head, no gradient:
            one more matmul of the LM head's three). False sets no attribute.
        chunk_size: rows per chunk of the fused loss (default: about 2**23 / V).
        **loss_kwargs: the loss's keywords, as :func:`loss_function`.

    Returns:
        ``model`` itself (patched).

    Raises:
        TypeError: if ``model`` is not a ``transformers.PreTrainedModel``; if ``loss`` is not a str or a
            keyword is not one the loss takes; if ``chunk_size`` is not an int or None (a bool included).
        ValueError: if the architecture is not supported (with the reason where known: logit scaling, MoE
            auxiliary loss), its forward differs from the verified one, or was already replaced on the
            instance (e.g. by TRL or Liger); if the LM head is not a plain ``nn.Linear``; if the loss has no
            fused form (focal, poly1: use :func:`loss_function`); if ``chunk_size`` is < 1; if a loss
            keyword is fixed by the contract or its value is rejected.
        NotImplementedError: if the model softcaps its logits (Gemma 2/3) and this build's linear losses take
            no ``softcap``.

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from infoloss.integrations.transformers import apply_infoloss
        >>> cfg = LlamaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        ...                   intermediate_size=64, vocab_size=100)
        >>> model = apply_infoloss(LlamaForCausalLM(cfg), "min-ent", entropy_weight=0.1).train()
        >>> _ = torch.nn.init.zeros_(model.lm_head.weight)  # logits 0: uniform, CE = H = log 100
        >>> ids = torch.arange(16).reshape(2, 8)
        >>> out = model(input_ids=ids, labels=ids)
        >>> out.logits, round(out.loss.item(), 4), round(out.token_entropy.item(), 4)  # 1.1 log 100, log 100
        (None, 5.0657, 4.6052)
        >>> out.loss.backward()
        >>> model.lm_head.weight.grad.shape
        torch.Size([100, 32])
    """
    if not isinstance(model, transformers.PreTrainedModel):
        raise TypeError(f"model must be a transformers PreTrainedModel, got {type(model).__name__}")
    if hasattr(model, "_infoloss"):
        remove_infoloss(model)
    cls = type(model)
    name = cls.__name__
    if name not in SUPPORTED_ARCHITECTURES or not cls.__module__.startswith("transformers.models."):
        reason = _KNOWN_REFUSALS.get(name, "it is not among the verified architectures")
        wrapped = (
            " (apply the patch before wrapping with PEFT / DDP)"
            if hasattr(model, "get_base_model") or hasattr(model, "module")
            else ""
        )
        raise ValueError(
            f"apply_infoloss cannot patch {name}: {reason}{wrapped}. Supported: "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}. Any causal LM can use "
            f"model.loss_function = loss_function(...) instead (it builds the logits)."
        )
    if "forward" in vars(model):
        raise ValueError(
            f"{name}.forward was already replaced on this instance (e.g. by TRL's fused LM head or "
            f"Liger): apply_infoloss must see the stock forward; apply it first"
        )
    softcap = SUPPORTED_ARCHITECTURES[name]
    try:
        layout = _verify_forward(cls, softcap)
    except _Refused as e:
        raise ValueError(
            f"apply_infoloss cannot patch {name}: {e}; this transformers "
            f"{transformers.__version__} forward is not the verified one"
        ) from None
    lm_head = model.get_output_embeddings()  # type: ignore[no-untyped-call]  # unannotated in transformers
    if type(lm_head) is not nn.Linear:
        raise ValueError(f"apply_infoloss needs the LM head to be a plain nn.Linear, got {type(lm_head).__name__}")
    if softcap and getattr(model.config, "final_logit_softcapping", None) is not None and not _supports_softcap():
        raise NotImplementedError(
            f"{name} softcaps its logits and this infoloss build's linear losses take no "
            "softcap=; use model.loss_function = loss_function(...) instead"
        )
    fn = CausalLMLoss(loss, **loss_kwargs)
    if fn._spec.linear is None:
        fused = [k for k, s in LOSSES.items() if s.linear is not None]
        raise ValueError(
            f"loss {fn.name!r} has no fused linear form; apply_infoloss takes {', '.join(fused)} "
            f"(use model.loss_function = loss_function({fn.name!r}) for the others)"
        )
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)):
        raise TypeError(f"chunk_size must be a positive int or None, got {type(chunk_size).__name__} {chunk_size!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    patch = _Patch(
        loss=fn,
        linear_kwargs=fn._spec.to_linear(fn.loss_kwargs),
        layout=layout,
        softcap=softcap,
        skip_logits=skip_logits,
        track_entropy=bool(track_entropy),
        chunk_size=chunk_size,
        cls_forward=cls.forward,
        saved_loss_function=vars(model).get("_loss_function"),
    )
    object.__setattr__(model, "_infoloss", patch)
    model.loss_function = fn  # the logits path (eval / skip_logits=False) computes the same loss

    # A fresh function per patch that keeps the stock signature (Trainer checks it for **kwargs, generate
    # validates its kwargs against it); functools.wraps mutates the function it decorates.
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _infoloss_forward(self, *args, **kwargs)

    model.forward = types.MethodType(functools.wraps(cls.forward)(forward), model)
    return model


def remove_infoloss(model: Any) -> Any:
    """Undo :func:`apply_infoloss`: the stock forward and the previous ``loss_function`` come back.

    Args:
        model: a model patched by :func:`apply_infoloss` (not a DDP / PEFT wrapper around it).

    Returns:
        ``model`` itself (unpatched).

    Raises:
        ValueError: if the model is not patched.

    Example:
        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> from infoloss.integrations.transformers import apply_infoloss, is_infoloss_patched, remove_infoloss
        >>> cfg = GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50, bos_token_id=0, eos_token_id=0)
        >>> m = apply_infoloss(GPT2LMHeadModel(cfg), "ce")
        >>> is_infoloss_patched(m), is_infoloss_patched(remove_infoloss(m))
        (True, False)
    """
    patch = vars(model).get("_infoloss")
    if patch is None:
        raise ValueError("the model is not patched by apply_infoloss")
    del model.__dict__["_infoloss"]
    model.__dict__.pop("forward", None)
    model.__dict__.pop("_loss_function", None)
    if patch.saved_loss_function is not None:
        model.loss_function = patch.saved_loss_function
    return model


def pop_token_entropy(model: nn.Module) -> float | None:
    r"""Mean next-token entropy (nats) over the training tokens scored since the last call; resets the sums.

    Sums over every training-mode forward with labels of a model patched by :func:`apply_infoloss`
    (micro-batches of gradient accumulation included), all-reduced over ranks when ``torch.distributed`` is
    initialized (so every rank must call it, as the Trainer's logging does).

    .. math:: \bar H = \frac{1}{n} \sum_{i=1}^{n} H(\operatorname{softmax}(z_i))

    over the ``n`` scored (non-ignored) tokens of those forwards.

    Args:
        model: a model patched by :func:`apply_infoloss`, or a DDP / PEFT wrapper around one.

    Returns:
        The mean entropy as a float, or None if the model is not patched or nothing was scored.

    Example:
        >>> import torch
        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> from infoloss.integrations.transformers import apply_infoloss, pop_token_entropy
        >>> cfg = GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50, bos_token_id=0, eos_token_id=0)
        >>> m = apply_infoloss(GPT2LMHeadModel(cfg), "ce").train()
        >>> _ = torch.nn.init.zeros_(m.lm_head.weight)  # logits 0: every token's entropy is log 50
        >>> ids = torch.arange(6).reshape(1, 6)
        >>> _ = m(input_ids=ids, labels=ids)
        >>> round(pop_token_entropy(m), 4), pop_token_entropy(m)  # the second call: nothing scored since
        (3.912, None)
    """
    inner = _unwrap(model)
    patch = getattr(inner, "_infoloss", None)
    if patch is None:
        return None
    if patch.entropy_sum is None or patch.entropy_count is None:  # this rank scored nothing: it still reduces
        pair = torch.zeros(2, device=inner.get_output_embeddings().weight.device)
    else:
        pair = torch.stack([patch.entropy_sum.float(), patch.entropy_count.float()])
    patch.entropy_sum = patch.entropy_count = None
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(pair)
    total, count = pair.tolist()
    return total / count if count > 0 else None


class TokenEntropyCallback(TrainerCallback):
    """Adds ``token_entropy`` (mean next-token entropy, nats, see :func:`pop_token_entropy`) to training logs.

    Works with a model patched by :func:`apply_infoloss`; the value averages every training token scored
    since the previous log, next to the ``loss`` of the same steps. The Trainer runs callbacks in order, so
    reporting integrations listed before this one (``report_to``) do not see the key: insert the callback
    first, ``trainer.callback_handler.callbacks.insert(0, TokenEntropyCallback())``, to report it there.
    The console and ``trainer.state.log_history`` always get it.

    Example:
        >>> import torch
        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> from infoloss.integrations.transformers import TokenEntropyCallback, apply_infoloss
        >>> cfg = GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50, bos_token_id=0, eos_token_id=0)
        >>> m = apply_infoloss(GPT2LMHeadModel(cfg), "ce").train()
        >>> _ = torch.nn.init.zeros_(m.lm_head.weight)  # logits 0: entropy log 50
        >>> ids = torch.arange(6).reshape(1, 6)
        >>> logs = {"loss": round(m(input_ids=ids, labels=ids).loss.item(), 4)}  # CE = log 50 as well
        >>> TokenEntropyCallback().on_log(None, None, None, logs=logs, model=m)
        >>> {k: round(v, 4) for k, v in logs.items()}
        {'loss': 3.912, 'token_entropy': 3.912}
    """

    key = "token_entropy"

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: dict[str, float] | None = None,
        model: nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        """Add ``token_entropy`` to ``logs`` (and to the last ``state.log_history`` entry) when it has a loss.

        Args:
            args: the ``TrainingArguments`` (unused).
            state: the ``TrainerState``; its ``log_history[-1]`` gets the key when it is this log.
            control: the ``TrainerControl`` (unused).
            logs: the log dict, updated in place; nothing happens without a ``'loss'`` key.
            model: the trained model (patched, or a DDP / PEFT wrapper around a patched one).
            **kwargs: other callback keywords (unused).
        """
        if logs is None or model is None or "loss" not in logs:
            return
        value = pop_token_entropy(model)
        if value is None:
            return
        logs[self.key] = value
        history = getattr(state, "log_history", None)
        if history and history[-1].get("loss") == logs.get("loss"):
            history[-1][self.key] = value


def _make_sft_trainer() -> type:
    from transformers import Trainer
    from trl import SFTTrainer  # type: ignore[attr-defined]  # trl's __init__ imports it without re-exporting

    class InfolossSFTTrainer(SFTTrainer):
        """TRL's ``SFTTrainer`` training a model patched by :func:`apply_infoloss` with the patched loss.

        TRL 1.x's ``SFTTrainer`` wraps the model's forward with its own fused LM head and computes the NLL
        from its per-token log-probabilities, bypassing the model's loss: a patched model trained by the plain
        ``SFTTrainer`` is trained with CE, not with its infoloss loss. This subclass computes the loss as
        ``transformers.Trainer`` does (the model's ``loss``, normalized by ``num_items_in_batch``) and logs the
        patched model's ``token_entropy`` as TRL's ``entropy`` metric. TRL's ``mean_token_accuracy`` is not
        logged (it needs the logits).

        Args:
            *args: as ``trl.SFTTrainer``.
            **kwargs: as ``trl.SFTTrainer``; ``compute_loss_func`` must be None.

        Raises:
            ValueError: if the model is not patched by :func:`apply_infoloss` (patch it before building the
                trainer), or a ``compute_loss_func`` is given.

        Example:
            >>> from trl import SFTConfig  # doctest: +SKIP
            >>> from infoloss.integrations.transformers import InfolossSFTTrainer, apply_infoloss
            >>> model = apply_infoloss(model, "min-ent", entropy_weight=0.1)  # doctest: +SKIP
            >>> trainer = InfolossSFTTrainer(model=model, args=SFTConfig("out"), train_dataset=ds)  # doctest: +SKIP
            >>> trainer.train()  # doctest: +SKIP
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if not is_infoloss_patched(self.model):  # type: ignore[arg-type]
                raise ValueError(
                    "InfolossSFTTrainer needs a model patched by apply_infoloss(model, ...) before the trainer is built"
                )
            if self.compute_loss_func is not None:
                raise ValueError("InfolossSFTTrainer uses the patched model's loss; drop compute_loss_func")

        def compute_loss(
            self,
            model: nn.Module,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Tensor | int | None = None,
        ) -> Any:
            mode = "train" if model.training else "eval"
            inputs["use_cache"] = False
            loss, outputs = Trainer.compute_loss(
                self, model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
            )
            ent = getattr(outputs, "token_entropy", None)
            metrics = getattr(self, "_metrics", None)
            if ent is not None and metrics is not None:
                metrics[mode]["entropy"].append(float(self.accelerator.gather_for_metrics(ent.detach()).mean()))
            return (loss, outputs) if return_outputs else loss

    InfolossSFTTrainer.__module__ = __name__
    return InfolossSFTTrainer


def __getattr__(name: str) -> Any:
    if name == "InfolossSFTTrainer":  # imports trl only when asked for
        cls = _make_sft_trainer()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
