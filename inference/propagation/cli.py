"""`colorproj propagate`, `train propagate`, `evaluate propagate`, `benchmark propagate`."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from inference.color import to_luma, to_uint8
from inference.media import MediaError, probe, read_frames, write_video

from .files import InputError, image_files, read_image
from .plan import benchmark_plan  # no torch: flow and numpy only


def register(commands, groups):
    p = commands.add_parser("propagate", help="color a shot from its keyframes",
                            description="Color every frame of a shot from color keyframes. Directory form: "
                                        "--frames DIR --keyframes DIR --output DIR. Video form: --input VIDEO "
                                        "--keyframe INDEX=IMAGE [...] --output VIDEO.")
    p.add_argument("--frames", type=Path, help="folder of frames (image files that sort in frame order)")
    p.add_argument("--keyframes", type=Path, help="folder of color keyframes named exactly like their frames")
    p.add_argument("--input", type=Path, help="video file to color")
    p.add_argument("--keyframe", action="append", default=[], metavar="INDEX=IMAGE",
                   help="color keyframe for frame INDEX (0-based) of --input; repeat for more")
    p.add_argument("--output", type=Path, required=True, help="output folder (directory form) or video file")
    p.add_argument("--method", choices=["cnn", "flow"], default="cnn", help="fusion CNN (default) or flow only")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--no-refine", dest="refine", action="store_false",
                   help="skip the edge-aware solve on each frame's own luma (faster, less exact; see the model card)")
    p.set_defaults(func=propagate_command)

    t = groups["train"].add_parser("propagate", help="train the propagation CNN (resumes from .train/propagation)")
    t.add_argument("--steps", type=int, default=1600, help="total optimizer steps (default 1600)")
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--unroll", type=int, default=3, help="recurrent steps per sample (default 3)")
    t.add_argument("--loss", choices=["mse", "l1"], default="mse", help="a/b loss (default mse)")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine decay)")
    t.add_argument("--uncarried-weight", type=float, default=0.0,
                   help="extra loss weight where the keyframes' flow candidates are unsure (occlusions, new regions)")
    t.add_argument("--init", type=Path, help="start from this checkpoint's weights (a fresh run only)")
    t.add_argument("--out", type=Path, help="checkpoint folder (default .train/propagation)")
    t.add_argument("--weights", type=Path, help="where the trained weights go (default inference/weights/propagation.pt)")
    t.add_argument("--pack-only", action="store_true", help="only pack the training data into .data/propagation")
    t.add_argument("--export-clips", type=Path, metavar="DIR",
                   help="only write the validation videos as folders of PNG frames (for evaluate --clips)")
    t.set_defaults(func=train_command)

    e = groups["evaluate"].add_parser("propagate", help="the engine against flow chaining and as first shipped, on clips")
    e.add_argument("--clips", type=Path, required=True, help="folder of clips, each a folder of color frames")
    e.add_argument("--interval", type=int, default=30, help="keyframe every INTERVAL frames (and the last)")
    e.add_argument("--plot", type=Path, default=Path("propagation-drift.png"), help="PSNR-vs-distance plot (PNG)")
    e.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    e.set_defaults(func=evaluate_command)

    c = groups["evaluate"].add_parser("propagate-sheet", help="contact sheet: shipped and new engine on a video",
                                      description="Color a video from its keyframes with the engine as first shipped, "
                                                  "as it is now, and as it is now without the edge-aware solve; write "
                                                  "chosen frames side by side as one PNG.")
    c.add_argument("--input", type=Path, required=True, help="video (monochrome or color: its luma is used)")
    c.add_argument("--keyframe", action="append", default=[], metavar="INDEX=IMAGE", help="color keyframe; repeat")
    c.add_argument("--frames", default="0,40,80,120,160,200", help="comma-separated frame numbers to show")
    c.add_argument("--output", type=Path, required=True, help="PNG to write")
    c.set_defaults(func=sheet_command)

    b = groups["benchmark"].add_parser("propagate", help="frames per second of propagation")
    b.add_argument("--size", default=None, help="WIDTHxHEIGHT (default 854x480 on cpu, 1920x1080 on cuda)")
    b.add_argument("--frames", type=int, default=60)
    b.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    b.set_defaults(func=benchmark_command)

    b = groups["benchmark"].add_parser("plan", help="seconds to measure a shot's carry and plan its keyframes")
    b.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the shot's frames")
    b.add_argument("--seconds", type=float, default=10.0)
    b.add_argument("--rate", type=float, default=24.0, help="frames per second")
    b.set_defaults(func=plan_benchmark_command)


# -- propagate ------------------------------------------------------------------------------

def propagate_command(args) -> int:
    # The engine (torch) loads when a command needs it: `colorproj --help` and the other commands stay quick.
    from .engine import PropagationError, ShotPropagator

    try:
        directory_form = args.frames is not None or args.keyframes is not None
        if directory_form and (args.input is not None or args.keyframe):
            raise InputError("use either --frames/--keyframes (folders) or --input/--keyframe (video), not both")
        if directory_form:
            if args.frames is None or args.keyframes is None:
                raise InputError("the directory form needs both --frames and --keyframes")
            frames, keyframes, names = read_directory_shot(args.frames, args.keyframes)
        elif args.input is not None:
            frames, keyframes, rate = read_video_shot(args.input, args.keyframe)
        else:
            raise InputError("give --frames and --keyframes, or --input and --keyframe")
        propagator = ShotPropagator.load(device=args.device, method=args.method, refine=args.refine)
        progress = Progress("propagating")
        results = propagator.propagate(frames, keyframes, progress=progress, count=len(frames))
        if directory_form:
            args.output.mkdir(parents=True, exist_ok=True)
            for index, rgb in results:
                path = args.output / (Path(names[index]).stem + ".png")
                if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                    raise InputError(f"could not write {path}")
        else:
            write_video_shot(args.output, (rgb for _, rgb in results), rate, frames.shape)
        progress.done()
        print(f"wrote {len(frames)} frames to {args.output}")
        return 0
    except (InputError, PropagationError) as exc:
        print(f"colorproj propagate: error: {exc}", file=sys.stderr)
        return 2
    except MediaError as exc:
        print(f"colorproj propagate: error: {exc}", file=sys.stderr)
        return 2


class Progress:
    """One self-overwriting line on stderr."""

    def __init__(self, label: str):
        self.label, self.started, self.last = label, time.time(), 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.time()
        if done == total or now - self.last > 0.25:
            rate = done / max(now - self.started, 1e-6)
            print(f"\r{self.label} {done}/{total} frames ({rate:.1f} fps)", end="", file=sys.stderr, flush=True)
            self.last = now

    def done(self) -> None:
        print(file=sys.stderr)


class FrameFolder:
    """Frames read on demand (a shot need not fit in memory); luma as uint8 or uint16 as stored."""

    def __init__(self, paths: list[Path]):
        self.paths = paths
        self.shape = read_image(paths[0], color=False).shape[:2]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        image = read_image(self.paths[index], color=False)
        if image.shape[:2] != self.shape:
            raise InputError(f"frame {self.paths[index].name} is {image.shape[1]}x{image.shape[0]}, "
                             f"the first frame is {self.shape[1]}x{self.shape[0]}")
        return image


def read_directory_shot(frames_dir: Path, keyframes_dir: Path):
    paths = image_files(frames_dir)
    if not paths:
        raise InputError(f"no frames (image files) in {frames_dir}")
    numbers = [int(p.stem) for p in paths if p.stem.isdigit()]
    if len(numbers) == len(paths):  # numbered frames: a gap is a missing frame
        missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
        if len(set(numbers)) != len(numbers):
            raise InputError(f"two frame files in {frames_dir} share a frame number")
        if missing:
            shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise InputError(f"{len(missing)} frame(s) missing from {frames_dir}: number(s) {shown}")
    frames = FrameFolder(paths)
    for path in paths[1:]:  # sizes from the headers: a bad frame stops the run before any output
        try:
            with Image.open(path) as image:
                size = image.size
        except OSError as exc:
            raise InputError(f"{path} is not a readable image") from exc
        if size != (frames.shape[1], frames.shape[0]):
            raise InputError(f"frame {path.name} is {size[0]}x{size[1]}, "
                             f"the first frame is {frames.shape[1]}x{frames.shape[0]}")
    by_stem = {p.stem: i for i, p in enumerate(paths)}
    keyframes = {}
    for key_path in image_files(keyframes_dir):
        if key_path.stem not in by_stem:
            raise InputError(f"keyframe {key_path.name} matches no frame in {frames_dir}")
        image = read_image(key_path, color=True)
        if image.shape[:2] != frames.shape:
            raise InputError(f"keyframe {key_path.name} is {image.shape[1]}x{image.shape[0]}, "
                             f"the frames are {frames.shape[1]}x{frames.shape[0]}")
        keyframes[by_stem[key_path.stem]] = image
    if not keyframes:
        raise InputError(f"no keyframes (image files) in {keyframes_dir}")
    return frames, keyframes, [p.name for p in paths]


class LumaFrames(list):
    """Decoded frames kept as 8-bit luma (a third of RGB's memory)."""

    @property
    def shape(self):
        return self[0].shape[:2]


def read_video_shot(path: Path, keyframe_args: list[str]):
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    info = probe(path)
    if not keyframe_args:
        raise InputError("give at least one --keyframe INDEX=IMAGE")
    frames = LumaFrames(to_uint8(to_luma(f)) for f in read_frames(path))
    if not frames:
        raise InputError(f"{path.name} has no decodable frames")
    keyframes = {}
    for spec in keyframe_args:
        match = re.fullmatch(r"(\d+)=(.+)", spec)
        if not match:
            raise InputError(f"--keyframe {spec!r} is not INDEX=IMAGE")
        index, image_path = int(match.group(1)), Path(match.group(2))
        if index >= len(frames):
            raise InputError(f"--keyframe {spec}: {path.name} has frames 0..{len(frames) - 1}")
        if not image_path.is_file():
            raise InputError(f"--keyframe {spec}: {image_path} does not exist")
        image = read_image(image_path, color=True)
        if image.shape[:2] != frames.shape:
            raise InputError(f"keyframe {image_path.name} is {image.shape[1]}x{image.shape[0]}, "
                             f"the video is {frames.shape[1]}x{frames.shape[0]}")
        keyframes[index] = image
    return frames, keyframes, info.frame_rate


def write_video_shot(path: Path, frames, rate, shape) -> None:
    odd = shape[0] % 2 or shape[1] % 2  # 4:2:0 needs even sizes
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, frames, rate, codec="libx264", pix_fmt="yuv444p" if odd else "yuv420p",
                options={"crf": "16", "preset": "medium"})


