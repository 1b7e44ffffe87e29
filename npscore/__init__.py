"""npscore: score matching and score-based generative modelling, from scratch in NumPy."""
from . import backend
from .nn import MLP, NoiseConditionalMLP

__version__ = "0.2.0"
__all__ = ["backend", "MLP", "NoiseConditionalMLP", "__version__"]
