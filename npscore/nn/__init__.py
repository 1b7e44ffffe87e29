"""The score models, with every derivative written by hand.

=====================  ====================================================
``activations``        f, f', f'' of each activation, beside its formula
``layers``             the affine and activation primitives: forward, VJP, JVP
``mlp``                :class:`MLP`: its passes as loops over the primitives
``trace``              the exact Jacobian trace and its gradient
``conditional``        :class:`NoiseConditionalMLP`, s(x, sigma)
=====================  ====================================================
"""
from .activations import ACTIVATIONS
from .conditional import NoiseConditionalMLP
from .mlp import MLP

__all__ = ["ACTIVATIONS", "MLP", "NoiseConditionalMLP"]
