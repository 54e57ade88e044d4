"""`python -m dukcapil_shared.catalogue intake review ...` writes each service's services/<service>/asyncapi.json;
with `--check` it only says which committed documents differ from what the code generates (`make asyncapi`)."""

import argparse
import os
import sys
from pathlib import Path

from dukcapil_shared.catalogue.files import committed_document, document_path, generated_document


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
    if arguments.check and stale:
        names = ", ".join(str(path.relative_to(root)) for path in stale)
        print(f"out of date with the code: {names}; run `make asyncapi` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