# -- train ----------------------------------------------------------------------------------

def train_command(args) -> int:
    from . import data, train  # torch and the training data load only for training (see propagate_command)

    if args.export_clips:
        data.export_validation_clips(args.export_clips)
        return 0
    if args.pack_only:
        data.pack()
        train.validation_clips()
        return 0
    train.train(total_steps=args.steps, batch=args.batch, steps=args.unroll, loss=args.loss, lr=args.lr,
                init=args.init, out=args.out or train.CHECKPOINTS, weights=args.weights,
                uncarried_weight=args.uncarried_weight)
    return 0


# -- evaluate / benchmark -------------------------------------------------------------------

def evaluate_command(args) -> int:
    from .evaluate import evaluate  # loads the engine (see propagate_command)

    try:
        evaluate(args.clips, interval=args.interval, plot=args.plot, device=args.device)
    except InputError as exc:
        print(f"colorproj evaluate propagate: error: {exc}", file=sys.stderr)
        return 2
    return 0


def sheet_command(args) -> int:
    from .evaluate import contact_sheet  # loads the engine (see propagate_command)

    try:
        frames, keyframes, _ = read_video_shot(args.input, args.keyframe)
        show = [int(v) for v in args.frames.split(",") if v.strip()]
        contact_sheet(frames, keyframes, show, args.output)
    except (InputError, MediaError, ValueError) as exc:
        print(f"colorproj evaluate propagate-sheet: error: {exc}", file=sys.stderr)
        return 2
    return 0


def plan_benchmark_command(args) -> int:
    width, height = (int(v) for v in args.size.lower().split("x"))
    benchmark_plan(width, height, round(args.seconds * args.rate))
    return 0


def benchmark_command(args) -> int:
    from .evaluate import benchmark  # loads the engine (see propagate_command)

    size = args.size or ("1920x1080" if args.device == "cuda" else "854x480")
    width, height = (int(v) for v in size.lower().split("x"))
    benchmark(width, height, args.frames, args.device)
    return 0
