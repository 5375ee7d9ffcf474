"""Optional integrations with other libraries; each submodule imports its library only when imported itself.

* :mod:`infoloss.integrations.transformers`: Hugging Face ``transformers`` (and TRL) causal-LM fine-tuning
  with infoloss losses: ``loss_function`` (HF's ``model.loss_function`` contract), ``apply_infoloss`` (fused
  LM head, no (B, T, V) logits), ``TokenEntropyCallback``. Install with ``pip install "infoloss[transformers]"``.

``import infoloss`` and ``import infoloss.integrations`` never import ``transformers``.
"""

__all__: list[str] = []
