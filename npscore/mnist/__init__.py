"""MNIST: read it, fit its pixels, model its score, sample it, score the samples.

=================  ===========================================================
``idx``            the IDX reader and :func:`load_mnist` (no downloads)
``base``           the per-pixel base density and the Gaussian fit
``model``          the gated noise-conditional score model
``classifier``     a hand-written classifier: classifier-FID, IS analogue
``run``            train, checkpoint, sample, evaluate
=================  ===========================================================

First report, section 1 (MNIST as the running example, x in R^784).
"""
from .idx import load_mnist, mnist_dir, read_idx

__all__ = ["load_mnist", "mnist_dir", "read_idx"]
