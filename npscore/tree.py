"""Parameter trees: a network's params are a list of ``(W, b)`` pairs.

Optimisers, the EMA and checkpoints treat them leaf by leaf through these
three functions.
"""
from . import backend


def tree_map(fn, *trees):
    """``fn`` applied leafwise to params-shaped trees.

    Parameters
    ----------
    fn : callable
        Takes one leaf from each tree, returns the new leaf.
    *trees : list of (W, b)
        Trees of one structure.

    Returns
    -------
    list of (W, b)
    """
    return [tuple(fn(*leaves) for leaves in zip(*layers)) for layers in zip(*trees)]


def tree_leaves(tree):
    """The arrays of a params-shaped tree, in the order W0, b0, W1, b1, ...

    Returns
    -------
    list of arrays
    """
    return [a for layer in tree for a in layer]


def tree_unflatten(leaves):
    """The inverse of :func:`tree_leaves`: ``[W0, b0, W1, b1, ...] -> [(W0, b0), ...]``."""
    return [(leaves[2 * i], leaves[2 * i + 1]) for i in range(len(leaves) // 2)]


def zeros_like(tree):
    """A tree of zeros shaped and typed like ``tree``."""
    xp = backend.xp()
    return tree_map(xp.zeros_like, tree)
