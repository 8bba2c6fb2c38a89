"""Measurements shared by training, evaluation and the render's records."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two 8-bit images (as the colorization literature reports it)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in blocks by hashlib.file_digest (weights files, deliverables)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
