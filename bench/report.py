#!/usr/bin/env python3
"""Turns a bench/run.sh results file (JSON lines) into BENCHMARKS.md.

usage: python3 bench/report.py RESULTS.jsonl [-o BENCHMARKS.md]

Any python3 (standard library only). Every figure is the median over the
repeats of the run (run.sh --repeat K); all servers come from the same run.
"""
import argparse
import os
import json
import statistics
import sys

SERVERS = ["ours", "ours-redis", "ours-w2", "reference", "node", "daphne-memory", "daphne-redis"]
LABELS = {
    "ours": "ours (channels-server, memory layer)",
    "ours-redis": "ours --redis",
    "ours-w2": "ours --workers 2",
    "reference": "reference (coalescing epoll C)",
    "node": "Node ws",
    "daphne-memory": "Daphne + InMemoryChannelLayer",
    "daphne-redis": "Daphne + channels_redis (pub/sub)",
}


def load(path):
    meta, rows = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if "meta" in rec:
                meta = rec["meta"]
            else:
                rows.append(rec)
    return meta, rows


class Figures:
    """Median of each figure over the repeats of one (server, workload, phase)."""

    def __init__(self, recs):
        self.recs = recs
        self.results = [r["result"] for r in recs if r.get("result")]
        self.errors = [r.get("error") for r in recs if r.get("error")]
        self.cmd = recs[0].get("cmd", "") if recs else ""

    def get(self, key):
        vals = [r.get(key) for r in self.results]
        vals = [v for v in vals if isinstance(v, (int, float)) and v >= 0]
        if not vals:
            return None
        return statistics.median(vals)

    def n(self):
        return len(self.results)


def group(rows):
    g = {}
    for r in rows:
        g.setdefault((r.get("server"), r.get("workload"), r.get("phase")), []).append(r)
    return {k: Figures(v) for k, v in g.items()}


def fmt(v, digits=0):
    if v is None:
        return "—"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{}f}".format(v, digits)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(v):
    if v is None:
        return "—"
    if v != 0 and abs(v) < 0.1:
        return "{:.3g}x".format(v)
    return "{:.2f}x".format(v)


def fmt_target_ratio(v):
    return "—" if v is None else "{:.3f}x".format(v)


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def cpu_cell(mx, half):
    """Server CPU µs per delivery "at max / at half", where measured."""
    a = mx.get("server_cpu_us_per_delivery") if mx else None
    b = half.get("server_cpu_us_per_delivery") if half else None
    if a is None and b is None:
        return "—"
    return "%s / %s" % (fmt(a, 2), fmt(b, 2))


def w2_scaling(g):
    """The --workers 2 scaling from the M2 "cpu" step (same total rate for
    both): (µs per delivery of 1 worker, of 2 workers, total msg/s,
    2 x c1 / c2); None where not measured."""
    one, two = g.get(("ours", "M2", "cpu")), g.get(("ours-w2", "M2", "cpu"))
    c1 = one.get("server_cpu_us_per_delivery") if one else None
    c2 = two.get("server_cpu_us_per_delivery") if two else None
    rate = one.get("total_rate") if one else None
    r = ratio(c1, c2)
    return c1, c2, rate, None if r is None else 2 * r


def w2_note(g, lines):
    one, two = g.get(("ours", "M2", "cpu")), g.get(("ours-w2", "M2", "cpu"))
    c1, c2, rate, scaling = w2_scaling(g)
    lines.append("† ours --workers 2 runs on CPUs 0 and 1 and shares CPU 1 with the load "
                 "generator: its raw deliveries/s above are bounded by the load generator, "
                 "not a measure of its scaling.\n")
    lines.append("**--workers 2 scaling** = 2 × cpu_per_delivery(1 worker) / "
                 "cpu_per_delivery(2 workers), both measured at the same load: M2 `--mode "
                 "fixed` at ours' half-load rate (%s msg/s in all), with the server's CPU "
                 "time (utime + stime of every thread, /proc/PID/stat) read at the start and "
                 "end of the measured window. 2 workers that spend as much CPU per delivery "
                 "as one would deliver twice as much with a core each: scaling 2.\n"
                 % fmt(rate))
    if one or two:
        lines.append(table(["server", "deliveries/s", "server CPU (s) / window (s)",
                            "server CPU µs/delivery", "p99 (ms)", "loss (%)"],
                           [[LABELS[s] + (" (error: %s)" % f.errors[0] if f.errors else ""),
                             fmt(f.get("deliveries_per_s")),
                             "%s / %s" % (fmt(f.get("server_cpu_s"), 2),
                                          fmt(f.get("server_cpu_window_s"), 2)),
                             fmt(f.get("server_cpu_us_per_delivery"), 3),
                             fmt(f.get("p99_ms"), 2), fmt(f.get("loss_pct"), 3)]
                            for s, f in (("ours", one), ("ours-w2", two)) if f]))
        lines.append("")
        lines.append("scaling = 2 × %s / %s = %s\n" % (fmt(c1, 3), fmt(c2, 3),
                                                       fmt_target_ratio(scaling)))
    else:
        lines.append("(the cpu step did not run: it needs ours and ours-w2 in one run)\n")


