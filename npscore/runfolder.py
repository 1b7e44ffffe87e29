"""The run folder lives in :mod:`npscore.commands.runfolder` (the command layer); this name stays importable
as the README and the tutorials use it, as the very same module."""
import sys

from .commands import runfolder as _module

sys.modules[__name__] = _module
