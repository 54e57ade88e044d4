"""`python -m dukcapil_shared.catalogue intake review ...` writes each service's services/<service>/asyncapi.json and
their broker permissions, deploy/rabbitmq/access.json; with `--check` it only says which committed documents differ
from what the code generates (`make asyncapi`)."""

import argparse
import os
import sys
from pathlib import Path

from dukcapil_shared.catalogue.files import (
    ACCESS_PLAN,
    committed_access_plan,
    committed_document,
    document_path,
    generated_access_plan,
    generated_document,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dukcapil_shared.catalogue", description=__doc__)
    parser.add_argument("services", nargs="+", help="e.g. intake review documents shipping")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: here)")
    parser.add_argument("--check", action="store_true", help="change nothing; fail if a document is out of date")
    arguments = parser.parse_args(argv)
    root = arguments.root.resolve()
    stale = []
    for service in arguments.services:
        # Building the app may warn (e.g. of a development signing key made in the scratch directory): not news here.
        os.environ[f"{service.upper()}_LOG_LEVEL"] = "ERROR"
        generated = generated_document(service)
        path = document_path(root, service)
        if committed_document(root, service) == generated:
            continue
        stale.append(path)
        if not arguments.check:
            path.write_text(generated, encoding="utf-8")
            print(f"wrote {path.relative_to(root)}")
    plan = generated_access_plan(arguments.services)
    if committed_access_plan(root) != plan:
        stale.append(root / ACCESS_PLAN)
        if not arguments.check:
            (root / ACCESS_PLAN).parent.mkdir(parents=True, exist_ok=True)
            (root / ACCESS_PLAN).write_text(plan, encoding="utf-8")
            print(f"wrote {ACCESS_PLAN}")
    if arguments.check and stale:
        names = ", ".join(str(path.relative_to(root)) for path in stale)
        print(f"out of date with the code: {names}; run `make asyncapi` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
