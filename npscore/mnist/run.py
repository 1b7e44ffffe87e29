"""``npscore mnist`` and ``npscore sample`` lives in :mod:`npscore.commands.mnist` (the command layer); this name stays importable
as the README and the tutorials use it, as the very same module."""
import sys

from ..commands import mnist as _module

sys.modules[__name__] = _module
