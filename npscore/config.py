"""What an ``npscore train`` run is lives in :mod:`npscore.commands.config` (the command layer); this
name stays importable as the README and the tutorials use it, as the very same module."""
import sys

from .commands import config as _module

sys.modules[__name__] = _module
