"""The `affect-studio` command line. Commands only parse options, call pipelines and show results.

Expected failures (`AffectStudioError`) print one line naming the file and the problem and exit with 2.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.logging import RichHandler

from rigs.errors import AffectStudioError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    name="affect-studio",
    help="Emotion-aware talking faces, rig curves and synthetic expression data, offline on a CPU.\n\n"
    "Start with `affect-studio demo`, then `affect-studio analyze IMAGE_OR_VIDEO`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


@app.callback()
def _global_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what each stage does."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )


def _register_commands() -> None:
    # Commands live in their own modules; importing them adds them to `app`.
    from studio.commands import analyze, demo, rig, synth, talk  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `affect-studio` script."""
    _register_commands()
    try:
        app(args=argv, prog_name="affect-studio")
    except AffectStudioError as error:
        err_console.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
