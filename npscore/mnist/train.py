"""The MNIST training run lives in :mod:`npscore.commands.mnist_train` (the command layer); this name stays importable
as the README and the tutorials use it, as the very same module."""
import sys

from ..commands import mnist_train as _module

sys.modules[__name__] = _module
