"""The final table (rich), bench/results/latest.json and bench/results/latest.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from bench import cluster

# Issue 12's targets: saturation against the echo floor; a full replay's rate.
THROUGHPUT_RATIO = 0.6
REPLAY_EVENTS_PER_S = 50_000
TARGETS = {
    "throughput": "≥ 0.6 × echo",
    "p99_200": "p99 < 20 ms",
    "lag": "p99 < 250 ms",
    "replay": "≥ 50,000/s and ≥ 1 × bare consumer",
    "failover": "< 2 s (every run)",
    "memory": "≤ 1024 bytes",
    "signing": "≥ 0.9 × open",
    "restart": "< 3 s",
    "sync": "< 20 s",
}


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def verdicts(results: dict) -> list[dict]:
    """One row per figure: what, system, floor, ratio, target, met (True/False/None)."""
    rows: list[dict] = []
    sys_ph = _get(results, "acquire", "system", "phases") or {}
    echo_ph = _get(results, "acquire", "echo", "phases") or {}
    s_tp, e_tp = (
        _get(sys_ph, "saturation", "completed_per_s"),
        _get(echo_ph, "saturation", "completed_per_s"),
    )
    ratio = round(s_tp / e_tp, 3) if s_tp and e_tp else None
    rows.append(
        {
            "scenario": "1 acquire",
            "figure": "throughput at saturation, commands/s",
            "system": s_tp,
            "floor": e_tp,
            "ratio": ratio,
            "target": TARGETS["throughput"],
            "met": None if ratio is None else ratio >= THROUGHPUT_RATIO,
        }
    )
    for rate in (200, 1000):
        s, e = (
            _get(sys_ph, f"rate_{rate}", "latency_ms"),
            _get(echo_ph, f"rate_{rate}", "latency_ms"),
        )
        row = {
            "scenario": "1 acquire",
            "figure": f"latency p50 / p99 at {rate}/s offered, ms",
            "system": f"{_fmt(_get(s, 'p50'))} / {_fmt(_get(s, 'p99'))}" if s else None,
            "floor": f"{_fmt(_get(e, 'p50'))} / {_fmt(_get(e, 'p99'))}" if e else None,
            "ratio": None,
            "target": "—",
            "met": None,
        }
        if rate == 200:
            row["target"] = TARGETS["p99_200"]
            row["met"] = None if _get(s, "p99") is None else s["p99"] < 20
        else:
            row["system"] = (
                row["system"] or "—"
            ) + f" ({_fmt(_get(sys_ph, 'rate_1000', 'completed_per_s'))}/s done)"
        rows.append(row)
    f_ev = _get(sys_ph, "saturation", "events_per_s", "follower")
    w_ev = _get(sys_ph, "saturation", "events_per_s", "writer")
    rows.append(
        {
            "scenario": "2 projection",
            "figure": "follower events/s at saturation (floor: writer's)",
            "system": f_ev,
            "floor": w_ev,
            "ratio": round(f_ev / w_ev, 3) if f_ev and w_ev else None,
            "target": "keeps up",
            "met": None if not (f_ev and w_ev) else f_ev >= 0.9 * w_ev,
        }
    )
    for phase, label in (
        ("saturation", "at saturation"),
        ("rate_1000", "at 1000/s"),
        ("rate_200", "at 200/s"),
    ):
        lag = _get(sys_ph, phase, "lag_ms", "follower")
        row = {
            "scenario": "2 projection",
            "figure": f"follower lag p50 / p99 {label}, ms",
            "system": f"{_fmt(_get(lag, 'p50'))} / {_fmt(_get(lag, 'p99'))}" if lag else None,
            "floor": None,
            "ratio": None,
            "target": "—",
            "met": None,
        }
        if phase == "saturation":
            row["target"] = TARGETS["lag"]
            row["met"] = None if _get(lag, "p99") is None else lag["p99"] < 250
        rows.append(row)
    rp = results.get("replay") or {}
    n_ev, f_ev = _get(rp, "node", "events_per_s"), _get(rp, "floor", "events_per_s")
    rows.append(
        {
            "scenario": "3 replay",
            "figure": f"rebuild {_fmt(rp.get('events'))} events, events/s",
            "system": n_ev,
            "floor": f_ev,
            "ratio": rp.get("ratio"),
            "target": TARGETS["replay"],
            "met": None
            if rp.get("ratio") is None or n_ev is None
            else rp["ratio"] >= 1 and n_ev >= REPLAY_EVENTS_PER_S,
        }
    )
    fo = results.get("failover") or {}
    rows.append(
        {
            "scenario": "4 failover",
            "figure": f"kill -9 → acquire served, min/med/max s ({len(fo.get('runs', []))} runs)",
            "system": " / ".join(_fmt(fo.get(k), 3) for k in ("min_s", "median_s", "max_s"))
            if fo
            else None,
            "floor": None,
            "ratio": None,
            "target": TARGETS["failover"],
            "met": None if fo.get("max_s") is None else fo["max_s"] < 2.0,
        }
    )
    mem = results.get("memory") or {}
    rows.append(
        {
            "scenario": "5 memory",
            "figure": "answer memory, bytes per remembered command id",
            "system": mem.get("bytes_per_command_id"),
            "floor": None,
            "ratio": None,
            "target": TARGETS["memory"],
            "met": mem.get("ok"),
        }
    )
    rows.extend(_signing_rows(results.get("signing") or {}))
    rows.extend(_history_rows(results.get("history") or {}))
    rows.extend(cluster.rows(results))
    return rows


def _signing_rows(sg: dict) -> list[dict]:
    """Scenario 6: the signed pair against the open one (the open pair is the floor)."""
    phases = sg.get("phases") or {}
    signed, opened = phases.get("signed") or {}, phases.get("open") or {}
    rows = [
        {
            "scenario": "6 signing",
            "figure": "throughput at saturation, signed vs open, commands/s",
            "system": _get(signed, "saturation", "completed_per_s"),
            "floor": _get(opened, "saturation", "completed_per_s"),
            "ratio": sg.get("ratio"),
            "target": TARGETS["signing"],
            "met": sg.get("ok") if sg else None,
        }
    ]
    s, o = _get(signed, "rate_200", "latency_ms"), _get(opened, "rate_200", "latency_ms")
    rows.append(
        {
            "scenario": "6 signing",
            "figure": "latency p50 / p99 at 200/s offered, signed vs open, ms",
            "system": f"{_fmt(_get(s, 'p50'))} / {_fmt(_get(s, 'p99'))}" if s else None,
            "floor": f"{_fmt(_get(o, 'p50'))} / {_fmt(_get(o, 'p99'))}" if o else None,
            "ratio": None,
            "target": "—",
            "met": None,
        }
    )
    return rows


def _history_rows(hs: dict) -> list[dict]:
    """Scenario 7: a restart over a long log (snapshot + tail) and a full Sync over it."""
    if not hs:
        return []
    size = _fmt(hs.get("events"))
    restart, sync = hs.get("restart") or {}, hs.get("sync") or {}
    first, caught_up = restart.get("spawn_to_first_health_s"), restart.get("spawn_to_caught_up_s")
    return [
        {
            "scenario": "7 history",
            "figure": f"restart over {size} events: first health / caught up, s",
            "system": f"{_fmt(first, 2)} / {_fmt(caught_up, 2)}" if restart else None,
            "floor": None,
            "ratio": None,
            "target": TARGETS["restart"],
            "met": None if caught_up is None else caught_up < 3.0,
        },
        {
            "scenario": "7 history",
            "figure": f"RSS after loading {size} events, MB",
            "system": restart.get("rss_mb"),
            "floor": None,
            "ratio": None,
            "target": "—",
            "met": None,
        },
        {
            "scenario": "7 history",
            "figure": f"full Sync over {size} events, s",
            "system": sync.get("seconds"),
            "floor": None,
            "ratio": None,
            "target": TARGETS["sync"],
            "met": None if sync.get("seconds") is None else sync["seconds"] < 20.0,
        },
    ]


def table(results: dict):
    from rich.table import Table

    t = Table(
        title=f"License server bench — {results.get('machine', {}).get('summary', '')}",
        show_lines=False,
    )
    for col, just in (
        ("Scenario", "left"),
        ("Figure", "left"),
        ("System", "right"),
        ("Floor", "right"),
        ("Ratio", "right"),
        ("Target", "left"),
        ("", "left"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in results["summary"]:
        met = {True: "[green]met[/]", False: "[red]missed[/]", None: ""}[row["met"]]
        t.add_row(
            row["scenario"],
            row["figure"],
            _fmt(row["system"]),
            _fmt(row["floor"]),
            _fmt(row["ratio"], 2),
            row["target"],
            met,
        )
    return t


def write_json(results: dict, path: Path) -> None:
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    fig.suptitle(
        f"License server bench — {results.get('machine', {}).get('summary', '')}", fontsize=11
    )
    sys_ph = _get(results, "acquire", "system", "phases") or {}
    echo_ph = _get(results, "acquire", "echo", "phases") or {}

    ax = axes[0][0]
    vals = [
        _get(echo_ph, "saturation", "completed_per_s") or 0,
        _get(sys_ph, "saturation", "completed_per_s") or 0,
    ]
    ax.bar(["echo floor", "system"], vals, color=["#999999", "#1f77b4"])
    ax.axhline(
        vals[0] * THROUGHPUT_RATIO,
        color="red",
        ls="--",
        lw=1,
        label=f"target {THROUGHPUT_RATIO} × echo",
    )
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=9)
    ax.set_title("1. acquire+release throughput at saturation")
    ax.set_ylabel("commands/s")
    _legend(ax)

    ax = axes[0][1]
    labels, x = [], 0
    for rate in (200, 1000):
        for who, ph, color in (("echo", echo_ph, "#999999"), ("system", sys_ph, "#1f77b4")):
            lat = _get(ph, f"rate_{rate}", "latency_ms") or {}
            ax.bar(x - 0.2, lat.get("p50") or 0, 0.4, color=color, alpha=0.6)
            ax.bar(x + 0.2, lat.get("p99") or 0, 0.4, color=color)
            labels.append(f"{who}\n{rate}/s")
            x += 1
    ax.axhline(20, color="red", ls="--", lw=1, label="target p99 < 20 ms (200/s)")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms (left p50, right p99)")
    ax.set_title("1. latency at fixed offered rates")
    _legend(ax)

    ax = axes[0][2]
    trace = _get(results, "acquire", "system", "follower_lag_trace") or []
    if trace:
        t0 = trace[0][0]
        ax.plot(
            [t - t0 for t, _, _ in trace],
            [mx for _, _, mx in trace],
            ",",
            color="#d62728",
            alpha=0.6,
            label="max per 100 ms",
        )
        ax.plot(
            [t - t0 for t, _, _ in trace],
            [med for _, med, _ in trace],
            ",",
            color="#1f77b4",
            label="median per 100 ms",
        )
        for name, ph in sys_ph.items():
            if name == "saturation":  # the best round again, under its own name
                continue
            ax.axvspan(ph["t0"] - t0, ph["t1"] - t0, alpha=0.08, color="green")
            ax.text(
                ph["t0"] - t0, 0.97, name, fontsize=7, va="top", transform=ax.get_xaxis_transform()
            )
    ax.axhline(250, color="red", ls="--", lw=1, label="target p99 < 250 ms")
    ax.set_yscale("log")
    ax.set_xlabel("s (shaded: system phases)")
    ax.set_ylabel("ms")
    ax.set_title("2. follower lag per event (decision → its Postgres)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right", markerscale=8)

    ax = axes[1][0]
    rp = results.get("replay") or {}
    node_trace = _get(rp, "node", "trace") or []
    if node_trace:
        ax.plot(
            [t for t, _ in node_trace],
            [n for _, n in node_trace],
            label="fresh node (events_applied)",
        )
    if rp.get("floor"):
        ax.plot(
            [0, rp["floor"]["spawn_to_last_s"]],
            [0, rp["events"]],
            "--",
            color="#999999",
            label="bare consumer (start → last message)",
        )
    ax.set_xlabel("s since process spawn")
    ax.set_ylabel("events")
    ax.set_title(f"3. replay of {_fmt(rp.get('events'))} events")
    _legend(ax)

    ax = axes[1][1]
    fo = results.get("failover") or {}
    times = [r["kill_to_first_acquire_served_s"] * 1000 for r in fo.get("runs", [])]
    ax.bar(range(1, len(times) + 1), times, color="#1f77b4")
    for i, v in enumerate(times, start=1):
        ax.text(i, v, f"{v:.0f} ms", ha="center", va="bottom", fontsize=8)
    ax.axhline(2000, color="red", ls="--", lw=1, label="target < 2 s")
    ax.set_yscale("log")
    ax.set_xticks(range(1, len(times) + 1))
    ax.set_xlabel("run")
    ax.set_ylabel("ms")
    ax.set_title("4. kill -9 writer → first acquire served")
    _legend(ax)

    ax = axes[1][2]
    ax.axis("off")
    lines = [
        f"{r['scenario']}: {r['figure']}\n"
        f"    system {_fmt(r['system'])}   floor {_fmt(r['floor'])}   "
        f"{'MET' if r['met'] else 'MISSED' if r['met'] is False else ''}"
        for r in results.get("summary", [])
    ]
    ax.text(0, 1, "\n".join(lines), va="top", fontsize=7, family="monospace")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
