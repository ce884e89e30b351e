"""Import gradio without it re-deriving a type stub (.pyi) for each of its ~80 component classes.

At import, gradio's `ComponentMeta` reads every component's source file, parses it and rewrites
the matching .pyi next to it (for editors' autocomplete; the wheel already ships them). That is
about a third of `import gradio` on a 2-core CPU (~1.5 s of ~5 s) and changes nothing the app
does. `install()` (called by `demo/__init__.py`, so before anything in the demo imports gradio)
turns it into a no-op for this process; when gradio is already imported, or a later gradio no
longer has the function, it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

MODULE = "gradio.component_meta"  # defines ComponentMeta and create_or_modify_pyi
HOOK = "create_or_modify_pyi"


def skip_stub(*args, **kwargs) -> None:
    """Stands in for gradio's stub writer: the shipped stubs stay as they are."""


class _StubSkipper(importlib.abc.MetaPathFinder):
    """Finds `gradio.component_meta` once (as the path finder would), and swaps its stub writer
    for `skip_stub` right after the module has run, before any component class is defined."""

    def find_spec(self, name, path, target=None):
        if name != MODULE:
            return None
        remove()
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if callable(getattr(module, HOOK, None)):
                setattr(module, HOOK, skip_stub)

        loader.exec_module = exec_module  # this loader instance serves only this one file
        return spec


def install() -> None:
    """Skip gradio's stub rewriting for this process (a no-op once gradio is imported)."""
    if MODULE in sys.modules or any(isinstance(f, _StubSkipper) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _StubSkipper())


def remove() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _StubSkipper)]


def skipped() -> bool:
    """Whether this process's gradio runs without its stub writer (for the structure test)."""
    meta = sys.modules.get(MODULE)
    return meta is not None and getattr(meta, HOOK, None) is skip_stub