def chat_section(g, w, title, lines, targets, servers):
    ours_max = g.get(("ours", w, "max"))
    ours_dps = ours_max.get("deliveries_per_s") if ours_max else None
    any_failed = [False]
    rows = []
    for s in servers:
        mx, half = g.get((s, w, "max")), g.get((s, w, "half"))
        if not mx and not half:
            continue
        dps = mx.get("deliveries_per_s") if mx else None
        err = ""
        if mx and mx.errors:
            err = " (error: %s)" % mx.errors[0]
        ok = mx.get("ok") if mx else None
        if ok is not None and ok < 1:
            any_failed[0] = True
        rows.append([
            LABELS[s] + (" †" if s == "ours-w2" else "") + err,
            fmt(dps) + (" *" if ok is not None and ok < 1 else ""),
            fmt(mx.get("p99_ms"), 2) if mx else "—",
            fmt(half.get("deliveries_per_s")) if half else "—",
            fmt(half.get("p50_ms"), 2) if half else "—",
            fmt(half.get("p99_ms"), 2) if half else "—",
            fmt(half.get("loss_pct"), 3) if half else "—",
            cpu_cell(mx, half),
            fmt_ratio(ratio(ours_dps, dps)),
        ])
    if not rows:
        return
    lines.append("## %s\n" % title)
    lines.append(table(["server", "max deliveries/s (p99 < 50 ms, no loss)", "p99 at max (ms)",
                        "half load deliveries/s", "p50 at half (ms)", "p99 at half (ms)",
                        "loss at half (%)", "server CPU µs/delivery (at max / at half)",
                        "ours/peer (max deliveries/s)"], rows))
    lines.append("")
    if any_failed[0]:
        lines.append("\\* no probe met p99 < 50 ms with no loss: the figure is the best probe "
                     "tried, an upper bound.\n")
    lines.append("Server CPU µs/delivery: the server process' CPU time (all threads; Redis' "
                 "own is not counted) over the measured window divided by the deliveries of "
                 "that window, at the best max probe / at half load.\n")
    if w == "M2" and "ours-w2" in servers:
        w2_note(g, lines)
    ref = g.get(("reference", w, "max"))
    node = g.get(("node", w, "max"))
    half = g.get(("ours", w, "half"))
    r_ref = ratio(ours_dps, ref.get("deliveries_per_s") if ref else None)
    r_node = ratio(ours_dps, node.get("deliveries_per_s") if node else None)
    targets.append(("%s max deliveries/s >= 0.5x the reference server" % w,
                    fmt_target_ratio(r_ref), None if r_ref is None else r_ref >= 0.5))
    targets.append(("%s max deliveries/s >= 10x Node ws" % w,
                    fmt_target_ratio(r_node), None if r_node is None else r_node >= 10))
    p99 = half.get("p99_ms") if half else None
    loss = half.get("loss") if half else None
    ok = None if p99 is None else (p99 < 5 and not loss)
    targets.append(("%s p99 < 5 ms at half the max load" % w,
                    "%s ms (loss %s)" % (fmt(p99, 2), fmt(loss)), ok))


def m3_section(g, lines, targets):
    ours = g.get(("ours", "M3", "idle"))
    rss_ours = ours.get("rss_per_conn_bytes") if ours else None
    hs_ours = ours.get("handshakes_per_s") if ours else None
    rows = []
    for s in SERVERS:
        f = g.get((s, "M3", "idle"))
        if not f:
            continue
        rss, hs = f.get("rss_per_conn_bytes"), f.get("handshakes_per_s")
        err = " (error: %s)" % f.errors[0] if f.errors else ""
        rows.append([LABELS[s] + err, fmt(f.get("connections")), fmt(rss),
                     fmt(rss / 1024, 2) if rss is not None else "—", fmt(hs),
                     fmt_ratio(ratio(rss_ours, rss)), fmt_ratio(ratio(hs_ours, hs))])
    if not rows:
        return
    lines.append("## M3: idle connections\n")
    lines.append(table(["server", "connections", "server RSS per connection (bytes)", "KiB",
                        "handshakes/s", "ours/peer RSS (lower is better)",
                        "ours/peer handshakes/s"], rows))
    lines.append("")
    targets.append(("M3 <= 2 KiB server RSS per idle connection",
                    "%s bytes" % fmt(rss_ours),
                    None if rss_ours is None else rss_ours <= 2048))
    targets.append(("M3 >= 15,000 handshakes/s", fmt(hs_ours),
                    None if hs_ours is None else hs_ours >= 15000))


