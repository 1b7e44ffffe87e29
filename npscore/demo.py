"""``npscore demo`` lives in :mod:`npscore.commands.demo` (the command layer); this name stays importable
as the README and the tutorials use it, as the very same module."""
import sys

from .commands import demo as _module

sys.modules[__name__] = _module
