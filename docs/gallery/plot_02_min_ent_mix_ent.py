"""
MIN-ENT and MIX-ENT next to cross entropy
=========================================

MIN-ENT adds ``w_H * H(p)`` to cross entropy; MIX-ENT adds ``w_R * R`` with the swapped cross entropy
``R = -sum_c p_c log max(q_c, eps)``. This example evaluates both along a line of logits, checks the
identity ``R = (1 - p_y) log(1/eps)`` for a one-hot target, and checks the entropy gradient
``dH/dz_j = -p_j (log p_j + H)`` that the fused kernels compute, against autograd.
"""

import math

import matplotlib.pyplot as plt
import torch

import infoloss
import infoloss.functional as F

# %%
# Three classes, the true one is 0; its logit ``m`` moves, the other two stay at 0.
m = torch.linspace(-4, 6, 201, dtype=torch.float64)
logits = torch.stack([m, torch.zeros_like(m), torch.zeros_like(m)], dim=1)
target = torch.zeros(len(m), dtype=torch.long)

ce = F.cross_entropy(logits, target, reduction="none")
h = F.entropy(logits)
min_ent = F.min_entropy_loss(logits, target, entropy_weight=0.1, reduction="none")
mix_ent = F.mixed_entropy_loss(logits, target, reverse_weight=0.1, eps=1e-6, reduction="none")

p_y = logits.softmax(dim=1)[:, 0]
r = (mix_ent - ce) / 0.1
print("max |R - (1 - p_y) log(1/eps)| =", f"{(r - (1 - p_y) * math.log(1e6)).abs().max().item():.2e}")
print("max |MIN-ENT - (CE + 0.1 H)|   =", f"{(min_ent - (ce + 0.1 * h)).abs().max().item():.2e}")

fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
ax.plot(m, ce, label="cross entropy")
ax.plot(m, min_ent, label="MIN-ENT (w=0.1)")
ax.plot(m, mix_ent, label="MIX-ENT (w=0.1, eps=1e-6)")
ax.plot(m, h, ls="--", color="gray", label="entropy H(p)")
ax.set(xlabel="logit of the true class (others 0)", ylabel="nats", ylim=(0, 6))
ax.legend()
plt.show()

# %%
# The entropy gradient, analytic vs autograd
# ------------------------------------------
z = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
(g_auto,) = torch.autograd.grad(F.entropy(z).sum(), z)
with torch.no_grad():
    logp = z.log_softmax(dim=1)
    p = logp.exp()
    g_formula = -p * (logp + (-(p * logp).sum(dim=1, keepdim=True)))
print("max |autograd - formula| =", f"{(g_auto - g_formula).abs().max().item():.2e}")
assert torch.allclose(g_auto, g_formula, atol=1e-12)

# %%
# The module form is a drop-in for ``torch.nn.CrossEntropyLoss``:
criterion = infoloss.MinEntropyLoss(entropy_weight=0.1)
x = torch.tensor([[2.0, 1.0, 0.1]])
print(criterion(x, torch.tensor([0])))
