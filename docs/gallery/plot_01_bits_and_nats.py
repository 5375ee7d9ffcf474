"""
Information, entropy and cross entropy: bits and nats
=====================================================

The quantities of the :doc:`primer </primer>`, computed with :mod:`infoloss.functional` and checked
against the formulas written out in float64. The base of the logarithm only sets the unit: a value in
base ``b`` is the value in nats divided by ``ln b``.
"""

import math

import matplotlib.pyplot as plt
import torch

import infoloss.functional as F

# %%
# The tutorial's logits
# ---------------------
# ``softmax([2.0, 1.0, 0.1]) = [0.6590, 0.2424, 0.0986]``. Its entropy is 0.8467 nats, not the 0.9686
# a widely copied tutorial prints; no base gives 0.9686.
z = torch.tensor([[2.0, 1.0, 0.1]], dtype=torch.float64)
p = z.softmax(dim=1)
by_hand = -(p * p.log()).sum().item()
for base, unit in [(None, "nats"), (2, "bits"), (10, "hartleys")]:
    print(f"H(p) = {F.entropy(z, base=base).item():.4f} {unit}")
print(
    f"by hand: {by_hand:.4f} nats; cross entropy for class 0: {F.cross_entropy(z, torch.tensor([0])).item():.4f} nats"
)
assert abs(F.entropy(z).item() - by_hand) < 1e-12 and abs(by_hand - 0.8467) < 5e-5

# %%
# Cat, dog, horse
# ---------------
# The label is horse; the prediction is ``[0.1, 0.1, 0.8]``. Cross entropy on probabilities is the
# information content of the true class, ``-log 0.8``.
probs = torch.tensor([0.1, 0.1, 0.8], dtype=torch.float64)
for base, unit in [(None, "nats"), (2, "bits"), (10, "hartleys")]:
    ce = F.information(probs, base=base)[2].item()
    print(f"CE = -log p[horse] = {ce:.4f} {unit}")
assert abs(F.information(probs)[2].item() - (-math.log(0.8))) < 1e-12

# %%
# Information content and the entropy of a coin
# ---------------------------------------------
# Left: the surprise ``-log p`` of an outcome of probability ``p``. Right: the entropy of a coin that
# lands heads with probability ``p``; one bit at ``p = 1/2``, i.e. ``ln 2 = 0.693`` nats.
grid = torch.linspace(1e-4, 1 - 1e-4, 500, dtype=torch.float64)
coin = torch.stack([grid, 1 - grid], dim=1)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
for base, unit in [(2, "bits"), (None, "nats")]:
    ax1.plot(grid, F.information(grid, base=base), label=unit)
    ax2.plot(grid, F.entropy(probs=coin, base=base), label=unit)
ax1.set(xlabel="p", ylabel="I(p) = -log p", ylim=(0, 8), title="information content")
ax2.set(xlabel="p(heads)", ylabel="H", title="entropy of a coin")
ax2.axhline(1.0, color="gray", lw=0.6, ls=":")
for ax in (ax1, ax2):
    ax.legend()
plt.show()
