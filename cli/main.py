"""The ``imagejobs`` command line: the root command and the registration of every command.

Every failure of a command ends as one line on stderr and a non-zero exit: the root command sends
exceptions through :func:`cli.errors.describe` (``--debug`` shows the traceback).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from cli import local, services
from cli.errors import describe
from cli.invocation import Invocation
from cli.keys import keys_app
from cli.stats import stats_command
from cli.usage import usage_command
from imagejobs.emulator.command import emulator_command

try:  # typer >= 0.24 carries its own click
    from typer.exceptions import TyperException as _UsageProblem
except ImportError:  # pragma: no cover - older typer runs on click
    from click import ClickException as _UsageProblem  # type: ignore[assignment]

err = Console(stderr=True)

_DEBUG = "imagejobs.debug"


class _Commands(TyperGroup):
    """The root command: a failure below it is printed as one line (--debug: the traceback)."""

    def invoke(self, ctx: Any) -> Any:  # a (typer's) click Context
        calls = ctx.ensure_object(Invocation)  # the settings and runtime of this command
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _UsageProblem):
            raise  # exits and usage errors, which the framework prints itself
        except Exception as exc:
            if ctx.meta.get(_DEBUG):
                raise
            message, code = describe(exc, database_url=calls.database_url)
            err.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
            raise typer.Exit(code) from None
        finally:
            calls.close()


app = typer.Typer(
    cls=_Commands,
    help="imagejobs: image understanding jobs on Gemini.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="IMAGEJOBS_DEBUG", help="Show the traceback of an error"),
    ] = False,
) -> None:
    ctx.meta[_DEBUG] = debug


app.command()(local.migrate)
app.command()(services.worker)
app.command()(local.submit)
app.command()(local.show)
app.command()(local.watch)
app.command("list")(local.list_command)
app.command()(services.flower)
app.command()(local.overlay)
app.command()(services.demo)
app.command("emulator", help="Run the local Gemini-compatible emulator.")(emulator_command)
app.command()(services.api)
app.add_typer(keys_app, name="keys")
app.command("usage")(usage_command)  # spend, tokens and jobs per producer, model, day
app.command("stats")(stats_command)  # jobs by status, calls and spend today


def cli_app() -> typer.Typer:
    """The whole command line (for tests that run it in process)."""
    return app


def main() -> None:
    app(prog_name="imagejobs")
