"""Results of `make bench`: the JSON file, its markdown table with the targets, and the chart.

    python -m bench.report bench/results/2026-01-01-T2-sqlite.json   # rewrite .md and chart

Speed targets are reported as pass or miss; they never fail a run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

READ_P99_MS = 50
WRITE_P99_MS = 100
QUERY_BUDGET = 5
WORKER_MB = 150
SEED_T3_S = 180
RATIOS = [
    # (name, our path, the path it is compared with, at least)
    ("Hot list JSON vs baseline hot list", "hot_json", "baseline_hot", 0.8),
    ("HTML list vs our JSON list", "hot_html", "hot_json", 0.6),
    ("Vote + withdrawal vs baseline's", "vote", "baseline_vote", 0.5),
]
INFO_RATIOS = [("Newest list JSON vs baseline newest list", "new_json", "baseline_new")]
# Cost flat in data size: the lists and the idea page answer within 1.2× of T1's median latency.
FLAT_PATHS = (
    "hot_json",
    "hot_html",
    "new_json",
    "top_json",
    "trending_json",
    "idea_html",
    "idea_json",
)
FLAT_LATENCY = 1.2
TIER_ORDER = ("T1", "T2", "T3")


def _paths(result: dict) -> dict[str, dict]:
    return {p["name"]: p for p in result["paths"] if p.get("best")}


def _ratio(paths: dict, ours: str, theirs: str) -> float | None:
    """Our requests per second over theirs, measured side by side: paired paths run in rounds
    (ours, then theirs), and the better round counts. Results without rounds: best over best."""
    if ours not in paths or theirs not in paths:
        return None
    # An unpaired path may have run fewer rounds: only the rounds both ran count.
    mine, other = paths[ours].get("runs") or [], paths[theirs].get("runs") or []
    rounds = [a["rps"] / b["rps"] for a, b in zip(mine, other, strict=False) if b["rps"]]
    if rounds:
        return round(max(rounds), 2)
    base = paths[theirs]["best"]["rps"]
    return round(paths[ours]["best"]["rps"] / base, 2) if base else None


def _max_queries(path: dict) -> int | None:
    return max(path["queries"].values()) if path.get("queries") else None


def evaluate_targets(result: dict, t1_result: dict | None = None) -> list[dict]:
    """Each target: name, what was measured, the target, and pass / miss / n/a."""
    paths = _paths(result)
    targets = []
    for name, ours, theirs, least in RATIOS:
        ratio = _ratio(paths, ours, theirs)
        targets.append(
            {
                "name": name,
                "measured": "n/a" if ratio is None else f"{ratio:.2f}×",
                "target": f"≥ {least}×",
                "status": "n/a" if ratio is None else ("pass" if ratio >= least else "miss"),
            }
        )
    site = [p for p in paths.values() if p["server"] == "site"]
    for kind, limit, label in (
        ("read", READ_P99_MS, "p99 of reads"),
        ("write", WRITE_P99_MS, "p99 of votes and comments"),
    ):
        chosen = [p for p in site if p["kind"] == kind]
        if not chosen:
            continue
        over = [p for p in chosen if p["best"]["p99_ms"] >= limit]
        worst = max(chosen, key=lambda p: p["best"]["p99_ms"])
        measured = f"worst {worst['best']['p99_ms']:.1f} ms ({worst['name']})"
        if over:
            measured += "; over: " + ", ".join(p["name"] for p in over)
        targets.append(
            {
                "name": label,
                "measured": measured,
                "target": f"< {limit} ms",
                "status": "miss" if over else "pass",
            }
        )
    counted = [(p, _max_queries(p)) for p in site if _max_queries(p) is not None]
    if counted:
        over = [f"{p['name']} ({q})" for p, q in counted if q > QUERY_BUDGET]
        worst = max(q for _p, q in counted)
        targets.append(
            {
                "name": "SQL queries per request",
                "measured": f"max {worst}" + (f"; over: {', '.join(over)}" if over else ""),
                "target": f"≤ {QUERY_BUDGET}",
                "status": "miss" if over else "pass",
            }
        )
    seed_s = result["seed"]["site_s"]
    if result["tier"] == "T3":
        targets.append(
            {
                "name": "Seed T3",
                "measured": f"{seed_s:.0f} s",
                "target": f"< {SEED_T3_S} s",
                "status": "pass" if seed_s < SEED_T3_S else "miss",
            }
        )
    else:
        targets.append(
            {
                "name": "Seed T3",
                "measured": f"{seed_s:.1f} s at {result['tier']}",
                "target": f"< {SEED_T3_S} s at T3",
                "status": "n/a",
            }
        )
    workers = result.get("memory_mb", {}).get("site") or []
    if workers:
        worst = max(workers)
        targets.append(
            {
                "name": "Memory per worker (RSS)",
                "measured": f"max {worst:.0f} MB",
                "target": f"≤ {WORKER_MB} MB",
                "status": "pass" if worst <= WORKER_MB else "miss",
            }
        )
    if result["tier"] != "T1":
        target = f"p50 of lists and idea page ≤ {FLAT_LATENCY}× T1's"
        if t1_result is None:
            targets.append(
                {
                    "name": f"Flatness {result['tier']} vs T1",
                    "measured": f"no T1 result on {result['db']}",
                    "target": target,
                    "status": "n/a",
                }
            )
        else:
            t1 = _paths(t1_result)
            ratios = {
                name: round(paths[name]["best"]["p50_ms"] / t1[name]["best"]["p50_ms"], 2)
                for name in FLAT_PATHS
                if name in paths and name in t1 and t1[name]["best"]["p50_ms"]
            }
            slow = {name: r for name, r in ratios.items() if r > FLAT_LATENCY}
            worst = max(ratios, key=ratios.get) if ratios else None
            measured = f"worst {ratios[worst]:.2f}× ({worst})" if worst else "n/a"
            if slow:
                measured += "; over: " + ", ".join(f"{n} {r:.2f}×" for n, r in slow.items())
            targets.append(
                {
                    "name": f"Flatness {result['tier']} vs T1 ({t1_result['date']})",
                    "measured": measured,
                    "target": target,
                    "status": ("miss" if slow else "pass") if ratios else "n/a",
                }
            )
    return targets


def _fmt_queries(queries: dict) -> str:
    if not queries:
        return "–"
    if len(queries) == 1:
        return str(next(iter(queries.values())))
    return " / ".join(f"{method} {n}" for method, n in queries.items())


def render_markdown(result: dict, t1_result: dict | None = None) -> str:
    """The readable report of one result."""
    paths = _paths(result)
    sizes = result["sizes"]
    settings = result["settings"]
    lines = [
        f"# Benchmark {result['tier']} on {result['db']} ({result['date']})",
        "",
        f"Data: {sizes['people']:,} customers, {sizes['ideas']:,} ideas, {sizes['votes']:,} votes, "
        f"{sizes['comments']:,} comments. Load: wrk, {settings['threads']} threads, "
        f"{settings['connections']} connections, {settings['duration']} s per run; gunicorn "
        f"{settings['workers']} sync workers each for Cocreate and the baseline; best of "
        f"{settings['repeat_paired']} runs for paired paths, {settings['repeat_unpaired']} for "
        "the others. A ratio is the better of the rounds in which the two paths ran side by "
        "side.",
        "",
        "| Path | req/s | p50 ms | p95 ms | p99 ms | errors | SQL queries | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result["paths"]:
        best = p.get("best")
        if not best:
            continue
        ratio = ""
        if p.get("paired_with") and p["paired_with"] in paths:
            value = _ratio(paths, p["name"], p["paired_with"])
            ratio = f"{value:.2f}× {p['paired_with']}" if value is not None else ""
        errors = sum(r["errors"] for r in p["runs"])
        lines.append(
            f"| {p['label']} | {best['rps']:,.0f} | {best['p50_ms']:.1f} | {best['p95_ms']:.1f} "
            f"| {best['p99_ms']:.1f} | {errors} | {_fmt_queries(p['queries'])} | {ratio} |"
        )
    lines += ["", "## Targets", "", "| Target | Measured | Goal | |", "|---|---|---|---|"]
    for t in evaluate_targets(result, t1_result):
        mark = {"pass": "✅ pass", "miss": "❌ miss", "n/a": "n/a"}[t["status"]]
        lines.append(f"| {t['name']} | {t['measured']} | {t['target']} | {mark} |")
    memory = result.get("memory_mb", {})
    lines += [
        "",
        "## Run",
        "",
        f"- Seeding: `seed-demo` {result['seed']['site_s']:.1f} s (after `db upgrade` "
        f"{result['seed']['migrate_s']:.1f} s); baseline {result['seed']['baseline_s']:.1f} s.",
        f"- Database size: Cocreate {result['db_size_mb']['site']:.1f} MB, baseline "
        f"{result['db_size_mb']['baseline']:.1f} MB (after the run).",
        "- Memory per worker (RSS at the end): Cocreate "
        + ", ".join(f"{m:.0f} MB" for m in memory.get("site", []))
        + "; baseline "
        + ", ".join(f"{m:.0f} MB" for m in memory.get("baseline", []))
        + ".",
    ]
    if result.get("notifications_user"):
        n = result["notifications_user"]
        lines.append(f"- Notifications page as {n['email']} ({n['notifications']} notifications).")
    loads = [x for p in result["paths"] for r in p["runs"] for x in r.get("load1", [])]
    if loads:
        lines.append(
            f"- Machine load (1-minute average) around the wrk runs: {min(loads):.1f} to "
            f"{max(loads):.1f} (wrk and both servers alone make about 3; more means other work "
            "shared the CPUs)."
        )
    lines.append(
        f"- Machine: {result['machine']['cpus']} CPUs, Python {result['machine']['python']}; "
        f"the whole run took {result.get('elapsed_s', 0):.0f} s."
    )
    for skipped in result.get("skipped", []):
        lines.append(f"- Skipped: {skipped}")
    if result.get("failures"):
        lines += ["", "## Failures", ""] + [f"- {f}" for f in result["failures"]]
    return "\n".join(lines) + "\n"


def latest_results(results_dir: Path, db: str) -> dict[str, dict]:
    """The newest result per tier for ``db`` (file names sort by date)."""
    latest: dict[str, dict] = {}
    for path in sorted(results_dir.glob(f"*-T?-{db}.json")):
        data = json.loads(path.read_text())
        latest[data["tier"]] = data
    return latest


def write_chart(results_dir: Path, db: str) -> Path | None:
    """Latency per path per tier (p50 and p99) as an SVG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib is missing (pip install -e '.[bench]'): no chart", file=sys.stderr)
        return None
    results = latest_results(results_dir, db)
    tiers = [t for t in TIER_ORDER if t in results]
    if not tiers:
        return None
    names: list[str] = []
    labels: dict[str, str] = {}
    for tier in tiers:
        for p in results[tier]["paths"]:
            if p.get("best") and p["name"] not in names:
                names.append(p["name"])
                labels[p["name"]] = p["name"]
    height = 0.8 / len(tiers)
    colors = {"T1": "#8ecae6", "T2": "#219ebc", "T3": "#023047"}
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(names) + 1.5))
    for k, tier in enumerate(tiers):
        paths = _paths(results[tier])
        ys = [i + k * height for i, n in enumerate(names) if n in paths]
        p50 = [paths[n]["best"]["p50_ms"] for n in names if n in paths]
        p99 = [paths[n]["best"]["p99_ms"] for n in names if n in paths]
        ax.barh(ys, p99, height, color=colors[tier], alpha=0.35, label=f"{tier} p99")
        ax.barh(ys, p50, height, color=colors[tier], label=f"{tier} p50")
    ax.set_yticks([i + height * (len(tiers) - 1) / 2 for i in range(len(names))])
    ax.set_yticklabels([labels[n] for n in names])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log scale): solid p50, light p99")
    ax.axvline(READ_P99_MS, color="#d62828", linestyle="--", linewidth=0.8)
    ax.axvline(WRITE_P99_MS, color="#f77f00", linestyle=":", linewidth=0.8)
    dates = ", ".join(f"{t} {results[t]['date']}" for t in tiers)
    ax.set_title(f"make bench on {db}: latency per path ({dates})")
    ax.legend(loc="lower right", fontsize="small", ncol=len(tiers))
    fig.tight_layout()
    out = results_dir / f"latency-{db}.svg"
    fig.savefig(out, metadata={"Date": None})
    plt.close(fig)
    return out


def t1_for(result: dict, results_dir: Path) -> dict | None:
    if result["tier"] == "T1":
        return None
    return latest_results(results_dir, result["db"]).get("T1")


def write_all(result: dict, results_dir: Path) -> tuple[Path, Path, Path | None]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{result['date']}-{result['tier']}-{result['db']}"
    json_path = results_dir / f"{stem}.json"
    result["targets"] = evaluate_targets(result, t1_for(result, results_dir))
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    md_path = results_dir / f"{stem}.md"
    md_path.write_text(render_markdown(result, t1_for(result, results_dir)))
    return json_path, md_path, write_chart(results_dir, result["db"])


def main(argv: list[str]) -> int:
    for name in argv:
        path = Path(name)
        result = json.loads(path.read_text())
        write_all(result, path.parent)
        print(path.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
