"""`platform`: run the embedded platform, mint tokens, drive the demo, look at traces and ops views."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from chassis.auth import mint_token
from chassis.settings import ServiceSettings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

from platform_cli.ops import app as ops_app  # noqa: E402 — after the root app, as typer composes them

app.add_typer(ops_app, name="ops")


@app.command()
def run(
    data_dir: Path = typer.Option(Path(".data"), help="where the databases, emails, traces and logs go"),
) -> None:
    """Start the whole platform on embedded defaults (Ctrl-C stops everything)."""
    from platform_cli.stack import run as run_stack

    run_stack(data_dir)


@app.command()
def token(
    role: str = typer.Option("ops", help="ops | technician | integrator"),
    integrator_id: str = typer.Option(None, help="for an integrator token"),
    subject: str = typer.Option(None, help="who (defaults to the role)"),
) -> None:
    """Print a bearer token signed with AUTH_SECRET (the dev default unless set)."""
    secret = ServiceSettings().auth_secret.get_secret_value()
    typer.echo(
        mint_token(
            secret, role=role, subject=subject or f"{role}@{os.uname().nodename}", integrator_id=integrator_id
        )
    )


@app.command()
def demo(
    embedded: bool = typer.Option(
        False, "--embedded", help="start the embedded platform for the demo and stop it all afterwards"
    ),
    data_dir: Path = typer.Option(Path(".data"), help="the platform's data (--embedded: where it goes)"),
    mail_dir: Path = typer.Option(None, help="the SMTP sink's folder (default: <data-dir>/mail)"),
    traces_dir: Path = typer.Option(None, help="where the services write spans (default: <data-dir>/traces)"),
) -> None:
    """One integrator through the whole of seed 000 and one ticket to its rating, through the public
    HTTP APIs: prints the timeline, the emails and where to see the production order's trace.
    Without --embedded it drives a running `make run` (ONBOARDING_URL... override the URLs)."""
    from platform_cli.demo_cli import main as run_demo

    raise typer.Exit(run_demo(embedded, data_dir, mail_dir, traces_dir))


if __name__ == "__main__":
    app()


@app.command()
def trace(
    trace_id: str = typer.Argument(None, help="a trace id; the latest trace when omitted"),
    traces_dir: Path = typer.Option(Path(".data/traces"), help="where the services write their spans"),
    contains: str = typer.Option(None, help="pick the latest trace with a span whose name contains this"),
) -> None:
    """Print one trace as an indented tree with durations (from the OTLP JSON lines)."""
    from platform_cli.traces import read_spans, render, trace_tree, traces_with

    spans = read_spans(traces_dir)
    if not spans:
        typer.echo(f"no spans under {traces_dir}")
        raise typer.Exit(1)
    if trace_id is None:
        candidates = traces_with(spans, lambda s: contains is None or contains in s.name)
        if not candidates:
            typer.echo("no trace matches")
            raise typer.Exit(1)
        trace_id = candidates[-1]
    roots = trace_tree(spans, trace_id.strip().lower())
    if not roots:
        # Said, and a non-zero exit: a script (or a person) must not take silence for an empty trace.
        typer.echo(f"trace {trace_id} not found under {traces_dir}", err=True)
        raise typer.Exit(1)
    typer.echo(f"trace {trace_id}")
    typer.echo(render(roots))
