"""A Python client generated from the committed openapi/openapi.json, used as a customer would:
against a real uvicorn, and nothing but the generated code.

Each step of the scenario is one method of ``Scenario``, listed in ``STEPS``; a new feature
(CSV import, say) adds a method and a line there.
"""

import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import PROJECT_ROOT
from tests.conftest import Backend, running_server

# A warning Python gives when it compiles the generated code is a defect of the API document
# too (an integer "const" once became "!= 1and").
pytestmark = [pytest.mark.generated_client, pytest.mark.filterwarnings("error::SyntaxWarning")]

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "lhs_client"
# Low enough for the last step to reach it, high enough for the steps before.
RATE_LIMIT_PER_MINUTE = 60


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """Generate the client into a temporary directory and import it."""
    if not GENERATOR.exists() and shutil.which("openapi-python-client") is None:
        pytest.skip("openapi-python-client is not installed (it is in the dev extra)")
    command = str(GENERATOR) if GENERATOR.exists() else "openapi-python-client"
    where = tmp_path_factory.mktemp("client")
    config = where / "config.json"
    # No post hooks: the client is imported, not read, so formatting it with ruff is not needed.
    # The committed generator settings, as a customer would use them: the one non-default is
    # that a text/csv body (the file imports) is sent as raw bytes, which the generator does
    # not do for text/csv on its own.
    settings = json.loads((PROJECT_ROOT / "openapi" / "client-config.json").read_text())
    config.write_text(json.dumps(settings | {"package_name_override": PACKAGE}))
    result = subprocess.run(  # noqa: S603 - our own generator, our own document
        [
            command,
            "generate",
            "--path",
            str(PROJECT_ROOT / "openapi" / "openapi.json"),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(where / PACKAGE),
        ],
        capture_output=True,
        text=True,
        cwd=where,
        env=os.environ | {"NO_COLOR": "1"},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # The generator reports every construct it could not turn into code as a warning.
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


class Scenario:
    """One customer's session, step by step, with the generated client only."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.client: Any = None
        self.models = module("models")
        self.state: dict[str, Any] = {}

    def call(self, operation: str, status: int, **arguments: Any) -> Any:
        """Call ``api/<tag>/<operation>`` and check the status; returns the typed body."""
        tag, _ = operation.split(".")
        endpoint = module(f"api.{tag}.{operation.split('.')[1]}")
        arguments.setdefault("client", self.client)
        response = endpoint.sync_detailed(**arguments)
        assert response.status_code == status, response.content
        return response

    def authenticate(self) -> None:
        """Without a credential, a typed 401; with an API key, the client is let in."""
        anonymous = module("client").Client(base_url=self.base_url)
        refused = self.call("organisations.organisations_list", 401, client=anonymous).parsed
        assert isinstance(refused, self.models.Problem)
        assert (refused.status, refused.code) == (401, "UNAUTHENTICATED")
        self.client = module("client").AuthenticatedClient(
            base_url=self.base_url, token=self.api_key, raise_on_unexpected_status=True
        )
        listed = self.call("organisations.organisations_list", 200).parsed
        assert listed.items == []

    def create_an_ics_and_a_trust(self) -> None:
        m = self.models
        ics = self.call(
            "organisations.organisations_create",
            201,
            body=m.OrganisationCreate(
                name="Generated ICS", organisation_type=m.OrganisationType.ICS
            ),
        ).parsed
        trust = self.call(
            "organisations.organisations_create",
            201,
            body=m.OrganisationCreate(
                name="Generated Trust",
                organisation_type=m.OrganisationType.ACUTE_TRUST,
                parent_id=ics.id,
            ),
        ).parsed
        assert isinstance(trust, m.OrganisationPublic)
        assert trust.parent_id == ics.id
        self.state.update(ics=ics, trust=trust)

    def add_assets(self) -> None:
        m = self.models
        trust = self.state["trust"]
        created = []
        for number, (area, key) in enumerate(
            [
                (m.Area.DATA, "data-platform"),
                (m.Area.IMPROVEMENT, "improvement-capability"),
                (m.Area.TECHNOLOGY, None),
            ]
        ):
            body = m.AssetCreate(area=area, name=f"Asset {number}", maturity=number + 1)
            if key is not None:
                body.capability_key = key
            response = self.call("assets.assets_create", 201, organisation_id=trust.id, body=body)
            assert isinstance(response.parsed, m.AssetPublic)
            assert response.headers["etag"] == f'W/"{response.parsed.version}"'
            created.append(response.parsed)
        self.state["assets"] = created

    def import_a_csv(self) -> None:
        """A spreadsheet of assets, sent as the file it is (text/csv); a second import of the
        same sheet updates by externalId instead of duplicating."""
        trust = self.state["trust"]
        sheet = (
            b"externalId,area,capabilityKey,name,maturity,confidence\r\n"
            b"SHEET-1,data,data-platform,Platform from the sheet,2,self_assessed\r\n"
        )
        file = module("types").File(payload=io.BytesIO(sheet), mime_type="text/csv")
        first = self.call("imports.assets_import", 200, organisation_id=trust.id, body=file).parsed
        assert (first.rows, first.created, first.updated) == (1, 1, 0)
        again = self.call(
            "imports.assets_import",
            200,
            organisation_id=trust.id,
            body=module("types").File(payload=io.BytesIO(sheet), mime_type="text/csv"),
        ).parsed
        assert (again.created, again.unchanged) == (0, 1)
        self.state["imported"] = 1

    def run_the_gap_analysis(self) -> None:
        m = self.models
        analysis = self.call(
            "gap_analysis.gap_analysis_get", 200, organisation_id=self.state["trust"].id
        ).parsed
        assert isinstance(analysis, m.GapAnalysis)
        assert analysis.recommendations
        assert analysis.recommendations[0].rank == 1
        system = self.call(
            "gap_analysis.gap_analysis_get",
            200,
            organisation_id=self.state["ics"].id,
            scope=m.Scope.SYSTEM,
        ).parsed
        assert isinstance(system, m.SystemGapAnalysis)

    def page_through_assets(self) -> None:
        trust = self.state["trust"]
        seen: list[uuid.UUID] = []
        cursor: Any = module("types").UNSET
        for _ in range(10):
            page = self.call(
                "assets.assets_list", 200, organisation_id=trust.id, limit=2, cursor=cursor
            ).parsed
            seen.extend(asset.id for asset in page.items)
            if page.links.next_ is None:
                break
            # links.next is the next page's URL; its cursor parameter is the opaque cursor.
            cursor = parse_qs(urlsplit(page.links.next_).query)["cursor"][0]
        created = [asset.id for asset in self.state["assets"]]
        assert seen[: len(created)] == created  # oldest first, then the imported one
        assert len(seen) == len(created) + self.state["imported"]

    def read_a_404(self) -> None:
        m = self.models
        missing = uuid.uuid4()
        problem = self.call("organisations.organisations_get", 404, organisation_id=missing).parsed
        assert isinstance(problem, m.Problem)
        assert (problem.status, problem.code) == (404, "NOT_FOUND")
        assert problem.trace_id

    def read_a_412(self) -> None:
        m = self.models
        asset = self.state["assets"][0]
        response = self.call(
            "assets.assets_update",
            412,
            asset_id=asset.id,
            if_match=f'W/"{asset.version + 5}"',
            body=m.AssetUpdate(name="Renamed"),
        )
        problem = response.parsed
        assert isinstance(problem, m.Problem)
        assert (problem.status, problem.code) == (412, "PRECONDITION_FAILED")
        assert problem.trace_id == response.headers["x-request-id"]
        renamed = self.call(
            "assets.assets_update",
            200,
            asset_id=asset.id,
            if_match=response.headers.get("etag") or f'W/"{asset.version}"',
            body=m.AssetUpdate(name="Renamed"),
        ).parsed
        assert renamed.name == "Renamed"

    def read_a_429(self) -> None:
        """Over the rate limit: a typed problem, and Retry-After says when to come back."""
        for _ in range(RATE_LIMIT_PER_MINUTE + 1):
            response = module("api.organisations.organisations_list").sync_detailed(
                client=self.client
            )
            if response.status_code != 200:
                break
        assert response.status_code == 429, response.content
        problem = response.parsed
        assert isinstance(problem, self.models.Problem)
        assert (problem.status, problem.code) == (429, "RATE_LIMITED")
        assert int(response.headers["retry-after"]) > 0


STEPS = (
    Scenario.authenticate,
    Scenario.create_an_ics_and_a_trust,
    Scenario.add_assets,
    Scenario.import_a_csv,
    Scenario.run_the_gap_analysis,
    Scenario.page_through_assets,
    Scenario.read_a_404,
    Scenario.read_a_412,
    Scenario.read_a_429,
)


@pytest.fixture
async def limited_server(
    backend: Backend, client: httpx.AsyncClient, tmp_path: Path
) -> AsyncIterator[str]:
    """A real uvicorn with a rate limit the scenario can reach (stopped before ``client``
    empties the tables)."""
    limit = {"LHS_RATE_LIMIT": f"{RATE_LIMIT_PER_MINUTE}/minute"}
    async with running_server(backend.url, tmp_path / "uvicorn.log", **limit) as base_url:
        yield base_url


def test_a_generated_client_runs_a_whole_session(
    generated: ModuleType, limited_server: str, api_key: str
) -> None:
    scenario = Scenario(limited_server, api_key)
    for step in STEPS:
        step(scenario)
