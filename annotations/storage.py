"""Stored files, through Django's storage API (a shared volume or object storage): one writer
(`put`, whole files only), local paths for tools that need one, and walking or removing a folder.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO, Iterator

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


@contextlib.contextmanager
def local_path(name: str) -> Iterator[Path]:
    """A local file path for a stored file (a temporary copy when storage is remote)."""
    try:
        path = Path(default_storage.path(name))
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with default_storage.open(name, "rb") as src, tempfile.NamedTemporaryFile(suffix=".media") as copy:
        shutil.copyfileobj(src, copy, 1 << 20)
        copy.flush()
        yield Path(copy.name)


def put(name: str, content: bytes | BinaryIO) -> str:
    """Store `content` under exactly `name`, replacing what is there, never leaving a partial file.

    Two jobs doing the same work (a redelivered one and its presumed-dead original) may write the
    same name at once; on a filesystem the file is swapped in whole (os.replace), elsewhere the
    storage's save overwrites it.
    """
    try:
        target = Path(default_storage.path(name))
    except NotImplementedError:
        target = None
    if target is None:
        if default_storage.exists(name):
            default_storage.delete(name)
        data = content if isinstance(content, bytes) else content.read()
        return default_storage.save(name, ContentFile(data))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False) as part:
        if isinstance(content, bytes):
            part.write(content)
        else:
            shutil.copyfileobj(content, part, 1 << 20)
    os.chmod(part.name, 0o644)
    os.replace(part.name, target)
    return name


def stored_files(prefix: str) -> list[tuple[str, int]]:
    """(name, size) of every file stored under `prefix`, depth first."""
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    found = [(f"{prefix}/{name}", default_storage.size(f"{prefix}/{name}")) for name in files]
    for folder in folders:
        found += stored_files(f"{prefix}/{folder}")
    return found


def delete_tree(prefix: str) -> None:
    """Remove everything stored under `prefix`."""
    try:
        shutil.rmtree(default_storage.path(prefix), ignore_errors=True)
        return
    except NotImplementedError:
        pass
    dirs, files = default_storage.listdir(prefix)
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    for name in dirs:
        delete_tree(f"{prefix}/{name}")


def slug(name: str) -> str:
    """`name` as a safe part of a file name: letters of any script and digits (Unicode NFC), ._-;
    every other run of characters (separators, spaces, controls) becomes one '_'."""
    return re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", name)).strip("._") or "shot"
