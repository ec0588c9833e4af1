"""Atomic file writes: write beside the target, then rename over it in one step.

A reader never sees a half-written file, and a run killed while writing leaves the previous file
(or none) rather than a corrupt one. The temporary file lies in the target's directory because
:func:`os.replace` is only atomic within one file system.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    # os.umask can only be read by setting it; restore it at once.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_path(path: str | Path, directory: bool = False) -> None:
    """Ask the OS to put ``path`` (a file, or a directory's entries) on disk.

    Without it a power cut soon after a rename can leave the new name pointing at an empty file.
    Directories cannot be fsynced on every platform; that case is skipped quietly.
    """
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        handle = os.open(path, flags)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(handle)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(handle)


def replace(source: str | Path, target: str | Path, durable: bool = True) -> None:
    """Rename ``source`` over ``target`` atomically (both in one directory).

    Parameters
    ----------
    source, target:
        Paths; ``target`` is replaced if it exists.
    durable:
        Flush ``source``'s data to disk before the rename and the directory entry after it.
    """
    if durable:
        fsync_path(source)
    os.replace(source, target)
    if durable:
        fsync_path(Path(target).parent, directory=True)


@contextlib.contextmanager
def atomic_path(target: str | Path, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s directory; rename it to ``target`` on success.

    The caller writes (and closes) the temporary file inside the ``with`` block. On an exception
    the temporary file is removed and ``target`` is left untouched.

    Parameters
    ----------
    target:
        The file to create or replace.
    durable:
        fsync the file before the rename (see :func:`replace`).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    # mkstemp creates the file private (0600); give the result the permissions a plain open() would.
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        yield temporary
        replace(temporary, target, durable=durable)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: str | Path, data: bytes, durable: bool = True) -> Path:
    """Write ``data`` to ``target`` atomically; return ``target`` as a :class:`Path`."""
    with atomic_path(target, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | Path, text: str, encoding: str = "utf-8", durable: bool = True) -> Path:
    """Write ``text`` to ``target`` atomically; return ``target`` as a :class:`Path`."""
    return atomic_write_bytes(target, text.encode(encoding), durable=durable)
