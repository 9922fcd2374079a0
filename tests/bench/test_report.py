"""The results writer of `make bench`: JSON in, a markdown table with the targets out."""

from __future__ import annotations

import json

from bench import report


def _run(rps: float, p50: float, p99: float, errors: int = 0) -> dict:
    return {
        "requests": int(rps * 10),
        "seconds": 10.0,
        "rps": rps,
        "p50_ms": p50,
        "p90_ms": p99 * 0.8,
        "p95_ms": p99 * 0.9,
        "p99_ms": p99,
        "max_ms": p99 * 2,
        "mean_ms": p50,
        "errors": errors,
        "error_detail": {},
        "first_failure": "",
    }


def _path(name, server, kind, rps, p50, p99, queries, paired_with=None) -> dict:
    run = _run(rps, p50, p99)
    return {
        "name": name,
        "label": name.replace("_", " ").title(),
        "server": server,
        "kind": kind,
        "paired_with": paired_with,
        "queries": queries,
        "best": run,
        "runs": [run, _run(rps / 2, p50 * 2, p99 * 2)],
    }


def sample_result(tier: str = "T2") -> dict:
    return {
        "date": "2026-01-02",
        "tier": tier,
        "db": "sqlite",
        "sizes": {"people": 20_000, "ideas": 10_000, "votes": 200_000, "comments": 50_000},
        "settings": {
            "duration": 10,
            "connections": 8,
            "threads": 2,
            "workers": 2,
            "repeat_paired": 2,
            "repeat_unpaired": 2,
        },
        "machine": {"cpus": 2, "python": "3.11.2", "platform": "Linux"},
        "seed": {"migrate_s": 1.0, "site_s": 12.5, "baseline_s": 1.5},
        "paths": [
            _path("hot_json", "site", "read", 900, 8, 20, {"GET": 4}, "baseline_hot"),
            _path("baseline_hot", "baseline", "read", 1000, 7, 15, {"GET": 1}),
            _path("hot_html", "site", "read", 450, 16, 60, {"GET": 6}, "hot_json"),
            _path("vote", "site", "write", 200, 30, 90, {"PUT": 7, "DELETE": 6}, "baseline_vote"),
            _path("baseline_vote", "baseline", "write", 500, 12, 40, {"PUT": 4, "DELETE": 3}),
        ],
        "memory_mb": {"site": [92.5, 95.0], "baseline": [48.0, 49.0]},
        "db_size_mb": {"site": 120.0, "baseline": 30.0},
        "notifications_user": None,
        "skipped": ["leaderboard_html: GET /leaderboard answers 404"],
        "failures": [],
        "elapsed_s": 300.0,
    }


def test_markdown_has_a_row_per_path_with_ratios_and_queries():
    text = report.render_markdown(sample_result())
    assert "# Benchmark T2 on sqlite (2026-01-02)" in text
    assert "| Path | req/s | p50 ms | p95 ms | p99 ms | errors | SQL queries | ratio |" in text
    assert "| Hot Json | 900 | 8.0 | 18.0 | 20.0 | 0 | 4 | 0.90× baseline_hot |" in text
    vote_row = "| Vote | 200 | 30.0 | 81.0 | 90.0 | 0 | PUT 7 / DELETE 6 | 0.40× baseline_vote |"
    assert vote_row in text
    assert "Skipped: leaderboard_html" in text


def test_targets_pass_and_miss():
    targets = {t["name"]: t for t in report.evaluate_targets(sample_result())}
    assert targets["Hot list JSON vs baseline hot list"]["status"] == "pass"  # 0.9 ≥ 0.8
    assert targets["HTML list vs our JSON list"]["status"] == "miss"  # 0.5 < 0.6
    assert targets["Vote + withdrawal vs baseline's"]["status"] == "miss"  # 0.4 < 0.5
    assert targets["p99 of reads"]["status"] == "miss"  # the HTML list: 60 ms
    assert "hot_html" in targets["p99 of reads"]["measured"]
    assert targets["p99 of votes and comments"]["status"] == "pass"
    assert targets["SQL queries per request"]["status"] == "miss"
    assert "vote (7)" in targets["SQL queries per request"]["measured"]
    assert targets["Memory per worker (RSS)"]["status"] == "pass"
    assert targets["Seed T3"]["status"] == "n/a"
    assert targets["Flatness T2 vs T1"]["status"] == "n/a"


def test_flatness_compares_with_a_t1_result():
    t1 = sample_result("T1")
    t3 = sample_result("T3")
    t3["paths"][0]["best"]["p50_ms"] = 10  # hot_json: 1.25× T1's median latency
    t3["paths"][2]["best"]["p50_ms"] = 19  # hot_html: 1.19×
    t3["paths"][3]["best"]["p50_ms"] = 90  # the vote is not held to it
    targets = {t["name"]: t for t in report.evaluate_targets(t3, t1)}
    flat = targets["Flatness T3 vs T1 (2026-01-02)"]
    assert flat["status"] == "miss"
    assert flat["measured"] == "worst 1.25× (hot_json); over: hot_json 1.25×"
    assert flat["target"] == "p50 of lists and idea page ≤ 1.2× T1's"
    assert targets["Seed T3"]["status"] == "pass"

    t3["paths"][0]["best"]["p50_ms"] = 9.6  # 1.2×: within
    targets = {t["name"]: t for t in report.evaluate_targets(t3, t1)}
    assert targets["Flatness T3 vs T1 (2026-01-02)"]["status"] == "pass"


def test_write_all_writes_json_and_markdown(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "write_chart", lambda results_dir, db: None)
    json_path, md_path, chart = report.write_all(sample_result(), tmp_path)
    assert json_path.name == "2026-01-02-T2-sqlite.json"
    assert md_path.name == "2026-01-02-T2-sqlite.md"
    assert chart is None
    saved = json.loads(json_path.read_text())
    assert {t["status"] for t in saved["targets"]} >= {"pass", "miss"}
    assert md_path.read_text() == report.render_markdown(sample_result())


def test_a_ratio_is_the_better_round_run_side_by_side():
    result = sample_result("T3")
    hot, baseline = result["paths"][0], result["paths"][1]
    hot["runs"] = [_run(1000, 8, 20), _run(1100, 8, 20)]
    baseline["runs"] = [_run(1200, 7, 15), _run(1500, 7, 15)]
    hot["best"], baseline["best"] = hot["runs"][1], baseline["runs"][1]
    targets = {t["name"]: t for t in report.evaluate_targets(result)}
    # Round 1: 1000 / 1200 = 0.83; round 2: 0.73. Best over best (1100 / 1500) would say 0.73.
    assert targets["Hot list JSON vs baseline hot list"]["measured"] == "0.83×"
    assert "| 0.83× baseline_hot |" in report.render_markdown(result)
    assert "the better of the rounds" in report.render_markdown(result)
