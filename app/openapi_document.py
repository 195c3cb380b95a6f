"""Write or check the committed OpenAPI document: ``python -m app.openapi_document write|check``."""

import json
import sys
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def served() -> dict[str, Any]:
    from app.main import create_app

    return create_app().openapi()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("write", "check"):
        print("usage: python -m app.openapi_document write|check PATH", file=sys.stderr)
        return 2
    path = Path(argv[2])
    document = served()
    validate(document)
    if argv[1] == "write":
        path.write_text(render(document), encoding="utf-8")
        return 0
    if not path.exists() or path.read_text(encoding="utf-8") != render(document):
        print(f"{path} differs from what the app serves: run `make openapi` and commit it.")
        return 1
    print(f"{path} matches the app.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
