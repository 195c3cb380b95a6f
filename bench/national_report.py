"""bench/results/national.json and national.md from a national run's results."""

import json
from pathlib import Path
from typing import Any

# The targets (ms): p50 unless named.
TARGETS = {
    "member_analysis_cold": 15.0,
    "member_analysis": 15.0,
    "system_view": 100.0,
    "benchmark": 50.0,
    "changes_page": 20.0,
    "systems": 50.0,
    "coverage": 50.0,
}
COLD_TARGET = 2000.0  # the national views' first answer
CSV_GROWTH_MB = 50.0
IMPORT_GROWTH_MB = 200.0


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "—"
    return "met" if value < target else "**missed**"


def _reads_table(reads: dict[str, Any]) -> list[str]:
    lines = [
        "| request | first / cold ms | p50 ms | p99 ms | target | |",
        "|---|---|---|---|---|---|",
    ]
    for name, read in reads.items():
        if name in ("global_csv", "new_worker_ms", "note"):  # said beside the table
            continue
        if read.get("available") is False:
            lines.append(f"| {name} | not available ({read['status']}) | | | | |")
            continue
        first = read.get("cold_ms", read.get("first_ms", ""))
        p50 = read.get("p50_ms")
        target = TARGETS.get(name)
        if read.get("requests") == 0:  # nothing answered within the window: no p50 to judge
            lines.append(f"| {name} | {first} | none answered in the window | | | **missed** |")
            continue
        lines.append(
            f"| {name} | {first} | {p50} | {read.get('p99_ms', '')} | "
            f"{f'< {target:g}' if target else ''} | {_verdict(p50, target) if target else ''} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    imp = results["import"]
    out = [
        "# National scale",
        "",
        f"`{results['command']}` on {results['date']}; {results['machine']}; load generator "
        f"{results['tool']}; load average before {results['load_before']}, after "
        f"{results['load_after']}; the whole run took {results['total_seconds']} s.",
        "",
        "## Data",
        "",
        f"Generated: {results['shape']}. Stored after the run: {results['data']}.",
        "",
        "## Load",
        "",
        "- Through the service's paths over HTTP (each ICB created, then its organisations, "
        "assets, activities and plan items files"
        # A run before the data set had them did not load them: it says what it loaded.
        + (
            ", its organisations' returns, their self-assessments answered and submitted, "
            "some answers moderated"
            if "self_assessments" in imp["seconds_by_kind"]
            else ""
        )
        + f"): **{imp['wall_seconds']} s** ({imp['rows_per_second']} rows/s; by kind "
        f"{imp['seconds_by_kind']}).",
    ]
    if "copy" in results:
        copied = results["copy"]
        out.append(
            f"- The floor, COPY of the same rows into the same tables (audit events included): "
            f"**{copied['wall_seconds']} s** (by kind {copied.get('seconds_by_kind')}; "
            f"{copied['rows']})."
        )
        out.append(f"- Import / COPY: **{results['import_over_copy']} times** the floor's time.")
        if "import_over_copy_by_kind" in results:
            out.append(f"- By kind, times the floor: {results['import_over_copy_by_kind']}.")
    rss = imp["server_rss"]
    out += [
        f"- Server resident memory during the import: {rss['before_mb']} MB before, peak "
        f"{rss['peak_mb']} MB: growth **{rss['growth_mb']} MB** (target < {IMPORT_GROWTH_MB:g} "
        f"MB: {_verdict(rss['growth_mb'], IMPORT_GROWTH_MB)}).",
        "",
        "## Reads at 2 connections",
        "",
        *_reads_table(results["reads"]),
        "",
    ]
    out += _beside_the_table(results["reads"])
    if "seq_scans" in results:
        out += [
            "",
            "## Plans",
            "",
            "Every statement of each hot request: bench/results/national-plans.md. Sequential "
            f"scans in them: {results['seq_scans'] or 'none'}.",
        ]
    if "reads_analyzed" in results:
        again = dict(results["reads_analyzed"])
        load = again.pop("load_average", None)
        loaded_by = again.pop("loaded_by", "the earlier run's import")
        sizes = again.pop("data", None)
        machine = again.pop("machine", None)
        when = again.pop("date", results["date"])
        out += [
            "",
            "## Reads again after ANALYZE (`python -m bench national --reads-only`)",
            "",
            f"{when}: the data loaded by {loaded_by}, its planner statistics refreshed (an "
            f"import leaves them behind until autovacuum's next pass); load average {load}.",
            *(["", f"Machine: {machine}."] if machine else []),
            *(["", f"Stored: {sizes}."] if sizes else []),
            "",
            *_reads_table(again),
            "",
            *_beside_the_table(again),
            "",
            f"Sequential scans in the plans: {results.get('seq_scans_analyzed') or 'none'}.",
        ]
    if "curve" in results:
        out += ["", *curve_table(results)]
    if "curve_again" in results:
        out += ["", *curve_table(results, again=True)]
    return "\n".join(out) + "\n"


CURVE_READS = ("member_analysis", "system_view", "assets_page", "benchmark")


def _beside_the_table(reads: dict[str, Any]) -> list[str]:
    """The national views' cold answers, the global export and the cold member analyses."""
    out = [f"- {reads['note']}"] if "note" in reads else []
    fresh = reads.get("new_worker_ms", {})
    for name in ("systems", "coverage"):
        read = reads.get(name, {})
        if "cold_ms" in read:
            parts = [
                f"first after a change {read['cold_ms']} ms (target < {COLD_TARGET:g}: "
                f"{_verdict(read['cold_ms'], COLD_TARGET)})"
            ]
            if name in fresh:
                parts.append(
                    f"first of a new worker {fresh[name]} ms (target < {COLD_TARGET:g}: "
                    f"{_verdict(fresh[name], COLD_TARGET)})"
                )
            if "first_ms" in read:
                parts.append(
                    f"first of the run's first server {read['first_ms']} ms (on a database "
                    "nobody had asked yet, or after a release: every organisation credited "
                    "and its standing kept, once per deployment)"
                )
            out.append(f"- {name}: " + "; ".join(parts) + ".")
    csv = reads.get("global_csv", {})
    if csv.get("available") is False:
        out.append(f"- Global CSV export: not available ({csv['status']}): re-run after merging.")
    elif csv:
        out.append(
            f"- Global CSV export: {csv['rows']} rows, {csv['bytes']} bytes in {csv['seconds']} s; "
            f"server growth {csv['growth_mb']} MB (target < {CSV_GROWTH_MB:g}: "
            f"{_verdict(csv['growth_mb'], CSV_GROWTH_MB)})."
        )
    out.append(
        f"- Cold member analyses (each the first after a new asset): "
        f"{reads['member_analysis_cold']['all_ms']} ms."
    )
    started = reads["member_analysis_cold"].get("first_after_start_ms")
    if started:
        out.append(
            f"- The same, the first {len(started)} after the server started (its first "
            f"analysis of the system, each connection's first use of each statement; not in "
            f"the p50): {started} ms."
        )
    return out


def curve_table(results: dict[str, Any], again: bool = False) -> list[str]:
    """The growth curve of the full run, or (``again``) the one measured with
    ``--reads-only --curve``, whose full-scale point is the re-measured reads."""
    if again:
        measured = results["curve_again"]
        again_reads = results["reads_analyzed"]
        full = {
            "scale": 1.0,
            "data": again_reads.get("data", results["data"]),
            "reads": again_reads,
        }
        points = [*measured["points"], full]
        heading = (
            f"## How each cost grows, again ({measured['date']}, load average "
            f"{measured['load_average']}; `python -m bench national --reads-only --curve`)"
        )
    else:
        full = {"scale": 1.0, "data": results["data"], "reads": results["reads"]}
        points = [*results["curve"], full]
        heading = "## How each cost grows (p50 ms at 2 connections)"
    lines = [
        heading,
        "",
        "1x is 1/16 of England's ICBs (3 of 42), 4x a quarter (10), 16x all 42; the largest ICB "
        "and the measured member are the same at every scale, so what each request must read "
        "stays the same while the rest of the country grows around it.",
        "",
        "| scale | assets in all | member's assets | ICS's assets | "
        + " | ".join(CURVE_READS)
        + " |",
        "|---|---|---|---|" + "---|" * len(CURVE_READS),
    ]
    for point in points:
        data, reads = point["data"], point["reads"]
        cells = [str(reads.get(name, {}).get("p50_ms", "—")) for name in CURVE_READS]
        lines.append(
            f"| {point['scale']:.3g} | {data['assets']} | {data['member_assets']} | "
            f"{data['ics_assets']} | " + " | ".join(cells) + " |"
        )
    return lines


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "national.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "national.md").write_text(markdown(results))
    print(markdown(results))
