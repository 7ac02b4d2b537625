"""The ``localize`` command: thin subcommands over the library.

Each subcommand lives in the module that owns its concept and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the command
being run is imported, so ``localize --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import InputError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("localize.demo", "run every capability on the built-in data and write a report"),
    "masks": ("masks.cli", "derive ground-truth forgery masks from original/manipulated pairs"),
    "forge": ("localize.forge.cli", "make forged counterparts of real videos with exact masks"),
    "train": ("localize.training", "train the U-Net localizer"),
    "calibrate": ("localize.calibrate", "set a model's operating point on validation videos or your own real footage"),
    "analyze": ("localize.batch", "analyze suspect videos or images: masks, decision, overlays"),
    "export": ("localize.export", "export a checkpoint to ONNX"),
    "serve": ("localize.server.app", "serve the ONNX model and the viewer over HTTP"),
    "enroll": ("localize.identity.cli", "build a person's identity profile from real videos/photos"),
    "verify": ("localize.identity.cli", "score a video against a person's identity profile"),
    "evaluate": ("localize.evaluate.cli", "compare the mask-based and zero-shot detectors"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="localize", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"localize {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == selected:
            mod = importlib.import_module(module)
            adder = getattr(mod, f"add_{name}_arguments", None) or mod.add_arguments
            adder(p)
            p.set_defaults(_run=getattr(mod, f"run_{name}", None) or mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    selected = selected if selected in COMMANDS else None
    parser = build_parser(selected)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except InputError as e:
        print(f"localize {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"localize {args.command}: interrupted", file=sys.stderr)
        return 130


def script_main(command: str, prog: str, argv: list[str] | None = None) -> int:
    """Entry point of a root script (``train.py``, ``export_onnx.py``): the same
    arguments, library call and one-line errors as ``localize <command>``."""
    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=prog, description=COMMANDS[command][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(module.run(args) or 0)
    except InputError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