def m4_section(g, lines, targets):
    rows = []
    for s in SERVERS:
        f = g.get((s, "M4", "listen"))
        if not f:
            continue
        pub = g.get((s, "M4", "publish"))
        err = " (error: %s)" % f.errors[0] if f.errors else ""
        rows.append([LABELS[s] + err, fmt(f.get("clients")),
                     fmt(pub.get("total_rate") or pub.get("rate")) if pub else "—",
                     fmt(f.get("p50_ms"), 2), fmt(f.get("p90_ms"), 2), fmt(f.get("p99_ms"), 2),
                     fmt(f.get("p999_ms"), 2), fmt(f.get("max_ms"), 2),
                     fmt(f.get("deliveries_per_s")), fmt(f.get("loss_pct"), 3)])
    if not rows:
        return
    ours = g.get(("ours-redis", "M4", "listen"))
    daphne = g.get(("daphne-redis", "M4", "listen"))
    lines.append("## M4: publishes through Redis to a group\n")
    lines.append("A separate process (channels-benchmark --mode publish) PUBLISHes JSON "
                 "{\"type\":\"name.gossip\",\"ts\":..} to the group's Redis channel; the "
                 "listeners measure publish-to-delivery latency. Both servers read the JSON "
                 "payload format (ours: --redis-format json; Daphne: channels_redis' "
                 "pub/sub layer with JSON (de)serialisation).\n")
    lines.append(table(["server", "clients", "publishes/s", "p50 (ms)", "p90 (ms)", "p99 (ms)",
                        "p99.9 (ms)", "max (ms)", "deliveries/s", "loss (%)"], rows))
    lines.append("")
    if ours and daphne:
        lines.append("p99 Daphne/ours: %s (higher: ours is faster)\n" % fmt_ratio(
            ratio(daphne.get("p99_ms"), ours.get("p99_ms"))))
    p99 = ours.get("p99_ms") if ours else None
    loss = ours.get("loss") if ours else None
    targets.append(("M4 p99 < 5 ms at 1,000 publishes/s",
                    "%s ms (loss %s)" % (fmt(p99, 2), fmt(loss)),
                    None if p99 is None else (p99 < 5 and not loss)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("-o", "--output", default="BENCHMARKS.md")
    ap.add_argument("--notes", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "NOTES.md"),
                    help="hand-written analysis appended after the targets (profiles, gaps)")
    a = ap.parse_args()
    meta, rows = load(a.results)
    g = group(rows)
    lines = ["# Benchmarks\n"]
    lines.append("Generated by `bench/report.py` from `%s`.\n" % a.results.split("/")[-1])
    lines.append("- machine: %s, %s CPUs, Linux %s" % (meta.get("cpu", "?"), meta.get("cores", "?"),
                                                     meta.get("kernel", "?")))
    lines.append("- date: %s" % meta.get("date", "?"))
    lines.append("- command: `%s`" % meta.get("command", "bench/run.sh"))
    lines.append("- pinning: %s (ours --workers 2: CPUs 0,1)" % meta.get("pinning", "?"))
    lines.append("- repeats: %s; every figure is the median over them" % meta.get("repeat", 1))
    if meta.get("quick"):
        lines.append("- **--quick run**: short durations and small connection counts; a smoke "
                     "test, not figures to judge the targets by")
    lines.append("")
    lines.append("Load generator: `channels-benchmark` (tools/benchmark/). M1/M2: `--mode max` "
                 "finds the highest rate with p99 < 50 ms and no loss, then `--mode fixed` at "
                 "half of it. A delivery is one message received by one client.\n")

    targets = []
    chat_section(g, "M1", "M1: 1 room x 100 clients, 10 senders", lines, targets,
                 [s for s in SERVERS if s != "ours-w2"])
    chat_section(g, "M2", "M2: 100 rooms x 10 clients, 1 sender each", lines, targets, SERVERS)
    c1, c2, rate, scaling = w2_scaling(g)
    name = ("--workers 2 M2 >= 1.6x one worker (scaling = 2 x server CPU µs/delivery of "
            "1 worker / of 2 workers, same load)")
    if scaling is not None:
        targets.append((name, "%s (%s vs %s µs/delivery at %s msg/s)" % (
            fmt_target_ratio(scaling), fmt(c1, 3), fmt(c2, 3), fmt(rate)), scaling >= 1.6))
    else:
        targets.append((name, "not run", None))
    m3_section(g, lines, targets)
    m4_section(g, lines, targets)

    lines.append("## Targets\n")
    lines.append(table(["target", "measured", "status"],
                       [[t, m, "met" if ok else ("missed" if ok is False else "not measured")]
                        for t, m, ok in targets]))
    lines.append("")

    if a.notes and os.path.exists(a.notes):
        with open(a.notes) as nf:
            lines.append(nf.read().rstrip() + "\n")

    lines.append("## Commands\n")
    lines.append("The load generator's command of each row (first repeat; ports are picked "
                 "free per run).\n")
    lines.append("```")
    for (s, w, ph), f in sorted(g.items(), key=lambda kv: (kv[0][1] or "", SERVERS.index(
            kv[0][0]) if kv[0][0] in SERVERS else 99, kv[0][2] or "")):
        lines.append("%s %s %s: %s" % (w, s, ph, f.cmd))
    lines.append("```")
    lines.append("")
    with open(a.output, "w") as f:
        f.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
