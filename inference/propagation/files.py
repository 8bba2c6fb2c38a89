"""Shots on disk: folders of frame images, read in frame order, and the one error bad input raises."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inference import media

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


class InputError(ValueError):
    """Bad command-line input; the message is shown as is."""


def image_files(folder: Path) -> list[Path]:
    """The image files of a folder in frame order (numbered names by number, then the rest by name)."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_frame_order)


def _frame_order(path: Path):
    return (0, int(path.stem), path.name) if path.stem.isdigit() else (1, 0, path.name)


def read_image(path: Path, color: bool) -> np.ndarray:
    """uint8/uint16 image: RGB H x W x 3 when `color`, else as stored (gray H x W stays gray); upright
    (EXIF orientation) and within the decode limit, as the studio reads images (`media.read_image`)."""
    try:
        return media.read_image(path, color=color)
    except media.MediaError as exc:
        raise InputError(str(exc)) from None
