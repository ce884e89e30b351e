"""Inference runtimes for the content encoder and generator: eager (the reference) and faster
rewrites of the same weights (fused.py), picked and checked against eager at load (select.py).
This package root is torch-free: only names; import select / backends for the runtimes."""

from .names import RUNTIME_ENV, RUNTIMES, RuntimeChoiceError, runtime_name

__all__ = ["RUNTIMES", "RUNTIME_ENV", "RuntimeChoiceError", "runtime_name"]
