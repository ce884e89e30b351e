"""Where a sense's weights come from: a local directory or a Hugging Face hub id, decided fast.

A hub id that is already in the local HF cache is used from there with no network at all; one that
is not is probed once (3 s timeout, result remembered) so an offline machine learns within seconds
which model is missing and how to provide it, instead of hanging in a download.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from ..env import hub_offline
from ..network import PROBE_TIMEOUT_S, remembered

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pth", "*.pt")


@dataclass(frozen=True)
class WeightSource:
    """A resolved model location.

    spec: what the user asked for (hub id or directory).
    location: what to pass to `from_pretrained` (a local directory whenever one exists).
    local_only: pass `local_files_only=True` (no network) when loading.
    ok / reason: whether it can load here; the reason names the model and how to provide it.
    """

    spec: str
    location: str
    local_only: bool
    ok: bool
    reason: str = ""


def looks_like_path(spec: str) -> bool:
    """A hub id is `name` or `org/name`; anything else (absolute, ./, ~, a/b/c) is a directory."""
    return (
        os.path.isabs(spec) or spec.startswith((".", "~")) or spec.count("/") > 1 or "\\" in spec or os.path.isdir(spec)
    )


def how_to_provide(spec: str, env_var: str | None, files: tuple[str, ...] = ()) -> str:
    """One sentence telling a person how to make `spec` loadable here."""
    env = f" and set {env_var}=/path/to/dir" if env_var else " and pass that directory as the model"
    if looks_like_path(spec):
        return f"put the model files in {spec!r}, or point to another directory{env}"
    # single-file annotators live in huge repos: name the files instead of the whole repo
    only = "" if not files or "config.json" in files else " " + " ".join(files)
    return (
        f"download it where the hub is reachable (`hf download {spec}{only} --local-dir DIR`), "
        f"copy DIR here{env}; or run once online so it lands in the Hugging Face cache"
    )


def _missing_files(directory: str, files: tuple[str, ...], need_weights: bool) -> list[str]:
    missing = [f for f in files if not os.path.exists(os.path.join(directory, f))]
    if need_weights and not any(glob.glob(os.path.join(directory, p)) for p in WEIGHT_PATTERNS):
        missing.append("weights (*.safetensors/*.bin/*.pth)")
    return missing


def _cached_snapshot(repo_id: str) -> str | None:
    """The local snapshot directory of a hub repo if the HF cache has one; never touches the net."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, local_files_only=True)
    except Exception:
        return None


def _probe_hub(repo_id: str) -> tuple[bool, str]:
    """Is `repo_id` downloadable right now? One quick request, remembered for a minute."""

    def probe() -> tuple[bool, str]:
        from huggingface_hub import model_info

        try:
            model_info(repo_id, timeout=PROBE_TIMEOUT_S)
            return True, ""
        except Exception as exc:  # connection errors differ across huggingface_hub versions
            kind = type(exc).__name__
            if kind in {"RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError"}:
                return False, f"the hub has no accessible repo {repo_id!r} ({kind})"
            return False, f"the Hugging Face hub is unreachable ({kind}: {str(exc)[:120]})"

    return remembered(f"hub:{repo_id}", probe)


def locate(
    spec: str,
    *,
    label: str,
    env_var: str | None = None,
    files: tuple[str, ...] = (),
    need_weights: bool = True,
) -> WeightSource:
    """Resolve `spec` (hub id or local dir) to a loadable location, or say why it cannot load.

    `files` are names that must exist in the model directory (e.g. "config.json"); with
    `need_weights` some weight file must exist as well. Never raises, never waits > ~3 s.
    """
    spec = os.path.expanduser(spec)
    if looks_like_path(spec):
        if not os.path.isdir(spec):
            return WeightSource(
                spec, spec, True, False,
                f"{label}: local model directory {spec!r} does not exist; {how_to_provide(spec, env_var, files)}",
            )  # fmt: skip
        missing = _missing_files(spec, files, need_weights)
        if missing:
            return WeightSource(
                spec, spec, True, False,
                f"{label}: {spec!r} lacks {', '.join(missing)}; {how_to_provide(spec, env_var, files)}",
            )  # fmt: skip
        return WeightSource(spec, spec, True, True)

    snapshot = _cached_snapshot(spec)
    if snapshot and not _missing_files(snapshot, files, need_weights):
        return WeightSource(spec, snapshot, True, True)
    if hub_offline():
        return WeightSource(
            spec, spec, True, False,
            f"{label}: model {spec!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is "
            f"set; {how_to_provide(spec, env_var, files)}",
        )  # fmt: skip
    reachable, why = _probe_hub(spec)
    if not reachable:
        return WeightSource(
            spec, spec, True, False,
            f"{label}: model {spec!r} is not in the local Hugging Face cache and {why}; "
            f"{how_to_provide(spec, env_var, files)}",
        )  # fmt: skip
    return WeightSource(spec, spec, False, True, f"{label}: {spec!r} downloads on first use")
