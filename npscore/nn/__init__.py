"""The score models, with every derivative written by hand.

=====================  ====================================================
``activations``        f, f', f'' of each activation, beside its formula
``layers``             the primitives (affine, activation, Fourier features, residual block):
                       forward, VJP, JVP and the VJP of the JVP
``mlp``                :class:`MLP`: its passes as loops over the primitives
``resmlp``             :class:`ResidualMLP`: residual blocks on Fourier features of the input
``trace``              the exact Jacobian trace and its gradient
``conditional``        :class:`NoiseConditionalMLP`, s(x, sigma)
=====================  ====================================================
"""
from .activations import ACTIVATIONS
from .conditional import NoiseConditionalMLP
from .mlp import MLP
from .resmlp import ResidualMLP

__all__ = ["ACTIVATIONS", "MLP", "NoiseConditionalMLP", "ResidualMLP"]
