"""
Bespoke losses: horse, zebra, whale, shark
==========================================

A zebra taken for a horse should cost less than a zebra taken for a whale. Plain cross entropy cannot
tell the two mistakes apart; the three bespoke losses of :mod:`infoloss.bespoke` can. The numbers are
those of the :doc:`bespoke guide </bespoke>`.
"""

import matplotlib.pyplot as plt
import torch

import infoloss.functional as F
from infoloss import bespoke

classes = list(bespoke.ANIMAL_CLASSES)
T = bespoke.animal_target_matrix()  # soft labels: row y is the target distribution for true class y
cost = bespoke.animal_cost_matrix()  # height of the lowest common ancestor in {land: [horse, zebra], sea: [...]}
print(T)
print(cost)

# %%
# A zebra, two predictions: the wrong mass goes towards the horse, or towards the whale.
zebra = torch.tensor([1])
preds = {"towards horse": torch.tensor([[2.0, 1.0, 0.0, 0.0]]), "towards whale": torch.tensor([[0.0, 1.0, 2.0, 0.0]])}
rows = {
    "cross entropy": lambda z: F.cross_entropy(z, zebra),
    "similarity CE": lambda z: bespoke.similarity_cross_entropy(z, zebra, T),
    "pairwise cost": lambda z: bespoke.pairwise_cost_loss(z, zebra, cost),
    "expected cost": lambda z: bespoke.expected_cost_loss(z, zebra, cost),
}
values = {name: [fn(z).item() for z in preds.values()] for name, fn in rows.items()}
print(f"{'loss':<15} {'towards horse':>14} {'towards whale':>14}")
for name, (a, b) in values.items():
    print(f"{name:<15} {a:>14.4f} {b:>14.4f}")
assert abs(values["cross entropy"][0] - values["cross entropy"][1]) < 1e-6  # a tie
assert values["similarity CE"][0] < values["similarity CE"][1]

# %%
# The matrices and the losses of the two predictions.
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
for ax, (mat, title) in zip(axes[:2], [(T, "target matrix T"), (cost, "cost matrix")], strict=True):
    ax.imshow(mat, cmap="viridis")
    ax.set(
        xticks=range(4),
        yticks=range(4),
        xticklabels=classes,
        yticklabels=classes,
        title=title,
        xlabel="predicted / target class",
        ylabel="true class",
    )
    for i in range(4):
        for j in range(4):
            ax.text(
                j,
                i,
                f"{mat[i, j].item():.1f}",
                ha="center",
                va="center",
                color="w" if mat[i, j] < mat.max() / 2 else "k",
            )
width = 0.38
xs = torch.arange(len(values)).double()
for k, label in enumerate(preds):
    axes[2].bar(xs + (k - 0.5) * width, [v[k] for v in values.values()], width, label=label)
axes[2].set(xticks=xs, xticklabels=list(values), ylabel="nats", title="a zebra: two mistakes")
axes[2].tick_params(axis="x", labelrotation=20)
axes[2].legend()
plt.show()
