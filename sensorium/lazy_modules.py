"""Modules a library imports that Sensorium never calls, executed only if something does use them.

mediapipe 0.10.21 imports `matplotlib.pyplot` at import time (for drawing helpers no sense uses):
about 60 % of `import mediapipe`, ~0.6 s of the app's start on a 2-core CPU. `defer(name)` puts
a stand-in into `sys.modules`; the first attribute read through it imports the real module and
from then on every read is forwarded, so a real use still works, only later. (importlib's own
LazyLoader does not help here: on Python 3.11 the `import` statement itself reads `__spec__`,
which runs the module.) `defer_on_import(name)` does the same for a subpackage that its own parent
imports, where the stand-in can only be made when that import happens: mediapipe's __init__ imports
its Tasks API (mediapipe.tasks.python: audio, vision, text; ~0.16 s), which no sense uses.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
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
        if attr.startswith("_sensorium_") or (attr == "__path__" and self.__dict__.get("_sensorium_creating")):
            raise AttributeError(attr)  # (the import system asks for __path__ while it creates the stand-in)
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


class _StandInLoader(importlib.abc.Loader):
    """Loads a module as its stand-in: the real spec is kept for when it is used."""

    def __init__(self, real_spec) -> None:
        self.real_spec = real_spec

    def create_module(self, spec) -> DeferredModule:
        module = DeferredModule(spec.name, self.real_spec)
        module._sensorium_creating = True
        return module

    def exec_module(self, module) -> None:
        # the real module's spec and package, not the stand-in loader's (the import system set those)
        module.__spec__, module.__package__ = self.real_spec, self.real_spec.parent
        if self.real_spec.submodule_search_locations is not None:
            module.__package__ = self.real_spec.name
        module._sensorium_creating = False  # from now on, importing a submodule imports the real package


class _DeferOnImport(importlib.abc.MetaPathFinder):
    """On sys.meta_path: the first import of a waiting name gets a stand-in, once."""

    def __init__(self) -> None:
        self.waiting: set[str] = set()

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.waiting:
            return None
        self.waiting.discard(fullname)  # the stand-in's own load, later, finds the real module
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        return None if real is None else importlib.machinery.ModuleSpec(fullname, _StandInLoader(real))


_on_import = _DeferOnImport()
_lock = threading.Lock()  # guards sys.meta_path and the waiting names


def defer_on_import(name: str) -> bool:
    """As `defer`, for a submodule that its own parent package imports (mediapipe's __init__ imports
    mediapipe.tasks.python), so it cannot be found before the parent runs: when the import happens,
    it gets a stand-in. False where it is already imported (then nothing changes)."""
    if name in sys.modules:
        return False
    with _lock:
        if _on_import not in sys.meta_path:
            sys.meta_path.insert(0, _on_import)
        _on_import.waiting.add(name)
    return True


def is_deferred(name: str) -> bool:
    """Whether `name` is still a stand-in that has not imported the real module (looking is free)."""
    module = sys.modules.get(name)
    return isinstance(module, DeferredModule) and module.__dict__.get("_sensorium_real") is None
