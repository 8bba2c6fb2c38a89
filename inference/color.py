"""Color science shared by both engines.

Conventions: RGB images are float32 in [0, 1] (sRGB, HxWx3) unless a function
says uint8; CIE Lab uses D65 with L in [0, 100] and a/b roughly in [-110, 110].
"Luma" is Rec. 709 Y' computed on gamma-encoded R'G'B' -- what broadcast
quality control measures -- and it is the one quantity the engines never alter.
"""
import cv2
import numpy as np

REC709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def as_float(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float image -> float32 in [0, 1]."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    return image.astype(np.float32, copy=False)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_luma(image: np.ndarray) -> np.ndarray:
    """Y' in [0, 1] of a gray (HxW, HxWx1) or color-encoded (HxWx3) image.

    Scans of monochrome film usually arrive color-encoded; their luma is the picture.
    """
    image = as_float(image)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[..., 0]
    return image[..., :3] @ REC709


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(as_float(rgb)), cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0)


_L_TABLE_SIZE = 65536


def _exact_luma_to_L(luma: np.ndarray) -> np.ndarray:
    gray = np.repeat(as_float(luma)[..., None], 3, axis=2)
    return rgb_to_lab(gray)[..., 0]


# L* depends on luma alone for a neutral gray; a table makes it a lookup (OpenCV's float Lab is
# itself stepwise, so the nearest of 65536 entries reproduces it).
_L_TABLE = _exact_luma_to_L(np.linspace(0.0, 1.0, _L_TABLE_SIZE, dtype=np.float32)[None])[0]


def luma_to_L(luma: np.ndarray) -> np.ndarray:
    """CIE L* of the neutral gray with this luma (for gray, Y' = R' = G' = B')."""
    index = (np.clip(as_float(luma), 0.0, 1.0) * (_L_TABLE_SIZE - 1) + 0.5).astype(np.int32)
    return _L_TABLE[index]


def with_luma(luma: np.ndarray, color: np.ndarray) -> np.ndarray:
    """RGB whose luma is exactly `luma` and whose chroma (R'-Y', G'-Y', B'-Y') comes from `color`.

    Where the combination would leave the RGB cube, chroma is scaled toward gray (never the
    luma), so the output luma equals the source luma up to 8-bit rounding; this is what keeps a
    colorized frame faithful to its scan. Written on planes: numpy reductions over a 3-long
    last axis are slow, and this runs on every full-resolution frame.
    """
    y = as_float(luma)
    r, g, b = cv2.split(np.ascontiguousarray(as_float(color)))
    color_y = REC709[0] * r + REC709[1] * g + REC709[2] * b
    deltas = [r - color_y, g - color_y, b - color_y]
    # The largest scale keeping y + s * delta inside [0, 1] is 1 / (the largest of delta / (1 - y)
    # for channels pushed up and -delta / y for channels pushed down), capped at 1.
    to_top = 1.0 / np.maximum(1.0 - y, 1e-12)
    to_bottom = -1.0 / np.maximum(y, 1e-12)
    reach = np.ones_like(y)
    for delta in deltas:
        np.maximum(reach, np.maximum(delta * to_top, delta * to_bottom), out=reach)
    scale = 1.0 / reach
    out = cv2.merge([y + delta * scale for delta in deltas])
    return np.clip(out, 0.0, 1.0, out=out)


def compose_lab(luma: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Full-resolution RGB from source luma and an a/b chroma plane of the same size."""
    a, b = cv2.split(np.ascontiguousarray(ab, dtype=np.float32))
    rgb = lab_to_rgb(cv2.merge([luma_to_L(luma), a, b]))
    return with_luma(luma, rgb)


def guided_upsample(guide: np.ndarray, source: np.ndarray, radius: int = 4, eps: float = 1e-3) -> np.ndarray:
    """Bring a low-resolution plane (HxW or HxWxC) to the guide's size, edge-aware.

    Fast guided filter (He & Sun 2015): the local linear model source ~ A*guide + B
    is fitted at the source's resolution and applied with the full-resolution guide,
    so chroma edges snap to luma edges instead of blurring across them.
    """
    guide = as_float(guide)
    height, width = guide.shape[:2]
    low_h, low_w = source.shape[:2]
    small_guide = cv2.resize(guide, (low_w, low_h), interpolation=cv2.INTER_AREA)
    source = source.astype(np.float32)
    planes = source[..., None] if source.ndim == 2 else source
    box = (2 * radius + 1, 2 * radius + 1)
    mean_g = cv2.boxFilter(small_guide, -1, box)
    var_g = cv2.boxFilter(small_guide * small_guide, -1, box) - mean_g * mean_g
    out = np.empty((height, width, planes.shape[2]), np.float32)
    for c in range(planes.shape[2]):
        p = planes[..., c]
        mean_p = cv2.boxFilter(p, -1, box)
        cov = cv2.boxFilter(small_guide * p, -1, box) - mean_g * mean_p
        a = cov / (var_g + eps)
        b = mean_p - a * mean_g
        a = cv2.resize(cv2.boxFilter(a, -1, box), (width, height), interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(cv2.boxFilter(b, -1, box), (width, height), interpolation=cv2.INTER_LINEAR)
        out[..., c] = a * guide + b
    return out[..., 0] if source.ndim == 2 else out


def working_size(height: int, width: int, long_side: int, multiple: int = 32) -> tuple[int, int]:
    """(h, w) with the given long side, aspect kept, each a multiple of `multiple`."""
    scale = long_side / max(height, width)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    return h, w
