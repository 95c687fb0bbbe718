"""A disk cache for the generated data sets: drawing 4,500 Shapes10 images or 2,000 scenes takes seconds, and
nearly every chapter draws the same ones.

A cached set is keyed by the generator's arguments, the source of :mod:`cnnbook.data` (any change to a generator
draws afresh) and the versions of the libraries it draws with, so a cached set is always the one the generator
would draw now. The cache lives in ``$CNNBOOK_CACHE``, else ``$XDG_CACHE_HOME/cnnbook``, else
``~/.cache/cnnbook``; ``CNNBOOK_CACHE=off`` turns it off. A file that cannot be read is drawn again and rewritten;
a folder that cannot be written leaves the data uncached.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import torch

CACHE_ENV = "CNNBOOK_CACHE"
OFF = ("", "0", "off", "no", "false", "none")
LIBRARIES = ("numpy", "torch", "scikit-learn", "scikit-image", "matplotlib")
"""The packages whose random streams, resizing or shipped photographs the generators use."""

T = TypeVar("T")


def cache_dir() -> Path | None:
    """Where generated data sets are cached, or None when ``CNNBOOK_CACHE`` turns the cache off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnbook"


@functools.cache
def _code_digest() -> str:
    digest = hashlib.sha256((Path(__file__).with_name("data.py")).read_bytes())
    for name in LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}={version};".encode())
    return digest.hexdigest()


_bypassed = False


@contextlib.contextmanager
def bypass() -> Iterator[None]:
    """Inside this block every generator draws afresh and writes nothing: for code that watches the drawing."""
    global _bypassed
    before, _bypassed = _bypassed, True
    try:
        yield
    finally:
        _bypassed = before


def cache_path(kind: str, args: dict) -> Path | None:
    """The file that holds generator ``kind``'s output for ``args`` (None when the cache is off or bypassed)."""
    folder = cache_dir()
    if folder is None or _bypassed:
        return None
    key = hashlib.sha256(json.dumps([kind, args, _code_digest()], sort_keys=True).encode()).hexdigest()[:24]
    return folder / f"{kind}-{key}.pt"


def cached(cls: type[T], kind: str, args: dict, draw: Callable[[], T]) -> T:
    """``draw()``, a ``cls`` dataclass of tensors, read from the cache when it holds one for ``kind`` and ``args``."""
    path = cache_path(kind, args)
    if path is not None and path.exists():
        try:
            stored_kind, state, narrowed = torch.load(path, weights_only=True)
            if stored_kind == kind:
                return cls(**{k: v.long() if k in narrowed else v for k, v in state.items()})
        except Exception:  # a truncated or foreign file: draw again and overwrite it
            pass
    result = draw()
    if path is not None:
        state = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        # masks and labels are int64 in memory but small: a byte each on disk (1,000 scenes at 64 px: 58 MB, not 115)
        narrowed = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.dtype == torch.int64
                    and v.numel() and 0 <= int(v.min()) and int(v.max()) < 256]
        state = {k: v.to(torch.uint8) if k in narrowed else v for k, v in state.items()}
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save((kind, state, narrowed), partial)
            os.replace(partial, path)  # atomic: a reader in another process sees the whole file or none
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
    return result
