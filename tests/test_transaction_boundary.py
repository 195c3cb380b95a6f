"""The transaction rule, as code (docs/decisions.md, "One transaction boundary, in the code"):

- a router opens no session, no snapshot and no transaction: it hands its service the
  request's unit of work (SessionDep) or a read context (ReadsDep);
- a service receives a read context or the unit of work, never the Sessions factory and
  never a union of the two kinds;
- a transaction of its own is opened only through db.side_transaction, a snapshot only
  through ReadContext.snapshot: nothing outside app/db.py calls sessions.read() or
  sessions.write(), except the command line and start-up, which are not request paths.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
# Not request paths: they make the Sessions and open what they need.
OPENERS = {APP / "db.py", APP / "cli.py", APP / "main.py"}


def _modules() -> Iterator[Path]:
    yield from sorted(APP.rglob("*.py"))


def _routers() -> list[Path]:
    return [p for p in _modules() if p.name == "router.py" or p.name.endswith("_router.py")]


def _services() -> list[Path]:
    return [p for p in _modules() if p.name in {"service.py", "queries.py"}]


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(APP.parent)}:{getattr(node, 'lineno', '?')}"


def _names(annotation: ast.expr | None) -> set[str]:
    """Every name an annotation mentions (``A | B``, ``Optional[A]``, ``"A"``)."""
    if annotation is None:
        return set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _names(ast.parse(annotation.value, mode="eval").body)
    return {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(annotation)
        if isinstance(node, ast.Name | ast.Attribute)
    }


def _parameters(tree: ast.Module) -> Iterator[tuple[ast.arg, set[str]]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                yield arg, _names(arg.annotation)


def _opened_sessions(tree: ast.Module) -> Iterator[ast.Call]:
    """Calls of ``<...>.read()`` / ``<...>.write()`` on something named like the Sessions
    (``sessions``, ``state.sessions``), and AsyncSession(...) made by hand."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Attribute) and function.attr in {"read", "write"}:
            owner = function.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name == "sessions":
                yield node
        if isinstance(function, ast.Name) and function.id in {"AsyncSession", "Session"}:
            yield node


def test_routers_open_no_session_snapshot_or_transaction() -> None:
    found = []
    for path in _routers():
        tree = _tree(path)
        found += [_where(path, call) for call in _opened_sessions(tree)]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {
                "snapshot",
                "sessions",
                "side_transaction",
            }:
                found.append(_where(path, node))
            if isinstance(node, ast.Name) and node.id in {
                "side_transaction",
                "read_snapshot",
                "Sessions",
                "SessionsDep",
            }:
                found.append(_where(path, node))
    assert not found, f"a router opens what its service should be handed: {found}"


def test_services_receive_a_read_context_or_the_unit_of_work_never_both() -> None:
    found = []
    for path in _services():
        for arg, names in _parameters(_tree(path)):
            if "Sessions" in names or "Source" in names:
                found.append(f"{_where(path, arg)} {arg.arg}: the Sessions factory")
            if "ReadContext" in names and names & {"AsyncSession", "UnitOfWork"}:
                found.append(f"{_where(path, arg)} {arg.arg}: both kinds")
    assert not found, found


def test_no_union_of_the_two_kinds_anywhere() -> None:
    found = []
    for path in _modules():
        tree = _tree(path)
        for arg, names in _parameters(tree):
            if "ReadContext" in names and names & {"AsyncSession", "UnitOfWork", "Sessions"}:
                found.append(f"{_where(path, arg)} {arg.arg}")
        for node in ast.walk(tree):
            # The old union's name (the reference model's Source is another thing).
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "app.db"
                and any(alias.name == "Source" for alias in node.names)
            ):
                found.append(f"{_where(path, node)} Source")
    assert not found, found


def test_own_transactions_go_through_the_one_helper() -> None:
    found = [
        _where(path, call)
        for path in _modules()
        if path not in OPENERS
        for call in _opened_sessions(_tree(path))
    ]
    assert not found, f"open it with db.side_transaction or ReadContext.snapshot: {found}"


def test_the_rule_finds_what_it_forbids() -> None:
    # The checks above would see the old shapes: a router's sessions.read(), a union.
    router = ast.parse(
        "async def get(sessions):\n    async with sessions.read() as s:\n        pass\n"
    )
    assert len(list(_opened_sessions(router))) == 1
    union = ast.parse("def read(source: 'AsyncSession | ReadContext') -> None: ...")
    [(_, names)] = list(_parameters(union))
    assert {"AsyncSession", "ReadContext"} <= names
