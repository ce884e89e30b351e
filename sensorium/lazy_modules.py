"""Modules a library imports that Sensorium never calls, executed only if something does use them.

mediapipe 0.10.21 imports `matplotlib.pyplot` at import time (for drawing helpers no sense uses):
about 60 % of `import mediapipe`, ~0.6 s of the app's start on a 2-core CPU. `defer(name)` puts
a stand-in into `sys.modules`; the first attribute read through it imports the real module and
from then on every read is forwarded, so a real use still works, only later. (importlib's own
LazyLoader does not help here: on Python 3.11 the `import` statement itself reads `__spec__`,
which runs the module.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType


class DeferredModule(ModuleType):
    """Stands in for a module until an attribute it does not have is read; then imports it."""

    def __init__(self, name: str, spec) -> None:
        super().__init__(name)
        self.__spec__ = spec  # what `import name` looks at; reading it does not import
        self._sensorium_lock = threading.Lock()
        self._sensorium_real: ModuleType | None = None

    def __getattr__(self, attr: str):  # only for attributes this stand-in does not have
        if attr.startswith("_sensorium_"):
            raise AttributeError(attr)
        return getattr(self._sensorium_load(), attr)

    def __dir__(self):
        return dir(self._sensorium_load())

    def _sensorium_load(self) -> ModuleType:
        with self._sensorium_lock:
            if self._sensorium_real is None:
                name = self.__name__
                if sys.modules.get(name) is self:
                    del sys.modules[name]
                real = importlib.import_module(name)  # binds itself in sys.modules and on its parent
                self._sensorium_real = real
            return self._sensorium_real


def defer(name: str) -> bool:
    """Make `import name` cheap until the module is used; False where it is already imported or
    not installed (then nothing changes). A dotted name's parent package is imported now."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    stand_in = DeferredModule(name, spec)
    sys.modules[name] = stand_in
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, stand_in)  # as the import system binds a submodule
    return True


def is_deferred(name: str) -> bool:
    """Whether `name` is still a stand-in that has not imported the real module (looking is free)."""
    module = sys.modules.get(name)
    return isinstance(module, DeferredModule) and module.__dict__.get("_sensorium_real") is None
