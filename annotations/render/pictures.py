"""Pictures of a render for people to look at: a before/after contact sheet, the QC curves and a
sheet of the propagation's confidence maps."""
from __future__ import annotations

import io

import cv2
import numpy as np

from inference.color import to_uint8

SHEET_FRAMES = 8
TILE_HEIGHT = 120


def sheet_indices(frame_count: int, keyframes=(), tiles: int = SHEET_FRAMES) -> list[int]:
    """The keyframes, and evenly spaced frames for the remaining tiles."""
    keys = set(sorted(set(keyframes))[:tiles])
    rest = min(tiles, frame_count) - len(keys)
    spaced = {round(i * (frame_count - 1) / max(rest - 1, 1)) for i in range(rest)} if rest > 0 else set()
    return sorted(keys | spaced)


class ContactSheet:
    """The keyframes and evenly spaced frames: the source's luma above, the render below."""

    def __init__(self, frame_count: int, keyframes=()):
        self.wanted = set(sheet_indices(frame_count, keyframes))
        self.tiles: list[tuple[int, np.ndarray, np.ndarray]] = []

    def add(self, index: int, master: np.ndarray, source_luma: np.ndarray) -> None:
        if index not in self.wanted:
            return
        height, width = source_luma.shape
        size = (max(1, round(width * TILE_HEIGHT / height)), TILE_HEIGHT)
        before = cv2.resize(np.repeat(to_uint8(source_luma)[..., None], 3, axis=2), size, interpolation=cv2.INTER_AREA)
        after = cv2.resize((master >> 8).astype(np.uint8) if master.dtype == np.uint16 else master, size,
                           interpolation=cv2.INTER_AREA)
        self.tiles.append((index, before, after))

    def jpeg(self) -> bytes:
        columns = []
        for index, before, after in self.tiles:
            column = np.vstack([before, np.full((2, before.shape[1], 3), 16, np.uint8), after])
            cv2.putText(column, str(index), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 220, 120), 1, cv2.LINE_AA)
            columns.append(np.hstack([column, np.full((column.shape[0], 2, 3), 16, np.uint8)]))
        ok, data = cv2.imencode(".jpg", np.hstack(columns)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
        if not ok:
            raise ValueError("contact sheet encoding failed")
        return data.tobytes()


CONFIDENCE_TILES, CONFIDENCE_COLUMNS, CONFIDENCE_TILE_HEIGHT = 24, 8, 72


def confidence_sheet(maps: dict[int, np.ndarray], frame_count: int, least_sure=()) -> bytes:
    """PNG grid of confidence maps (uint8 HxW, 255 sure; `maps` by frame index): the least sure
    frames and evenly spaced ones, up to CONFIDENCE_TILES, colored dark (unsure) to yellow (sure)."""
    shapes = [m.shape for m in maps.values() if m.size > 1]  # keyframes' maps are one pixel
    height, width = shapes[0] if shapes else (9, 16)
    size = (max(1, round(width * CONFIDENCE_TILE_HEIGHT / height)), CONFIDENCE_TILE_HEIGHT)
    tiles = []
    for index in sheet_indices(frame_count, [i for i in least_sure if i in maps], CONFIDENCE_TILES):
        if index not in maps:
            continue
        tile = cv2.applyColorMap(cv2.resize(maps[index], size, interpolation=cv2.INTER_LINEAR), cv2.COLORMAP_VIRIDIS)
        cv2.putText(tile, str(index), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(cv2.copyMakeBorder(tile, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=(16, 16, 16)))
    while len(tiles) % CONFIDENCE_COLUMNS and len(tiles) > CONFIDENCE_COLUMNS:
        tiles.append(np.full_like(tiles[0], 16))
    rows = [np.hstack(tiles[i:i + CONFIDENCE_COLUMNS]) for i in range(0, len(tiles), CONFIDENCE_COLUMNS)]
    ok, data = cv2.imencode(".png", np.vstack(rows))  # applyColorMap gives BGR, as imencode takes
    if not ok:
        raise ValueError("confidence sheet encoding failed")
    return data.tobytes()


def qc_chart(report: dict) -> bytes:
    """PNG of the per-frame luma difference and flicker, with their limits, and the propagation's
    mean confidence when the report has it."""
    # Here, not at the top: matplotlib is slow to load and only the finalize job draws charts;
    # its backend must be chosen before pyplot is imported.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    confidence = report.get("confidence") or {}
    figure, axes = plt.subplots(3 if confidence else 2, 1, figsize=(8, 6.2 if confidence else 4.2), sharex=True,
                                constrained_layout=True)
    top, bottom = axes[0], axes[1]
    luma = report["luma"]
    top.plot(luma["max_diff_per_frame"], marker=".", color="#3a7bd5")
    top.axhline(luma["limit"], color="#e05d5d", linestyle="--", linewidth=1)
    top.set_ylabel("luma max diff\n(8-bit codes)")
    top.set_ylim(0, max(luma["limit"] * 1.2, max(luma["max_diff_per_frame"] or [0]) * 1.1))
    flicker = report["flicker"]
    values = [np.nan if v is None else v for v in flicker["per_frame"]]
    bottom.plot(range(1, len(values) + 1), values, marker=".", color="#d9a441")
    bottom.axhline(flicker["limit"], color="#e05d5d", linestyle="--", linewidth=1)
    bottom.set_ylabel("flicker\n(a*b* warping error)")
    if confidence:
        axes[2].plot(confidence["frames"], confidence["mean_per_frame"], marker=".", color="#4c9a6a")
        axes[2].set_ylim(0, 1.05)
        axes[2].set_ylabel("propagation\nconfidence (mean)")
    axes[-1].set_xlabel("frame")
    top.set_title("Quality checks per frame (dashed: limit)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
