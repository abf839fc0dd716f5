"""Entry point: `gemma-desktop [--basedir DIR]` opens the window; subcommands run headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the GUI or a command; user errors exit non-zero with one line, no traceback."""
    import multiprocessing

    # Frozen builds start the document helper process through this entry point.
    multiprocessing.freeze_support()
    from gemma_desktop.cli import build_parser, run_command

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.command is None:
        from gemma_desktop.app import run_gui

        return run_gui(args.basedir, ["gemma-desktop", *argv])
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
