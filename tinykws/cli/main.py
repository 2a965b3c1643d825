"""The ``tinykws`` command.

Each sub-command lives in its own module under :mod:`tinykws.cli` and is only
imported when it runs, so ``tinykws --help`` answers at once without loading
TensorFlow. Command functions are thin: they parse options and call plain
functions of the pipeline stages.

A :class:`tinykws.errors.UserError` anywhere below becomes one ``error: ...``
line on stderr and exit status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from tinykws import __version__
from tinykws.errors import UserError

# name -> (module, attribute, one-line help). The single registry of commands.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("tinykws.cli.demo", "demo", "Synthesize a keyword dataset, train, quantize and verify: no download, no board."),
    "train": ("tinykws.cli.train", "train", "Train a keyword model on a dataset folder."),
    "evaluate": ("tinykws.cli.evaluate", "evaluate", "Evaluate a trained run on a dataset (float and int8 on TFLM)."),
    "export": ("tinykws.cli.export", "export", "Write a run's model folder: the C files the firmware compiles."),
    "runs": ("tinykws.cli.runs", "runs", "List training runs and their key figures."),
    "data": ("tinykws.cli.data", "data", "Check, import, download and synthesize datasets."),
    "devices": ("tinykws.cli.devices", "devices", "List serial ports and guess which are boards."),
    "record": ("tinykws.cli.record", "record", "Record keyword clips through a board's microphone."),
    "flash": ("tinykws.cli.flash", "flash", "Export a run, build the firmware and upload it with PlatformIO."),
    "monitor": ("tinykws.cli.monitor", "monitor", "Watch detections and on-device latency live."),
    "report": ("tinykws.cli.report", "report", "Summarise a monitor log and check for drift."),
    "sim": ("tinykws.cli.sim", "sim", "Run a virtual board on a pseudo-terminal."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n, (mod, _, _) in COMMANDS.items() if importlib.util.find_spec(mod) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        mod_name, attr, _ = COMMANDS[name]
        if importlib.util.find_spec(mod_name) is None:
            return None
        return getattr(importlib.import_module(mod_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinykws")
def cli() -> None:
    """tinykws: keyword spotting for microcontrollers.

    record -> train -> flash -> monitor. Start with `tinykws demo`.
    """


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        cli.main(args=argv, standalone_mode=False)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.exit(1)


if __name__ == "__main__":
    main()
