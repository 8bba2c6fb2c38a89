"""The `colorproj` command line.

Each engine registers its own subcommands; this module only builds the
top-level groups (`train`, `evaluate`, `benchmark`) they hang under.
"""
import argparse
import sys

from inference.keyframe import cli as keyframe_cli
from inference.propagation import cli as propagation_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colorproj", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups = {
        name: commands.add_parser(name, help=help_).add_subparsers(dest="target", required=True, metavar="TARGET")
        for name, help_ in [
            ("train", "train a network"),
            ("evaluate", "measure a network against its baseline"),
            ("benchmark", "print speed figures"),
        ]
    }
    for engine in (keyframe_cli, propagation_cli):
        engine.register(commands, groups)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
