"""
Comparing losses over paired seeds with the harness
===================================================

``infoloss compare`` trains every loss on the same seeds (same initialization and data order) and reports
each against cross entropy with a paired t-test and a bootstrap interval. This is a deliberately tiny run
(scikit-learn's digits, a small MLP, 3 epochs, 3 seeds, a few seconds on a CPU) so that the site can run it
on every build: its conclusions are the harness's real output for this run, and with 3 seeds they are
expected to be "not distinguishable from seed noise". The full-size runs are in the
:doc:`harness guide </experiments>`.
"""

import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt

from infoloss import cli

run_dir = Path(tempfile.mkdtemp(prefix="infoloss-compare-")) / "run"
argv = [
    "compare",
    "--losses",
    "ce",
    "min-ent",
    "mix-ent",
    "--num-seeds",
    "3",
    "--epochs",
    "3",
    "--model",
    "mlp",
    "--run-dir",
    str(run_dir),
    "--no-progress",
]
print("infoloss", " ".join(argv[:-3] + argv[-1:]))
assert cli.main(argv) == 0

# %%
# The plots the run wrote to its directory, as written (learning curves with seed bands, reliability
# diagrams, entropy histograms, accuracy with intervals):
# sphinx_gallery_multi_image = "single"
for png in sorted(run_dir.glob("*.png")):
    img = mpimg.imread(png)
    fig = plt.figure(figsize=(img.shape[1] / 100, img.shape[0] / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(img)
    ax.set_axis_off()
    print(png.name)
plt.show()
