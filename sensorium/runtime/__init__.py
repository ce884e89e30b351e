"""Inference runtimes for the content encoder and generator: eager (the reference) and faster
rewrites of the same weights, picked and checked at load (select.py)."""

from .backends import EagerRuntime, FusedRuntime, Runtime
from .content_cache import ContentCache
from .select import RUNTIME_ENV, RUNTIMES, RuntimeChoiceError, load_runtime, runtime_name

__all__ = ["RUNTIMES", "RUNTIME_ENV", "ContentCache", "EagerRuntime", "FusedRuntime", "Runtime",
           "RuntimeChoiceError", "load_runtime", "runtime_name"]
