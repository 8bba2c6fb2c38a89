"""Subcommands of the keyframe engine:

    colorproj colorize --input PATH --output PATH [--hints PATH] [--method cnn|levin] [--device cpu|cuda]
    colorproj train keyframe ...
    colorproj evaluate keyframe --images DIR [--size 256] [--hints 0,1,2,5,10,20,50,100]
    colorproj evaluate effort --images DIR [--target 30] [--step 5] [--cap 100]
    colorproj evaluate effort --clips DIR [--frames 90] [--interval 30] [--names A,B] [--cap 100]
    colorproj benchmark keyframe
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import torch

from inference import media
from inference.hints import HintError, Hints, parse_hints
from inference.keyframe.benchmark import benchmark
from inference.keyframe.effort import evaluate_effort
from inference.keyframe.engine import WEIGHTS, KeyframeColorizer
from inference.keyframe.evaluate import evaluate
from inference.keyframe.shots import evaluate_shot_effort
from inference.keyframe.train import train

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEFAULT_DATA = ["../shared/data/photos", "../shared/data/videos"]


def register(commands, groups):
    p = commands.add_parser("colorize", help="colorize images from color points and boundary strokes")
    p.add_argument("--input", type=Path, required=True, help="a gray (or color-encoded) image, or a folder of them")
    p.add_argument("--output", type=Path, required=True, help="output PNG, or a folder for a folder input")
    p.add_argument("--hints", type=Path, help="hints JSON, or a folder of NAME.json for a folder input")
    p.add_argument("--method", choices=("cnn", "levin"), default="cnn")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--long-side", type=int, default=512, help="working resolution (long side, pixels)")
    p.set_defaults(func=_colorize)

    p = groups["train"].add_parser("keyframe", help="train the keyframe colorization network")
    p.add_argument("--images", nargs="+", default=DEFAULT_DATA,
                   help="folders of color photos and/or videos (frames are sampled)")
    p.add_argument("--data-dir", type=Path, default=Path(".data"), help="packed training set (git-ignored)")
    p.add_argument("--run-dir", type=Path, default=Path(".train/keyframe"), help="checkpoints, logs, figures")
    p.add_argument("--weights", type=Path, default=None, help="weights file written at every checkpoint")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint-minutes", type=float, default=6.0)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--init", type=Path, default=None,
                   help="without a checkpoint in --run-dir, start from these weights (e.g. the shipped ones)")
    p.add_argument("--annotated", type=float, default=0.0,
                   help="share of samples whose points the worst-error annotator places (evaluate effort's)")
    p.set_defaults(func=_train)

    p = groups["evaluate"].add_parser("keyframe", help="PSNR / CIEDE2000 / hint fidelity of the engine and Levin")
    p.add_argument("--hints", default="0,1,2,5,10,20,50,100", help="comma-separated hint counts")
    _image_set_arguments(p, "keyframe-evaluation.png")
    p.set_defaults(func=_evaluate)

    p = groups["evaluate"].add_parser(
        "effort", help="color points (and keyframes) a simulated annotator needs to reach a PSNR",
        description="--images: points on still images until each reaches the target. --clips: keyframes and "
                    "points on whole shots until every frame reaches it, for keyframes every --interval frames "
                    "and for the product's keyframe suggestions with carried points.")
    p.add_argument("--target", type=float, default=30.0, help="PSNR to reach (dB)")
    p.add_argument("--step", type=int, default=5, help="points added each round")
    p.add_argument("--cap", type=int, default=100, help="most points an annotator adds (per image or per shot)")
    p.add_argument("--annotators", default="worst",
                   help="--images: where the annotator puts points: worst (most wrong), guided (least sure, cnn), "
                        "random")
    p.add_argument("--frames", type=int, default=90, help="--clips: the first FRAMES frames of each clip make its shot")
    p.add_argument("--interval", type=int, default=30, help="--clips: the baseline's keyframe interval (frames)")
    p.add_argument("--names", default="", help="--clips: comma-separated clip folder names (default: every clip)")
    _image_set_arguments(p, "keyframe-effort.png", clips=True)
    p.set_defaults(func=_effort)

    p = groups["benchmark"].add_parser("keyframe", help="preview and full-resolution timings")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1, as the studio's preview workers run; 0: torch's default)")
    p.set_defaults(func=_benchmark)


SHOT_EFFORT_PLOT = "inference/weights/shot-effort.png"


def _image_set_arguments(p, plot: str, clips: bool = False):
    """The held-out image set (or, with `clips`, either it or a folder of clips), the methods and
    the plot of an evaluation command."""
    if clips:
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument("--images", type=Path, help="folder of color images")
        source.add_argument("--clips", type=Path,
                            help="folder of clips, each a folder of color frames (train propagate --export-clips)")
        plot = f"{plot}; --clips: {SHOT_EFFORT_PLOT}"
    else:
        p.add_argument("--images", type=Path, required=True, help="folder of color images")
    p.add_argument("--size", type=int, default=256, help="image side (square crop); --clips: the frames' long side")
    p.add_argument("--split", choices=("val", "all"), default="val",
                   help="val: only the held-out validation file names; all: every image in the folder")
    p.add_argument("--limit", type=int, default=0, help="at most this many images (0: all)")
    p.add_argument("--methods", default="cnn,levin")
    p.add_argument("--plot", type=Path, default=None if clips else Path(plot), help=f"PNG to write (default {plot})")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")


def _device(name):
    return name or ("cuda" if torch.cuda.is_available() else "cpu")


def _fail(message: str) -> None:
    print(f"colorproj: error: {message}", file=sys.stderr)


# --- colorize -------------------------------------------------------------------------------------

def _jobs(args):
    """(image, hints or None, output) triples, or a one-line error."""
    if args.input.is_dir():
        if args.hints is not None and not args.hints.is_dir():
            raise ValueError(f"{args.hints}: --hints must be a folder when --input is a folder")
        if args.output.exists() and not args.output.is_dir():
            raise ValueError(f"{args.output}: --output must be a folder when --input is a folder")
        images = sorted(p for p in args.input.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        if not images:
            raise ValueError(f"{args.input}: no images in this folder")
        args.output.mkdir(parents=True, exist_ok=True)
        for path in images:
            hints = args.hints / f"{path.stem}.json" if args.hints is not None else None
            yield path, hints if hints is not None and hints.exists() else None, args.output / f"{path.stem}.png"
    elif args.input.is_file():
        out = args.output / f"{args.input.stem}.png" if args.output.is_dir() else args.output
        yield args.input, args.hints, out
    else:
        raise ValueError(f"{args.input}: no such file or folder")


def read_image(path: Path):
    return media.read_image(path)  # upright (EXIF orientation) and within the decode limit


def read_hints(path: Path | None, width: int, height: int):
    if path is None:
        return Hints()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read hints: {exc}") from None
    return parse_hints(data, width, height)


def _colorize(args) -> int:

    try:
        jobs = list(_jobs(args))
        engine = KeyframeColorizer.load(device=args.device) if args.method == "cnn" else KeyframeColorizer.levin_only()
    except (ValueError, RuntimeError, OSError) as exc:
        _fail(str(exc))
        return 2
    failed = 0
    for image_path, hints_path, out_path in jobs:
        try:
            image = read_image(image_path)
        except (ValueError, OSError) as exc:
            _fail(f"{image_path}: {exc}")
            failed += 1
            continue
        try:
            hints = read_hints(hints_path, image.shape[1], image.shape[0])
        except (ValueError, HintError) as exc:
            _fail(f"{hints_path}: {exc}")
            failed += 1
            continue
        rgb = engine.colorize(image, hints, method=args.method, long_side=args.long_side)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out_path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            _fail(f"{out_path}: cannot write the output image")
            failed += 1
            continue
        print(f"{image_path} -> {out_path}")
    return 1 if failed else 0


# --- train / evaluate / benchmark -----------------------------------------------------------------

def _train(args) -> int:
    return train(args.images, args.data_dir, args.run_dir, args.weights or WEIGHTS, args.steps, args.batch,
                 args.crop, args.lr, _device(args.device), args.threads, args.checkpoint_minutes, args.init,
                 args.annotated)


def _evaluate(args) -> int:
    try:
        counts = [int(v) for v in args.hints.split(",") if v.strip()]
    except ValueError:
        _fail(f"--hints: expected comma-separated integers, got {args.hints!r}")
        return 2
    return evaluate(args.images, args.size, counts, args.split, args.limit,
                    [m.strip() for m in args.methods.split(",")], args.plot, args.device)


def _effort(args) -> int:
    if args.clips is not None:
        return evaluate_shot_effort(args.clips, args.target, args.step, args.cap, args.size, args.frames,
                                    args.interval, args.plot or Path(SHOT_EFFORT_PLOT),
                                    [n.strip() for n in args.names.split(",") if n.strip()], args.device)
    args.plot = args.plot or Path("keyframe-effort.png")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or set(methods) - {"cnn", "levin"}:
        _fail(f"--methods: expected cnn and/or levin, got {args.methods!r}")
        return 2
    return evaluate_effort(args.images, args.target, args.step, args.cap, args.size, args.split, args.limit,
                           methods, args.plot, args.device, [a.strip() for a in args.annotators.split(",") if a.strip()])


def _benchmark(args) -> int:
    return benchmark(args.device, args.repeats, args.threads)
