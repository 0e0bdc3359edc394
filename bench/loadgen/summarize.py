#!/usr/bin/env python3
"""Turns bench/run.sh's raw results into its Markdown report.

The results file has one line per load generator run, tab-separated: kind
(echo, handshake, hold, instructions), configuration, server, the server's
command line, the load generator's command line, and its JSON line (or
"error: ..."). The report shows the median of each figure over the runs of a
configuration, the ratio of ours to each peer, and the exact command lines.
"""

import argparse
import json
import os
import platform
import statistics
from collections import OrderedDict


def load(path):
    """{kind: {config: {server: [run, ...]}}} in the order first seen."""
    data = OrderedDict()
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 6:
                continue
            kind, config, server, server_cmd, loadgen_cmd, payload = parts
            run = {"server_cmd": server_cmd, "loadgen_cmd": loadgen_cmd}
            if payload.startswith("{"):
                run["result"] = json.loads(payload)
            else:
                run["error"] = payload
            data.setdefault(kind, OrderedDict()).setdefault(config, OrderedDict()).setdefault(
                server, []).append(run)
    return data


def median(runs, key):
    values = [r["result"][key] for r in runs if "result" in r and r["result"].get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(ours, theirs, invert=False):
    """ours / theirs, or theirs / ours when lower is better for `invert`."""
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return "–"
    return f"{(theirs / ours if invert else ours / theirs):.2f}×"


def error_of(runs):
    errors = [r["error"] for r in runs if "error" in r]
    if not errors or any("result" in r for r in runs):
        return None
    text = errors[0].replace("|", "/")
    return text if len(text) < 120 else text[:117] + "..."


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def echo_section(configs, servers):
    out = ["## Echo", "",
           "Messages echoed per second (each one checked byte for byte), payload MB/s "
           "(10^6 bytes), round-trip latency percentiles, and CPU time: the server's per echoed "
           "message and in % of one CPU, the load generator's in % of one CPU. "
           "\"ours ÷ this\": above 1 is better for ours in both columns (for CPU, it is "
           "this server's CPU per message over ours).", ""]
    for config, by_server in configs.items():
        out += [f"### {config}", ""]
        ours = by_server.get("ours", [])
        ours_rate = median(ours, "per_s")
        ours_cpu = median(ours, "server_us_per_op")
        rows = []
        for server in servers:
            runs = by_server.get(server)
            if not runs:
                continue
            err = error_of(runs)
            if err:
                rows.append([server, f"failed: {err}"] + [""] * 9)
                continue
            rate = median(runs, "per_s")
            cpu = median(runs, "server_us_per_op")
            rows.append([
                server, fmt(rate), fmt(median(runs, "mb_per_s"), 1),
                fmt(median(runs, "p50_us"), 1), fmt(median(runs, "p99_us"), 1),
                fmt(median(runs, "p999_us"), 1), fmt(cpu, 2),
                fmt(median(runs, "server_cpu_pct")) + "%",
                fmt(median(runs, "loadgen_cpu_pct")) + "%",
                "" if server == "ours" else ratio(ours_rate, rate),
                "" if server == "ours" else ratio(ours_cpu, cpu, invert=True),
            ])
        out += table(["server", "msg/s", "MB/s", "p50 µs", "p99 µs", "p99.9 µs",
                      "server µs/msg", "server CPU", "loadgen CPU", "ours ÷ this, msg/s",
                      "ours ÷ this, CPU/msg"], rows)
        out.append("")

    # The headline: server CPU per message against the raw TCP echo's.
    peers = [s for s in servers if s != "raw"]
    rows = []
    for config, by_server in configs.items():
        raw = median(by_server.get("raw", []), "server_us_per_op")
        if raw is None:
            continue
        row = [config, fmt(raw, 2)]
        for server in peers:
            cpu = median(by_server.get(server, []), "server_us_per_op")
            row.append(f"{cpu / raw:.2f}×" if cpu and raw else "–")
        rows.append(row)
    if rows:
        out += ["### Server CPU per echoed message, relative to the raw TCP echo", "",
                "Lower is better; the raw TCP echo does the same I/O with no WebSocket at all.",
                ""]
        out += table(["configuration", "raw µs/msg"] + peers, rows)
        out.append("")
    return out


def handshake_section(configs, servers):
    out = ["## Handshakes", "",
           "Cycles per second of: TCP connect, opening handshake, closing handshake, TCP close, "
           "on concurrent loops; latency of a whole cycle.", ""]
    rows = []
    for config, by_server in configs.items():
        ours = by_server.get("ours", [])
        for server in servers:
            runs = by_server.get(server)
            if not runs:
                continue
            err = error_of(runs)
            if err:
                rows.append([config, server, f"failed: {err}"] + [""] * 6)
                continue
            rows.append([
                config, server, fmt(median(runs, "per_s")), fmt(median(runs, "p50_us"), 1),
                fmt(median(runs, "p99_us"), 1), fmt(median(runs, "server_us_per_op"), 1),
                fmt(median(runs, "server_cpu_pct")) + "%", fmt(median(runs, "loadgen_cpu_pct")) + "%",
                "" if server == "ours" else ratio(median(ours, "per_s"), median(runs, "per_s")),
            ])
    out += table(["configuration", "server", "handshakes/s", "p50 µs", "p99 µs",
                  "server µs/handshake", "server CPU", "loadgen CPU", "ours ÷ this"], rows)
    out.append("")
    return out


def hold_section(configs, servers):
    out = ["## Memory per idle connection", "",
           "Growth of the server's resident set (VmRSS) over its idle state, divided by the "
           "connections: once they are open, then after one 1 KiB text echo on each. "
           "\"ours ÷ this\": this server's bytes over ours, above 1 is better for ours.", ""]
    rows = []
    for config, by_server in configs.items():
        ours = median(by_server.get("ours", []), "echo_bytes_per_conn")
        for server in servers:
            runs = by_server.get(server)
            if not runs:
                continue
            err = error_of(runs)
            if err:
                rows.append([config, server, f"failed: {err}", "", ""])
                continue
            echo = median(runs, "echo_bytes_per_conn")
            rows.append([config, server, fmt(median(runs, "open_bytes_per_conn")), fmt(echo),
                         "" if server == "ours" else ratio(ours, echo, invert=True)])
    out += table(["configuration", "server", "B/conn open", "B/conn after an echo",
                  "ours ÷ this"], rows)
    out.append("")
    return out


def instructions_section(configs, servers):
    tool = "?"
    for by_server in configs.values():
        for runs in by_server.values():
            for r in runs:
                if "result" in r:
                    tool = r["result"].get("tool", tool)
    what = ("user-space instructions only (valgrind's callgrind): the kernel's share of each "
            "read and write isn't in it" if tool == "callgrind" else
            "instructions counted by perf stat")
    out = ["## Instructions per echoed message", "",
           f"The server's instructions for a run of N2 echoes less those for N1, over N2 - N1: "
           f"start-up, handshakes and exit cancel out. {what}. Repeatable where timings aren't.",
           ""]
    rows = []
    for config, by_server in configs.items():
        ours = median(by_server.get("ours", []), "instructions_per_echo")
        for server in servers:
            runs = by_server.get(server)
            if not runs:
                continue
            err = error_of(runs)
            if err:
                rows.append([config, server, f"failed: {err}", ""])
                continue
            value = median(runs, "instructions_per_echo")
            rows.append([config, server, fmt(value),
                         "" if server == "ours" else ratio(ours, value, invert=True)])
    out += table(["configuration", "server", "instructions/echo", "ours ÷ this"], rows)
    out.append("")
    return out


def commands_section(data, root):
    out = ["## Command lines", "",
           "The first run of each configuration (ports and PIDs differ from run to run).", "",
           "<details><summary>show</summary>", "", "```"]
    for kind, configs in data.items():
        for config, by_server in configs.items():
            out.append(f"# {kind}: {config}")
            for server, runs in by_server.items():
                r = runs[0]
                out.append(r["server_cmd"].replace(root + "/", ""))
                out.append(r["loadgen_cmd"].replace(root + "/", ""))
    out += ["```", "", "</details>", ""]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--results", required=True)
    p.add_argument("--notes")
    p.add_argument("--mode", default="quick")
    p.add_argument("--runs", default="3")
    p.add_argument("--duration", default="?")
    p.add_argument("--warmup", default="?")
    p.add_argument("--servers", default="")
    p.add_argument("--root", default="")
    a = p.parse_args()

    data = load(a.results)
    servers = a.servers.split()
    out = [f"# Side-by-side benchmarks (bench/run.sh --{a.mode})", "",
           f"- Machine: {machine()}; server pinned to CPU 0, load generator to CPU 1, "
           "everything on 127.0.0.1.",
           f"- Each configuration run {a.runs} times; medians shown. Echo runs measure "
           f"{a.duration} s after {a.warmup} s of warm-up.",
           f"- Servers: {', '.join(servers)}. ours = examples/echo_server; raw = a TCP echo "
           "with no WebSocket (the ceiling); beast = Boost.Beast; websocketpp; node = Node's ws."]
    if a.notes and os.path.exists(a.notes):
        with open(a.notes, encoding="utf-8") as f:
            for note in f:
                if note.strip():
                    out.append(f"- Note: {note.strip()}")
    out.append("")
    if "echo" in data:
        out += echo_section(data["echo"], servers)
    if "handshake" in data:
        out += handshake_section(data["handshake"], servers)
    if "hold" in data:
        out += hold_section(data["hold"], servers)
    if "instructions" in data:
        out += instructions_section(data["instructions"], servers)
    out += commands_section(data, a.root)
    print("\n".join(out))


if __name__ == "__main__":
    main()
