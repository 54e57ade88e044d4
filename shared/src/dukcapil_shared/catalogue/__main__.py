"""`python -m dukcapil_shared.catalogue intake review ...` writes each service's services/<service>/asyncapi.json and
their broker permissions, deploy/rabbitmq/access.json; with `--check` it only says which committed documents differ
from what the code generates (`make asyncapi`)."""

import os
from pathlib import Path
from typing import Annotated

import typer

from dukcapil_shared.catalogue.files import (
    ACCESS_PLAN,
    committed_access_plan,
    committed_document,
    document_path,
    generated_access_plan,
    generated_document,
)

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def write(
    services: Annotated[list[str], typer.Argument(help="e.g. intake review documents shipping")],
    root: Annotated[Path, typer.Option(help="the repository (default: here)")] = Path(),
    check: Annotated[bool, typer.Option("--check", help="change nothing; fail if a document is out of date")] = False,
) -> None:
    root = root.resolve()
    stale = []
    for service in services:
        # Building the app may warn (e.g. of a development signing key made in the scratch directory): not news here.
        os.environ[f"{service.upper()}_LOG_LEVEL"] = "ERROR"
        generated = generated_document(service)
        path = document_path(root, service)
        if committed_document(root, service) == generated:
            continue
        stale.append(path)
        if not check:
            path.write_text(generated, encoding="utf-8")
            typer.echo(f"wrote {path.relative_to(root)}")
    plan = generated_access_plan(services)
    if committed_access_plan(root) != plan:
        stale.append(root / ACCESS_PLAN)
        if not check:
            (root / ACCESS_PLAN).parent.mkdir(parents=True, exist_ok=True)
            (root / ACCESS_PLAN).write_text(plan, encoding="utf-8")
            typer.echo(f"wrote {ACCESS_PLAN}")
    if check and stale:
        names = ", ".join(str(path.relative_to(root)) for path in stale)
        typer.echo(f"out of date with the code: {names}; run `make asyncapi` and commit the result", err=True)
        raise typer.Exit(1)


if __name__ == "__main__":
    app(prog_name="python -m dukcapil_shared.catalogue")
