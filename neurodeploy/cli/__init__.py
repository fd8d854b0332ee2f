"""The ``neurodeploy`` command: one subcommand per stage, and ``run`` for all.

Each command module (``run``: run and the per-stage commands; ``verify``,
``deploy``, ``inspect``, ``compare``, ``importer`` (``import``), ``analyze``,
``sweep``, ``supermask``) has
``add_parser(subparsers)``, which returns the parsers it added, and
``run(args)``, which parses, calls the package and prints, returning the exit
code. ``COMMANDS`` lists them in help order; ``common`` holds what they share.
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import NoReturn, Sequence

from neurodeploy.cli import analyze, compare, deploy, importer, inspect, run, supermask, sweep, verify
from neurodeploy.cli.common import UsageError

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

DESCRIPTION = """\
Deploy spiking neural networks to Loihi-class chips: train a SLAYER SNN,
prune it, quantize and export it to NetX HDF5, run the dense and the pruned
network in Lava's fixed-point simulator, and compare spikes and synaptic
operations. Every stage reads and writes files in one run folder (--out)."""

COMMANDS: tuple[ModuleType, ...] = (run, verify, deploy, inspect, compare, importer, analyze, sweep, supermask)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are a ``UsageError`` (one line, exit code 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with the subparsers of every module of ``COMMANDS``; each
    sets ``handler``, the ``run`` of its module."""
    parser = _Parser(prog="neurodeploy", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for module in COMMANDS:
        for command in module.add_parser(subparsers):
            command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (``verify.EXIT_HELP``: 0 ok, 1 not equivalent, 2
    bad input, 3 equivalent with silent layers, 128 + N for signal N: 130 Ctrl-C, 143 SIGTERM).

    Child processes die with this one (``processes.die_with_parent``), and SIGTERM and
    SIGHUP stop it as Ctrl-C does, running the same cleanup."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    import signal

    from neurodeploy.errors import describe, loaded, user_errors
    from neurodeploy.processes import die_with_parent, exit_code, stop_signal, terminate_like_interrupt

    die_with_parent()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    terminate_like_interrupt()
    try:
        return args.handler(args)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    except loaded((("neurodeploy.simulate.input_options", "InputOptionError"),)) as err:
        print(f"{err.where if err.where is not None else f'neurodeploy {args.command}'}: {err}", file=sys.stderr)
        return 2
    except user_errors() as err:
        print(f"neurodeploy: error: {describe(err, hasattr(args, 'max_memory'))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        stopped = stop_signal(interrupt)
        print(f"neurodeploy: {'interrupted' if stopped == signal.SIGINT else f'stopped by {stopped.name}'}",
              file=sys.stderr)
        return exit_code(interrupt)
    finally:
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)
