"""Results as JSON and as the markdown table the README's "Performance" section shows."""

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

from app.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
RESULTS = PROJECT_ROOT / "bench" / "results"
START, END = "<!-- bench-results:start -->", "<!-- bench-results:end -->"
TARGETS_MS = {"gap_small": 10.0, "gap_member": 15.0, "gap_system": 100.0}
RATIOS = {"asset_get": ("floor_get", "plain_get"), "asset_page": ("floor_page", "plain_page")}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    memory = "unknown"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
        kb = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
        memory = f"{int(kb.group(1)) / 1024 / 1024:.1f} GiB" if kb else memory
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def served_rps(result: dict[str, Any]) -> float:
    """Requests per second answered as expected: under load the service refuses what it
    cannot serve promptly (503), and those answers are not throughput."""
    requests = result.get("requests") or 0
    if not requests:
        return 0.0
    return float(result["rps"]) * (requests - int(result.get("errors", 0))) / int(requests)


def _cells(result: dict[str, Any] | None) -> list[str]:
    if not result:
        return ["", "", ""]
    if result.get("available") is False:
        return ["not available", "", ""]
    rps = _num(served_rps(result))
    if result.get("errors"):
        share = result["errors"] / max(1, result["requests"])
        rps += f" ({share:.0%} refused or failed)"
        # wrk's latencies cover every answer, the quick refusals too: mark them.
        return [rps, f"{result['p50_ms']:.2f}*", f"{result['p99_ms']:.1f}*"]
    return [rps, f"{result['p50_ms']:.2f}", f"{result['p99_ms']:.1f}"]


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b or not served_rps(a) or not served_rps(b):
        return ""
    return f"{served_rps(a) / served_rps(b):.2f}"


def _database_table(name: str, db: dict[str, Any]) -> list[str]:
    workers = sorted(db["workers"], key=int)
    top = db["workers"][workers[-1]]
    header = ["request"]
    for w in workers:
        header += [f"{w}w req/s", f"{w}w p50 ms", f"{w}w p99 ms"]
    header += [f"÷ floor ({workers[-1]}w)", "÷ plain sync", "÷ ceiling"]
    lines = [f"**{name}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ceiling = top["references"].get("ceiling")
    for scenario, result in top["service"]["scenarios"].items():
        row = [result["label"]]
        for w in workers:
            row += _cells(db["workers"][w]["service"]["scenarios"].get(scenario))
        floor_name, plain_name = RATIOS.get(scenario, (None, None))
        refs = top["references"]
        row += [
            _ratio(result, refs.get(floor_name)) if floor_name else "",
            _ratio(result, refs.get(plain_name)) if plain_name else "",
            _ratio(result, ceiling),
        ]
        lines.append("| " + " | ".join(row) + " |")
    for scenario, result in top["references"].items():
        row = [f"*reference: {result['label']}*"]
        for w in workers:
            row += _cells(db["workers"][w]["references"].get(scenario))
        row += ["", "", _ratio(result, ceiling) if scenario != "ceiling" else ""]
        lines.append("| " + " | ".join(row) + " |")
    probes = top["service"].get("probes") or {}
    if probes:
        lines += [
            "",
            f"| at 2 connections, {workers[-1]} workers | req/s | p50 ms | p99 ms | target p50 |",
            "|---|---|---|---|---|",
        ]
        for scenario, result in probes.items():
            target = TARGETS_MS.get(scenario)
            verdict = ""
            if target is not None:
                verdict = f"< {target:g} ms " + (
                    "met" if result["p50_ms"] < target else "**missed**"
                )
            lines.append("| " + " | ".join([result["label"], *_cells(result), verdict]) + " |")
    memory = top["service"].get("export_memory")
    if memory:
        lines += [
            "",
            f"CSV export of the ICS's assets, streamed to the end by one client: "
            f"{memory['rows']:,} rows in {memory['seconds']} s; the server's resident memory "
            f"peaked at {memory['peak_mb']} MB from {memory['before_mb']} MB, a growth of "
            f"{memory['growth_mb']} MB (target under 50 MB: "
            f"{'met' if memory['growth_mb'] < 50 else '**missed**'}).",
        ]
    queries = db.get("queries")
    if queries:
        lines += [
            "",
            f"Queries per request: system analysis {queries['system_small']} (ICS of "
            f"{db['shape']['small_members']}) and {queries['system_large']} (ICS of "
            f"{db['shape']['members']}); a member's analysis {queries['member_small']} and "
            f"{queries['member_large']}; get an asset {queries['asset_get']}; page of 50 "
            f"{queries['asset_page']}.",
        ]
    overload = db.get("overload")
    if overload:
        lines += _overload_table(overload)
    return lines


def _overload_table(overload: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"| {overload['connections']} connections, {overload['workers']} workers, "
        "10 s | answers/s | served (2xx) | refused (503) | other | served p50 ms | served p99 ms "
        "| slowest served ms | peak sessions idle in transaction |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("org_get", "gap_member"):
        run = overload.get(name)
        if not run:
            continue
        statuses = run["by_status"]
        served = {k: v for k, v in statuses.items() if k.startswith("2")}
        count = sum(v["count"] for v in served.values())
        refused = statuses.get("503", {}).get("count", 0)
        other = run["requests"] - count - refused + run["errors"] + run["timeouts"]
        best = max(served.values(), key=lambda v: v["count"], default=None)
        idle = run["pg_sessions_peak"].get("idle in transaction", 0)
        lines.append(
            "| "
            + " | ".join(
                [
                    name.replace("_", " "),
                    _num(run["rps"]),
                    str(count),
                    str(refused),
                    str(other),
                    f"{best['p50_ms']:.1f}" if best else "",
                    f"{best['p99_ms']:.1f}" if best else "",
                    f"{best['max_ms']:.0f}" if best else "",
                    str(idle),
                ]
            )
            + " |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Measured {results['date']} with `{results['command']}` on {m['nproc']} CPUs "
        f"({m['cpu']}), {m['memory']} of memory; load average {results['load_before']} before "
        f"and {results['load_after']} after (other work shares this machine). Load generator: "
        f"{results['tool']}, {results['connections']} connections, {results['seconds']:g} s per "
        "request after a warm-up; authenticated with an API key (a global admin). Ratios are "
        "to references measured in the same run under the same uvicorn flags (uvloop, "
        "httptools): the floor is raw ASGI + the driver + orjson serving the same row and page. "
        "req/s counts answers with the expected status; where some were refused (503, the "
        "overload bound) or failed, the latencies marked * are of every answer, refusals too.",
        "",
    ]
    for name, db in results["databases"].items():
        lines += _database_table(db.get("title", name), db)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Render the README table again from the latest results (after a change to this file)."""
    results = json.loads((RESULTS / "latest.json").read_text())
    print(write(results, RESULTS, update_readme=True).read_text())


def write(results: dict[str, Any], directory: Path, *, update_readme: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (directory / "latest.md").write_text(table)
    if update_readme:
        text = README.read_text()
        if START in text and END in text:
            before, rest = text.split(START, 1)
            _, after = rest.split(END, 1)
            README.write_text(f"{before}{START}\n{table}{END}{after}")
    return directory / "latest.md"


if __name__ == "__main__":
    main()
