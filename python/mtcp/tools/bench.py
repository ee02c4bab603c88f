"""``mtcp bench``: mtcp against the Linux kernel's TCP on this machine, in one run (issue 4).

Native figures come from the Rust program ``bench_native`` (rust/mtcp/examples/bench_native.rs,
built with ``cargo build --release`` when cargo is present); Python figures from the same
workloads written in Python (:mod:`mtcp.tools._bench_workloads`) against the mtcp API and
against Python's ``socket`` module. Prints a table, writes a JSON record (machine, kernel,
commit, date, every figure, the mtcp/kernel ratios) and, when matplotlib is importable, one PNG
per workload. ``--callgrind`` instead counts instructions per short connection and per 64 B
RPC under valgrind. ``--veth`` (root) runs mtcp on AF_PACKET, AF_XDP, TAP and DPDK with 1 and 2
contexts and the kernel's TCP with 1 and 2 threads against kernel peers in the lab
(:mod:`mtcp.tools._bench_veth`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ._args import positive_float

__all__ = ["add_arguments", "run"]

BINARY = "bench_native"
#: Native runs that take longer than this are killed (and reported as failed).
RUN_TIMEOUT_S = 120.0
#: How each mtcp figure is compared: the kernel run with the same number of threads.
KERNEL_PEER = {"threaded": "threaded", "inline": "threaded", "single": "single"}
#: The Python runs: Python's socket module and mtcp, each on one thread and on two.
PYTHON_STACKS = (
    ("socket", "single"),
    ("socket", "threaded"),
    ("mtcp", "inline"),
    ("mtcp", "threaded"),
)
PYTHON_PEER = {"inline": "single", "threaded": "threaded"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="short runs (under a minute in all)")
    p.add_argument(
        "--only",
        choices=("native", "python"),
        help="run only the native or only the Python workloads",
    )
    p.add_argument(
        "--callgrind",
        action="store_true",
        help="count instructions per short connection and per 64 B RPC under valgrind",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="where the JSON record (and .md table, PNGs) go (default: benches/results "
        "in the source tree, else the current directory)",
    )
    p.add_argument("--binary", metavar="PATH", help=f"a prebuilt {BINARY} (skips cargo)")
    p.add_argument("--no-build", action="store_true", help="do not run cargo; use a built binary")
    p.add_argument(
        "--veth",
        action="store_true",
        help="root: mtcp on AF_PACKET/AF_XDP/TAP/DPDK (1 and 2 contexts) and the kernel (1 and "
        "2 threads) against kernel peers in the lab (mtcp netlab; brought up and always down)",
    )
    p.add_argument(
        "--veth-io",
        metavar="LIST",
        help="with --veth: only these client stacks, comma-separated, from "
        "veth (the kernel), afpacket, afxdp, tap, dpdk (default: all)",
    )
    p.add_argument(
        "--veth-mode",
        choices=("inline", "threaded"),
        default="inline",
        help="with --veth: mtcp's run mode (default inline: each client thread drives its "
        "context; threaded: a loop thread per context as well)",
    )
    p.add_argument("--no-plot", action="store_true", help="no PNG plots")
    p.add_argument(
        "--python-secs",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="length of each Python run (default 1 with --quick, else 2)",
    )


# -- locating and building the native program ---------------------------------------------


def _source_root() -> Path | None:
    """The repository this package was loaded from (an editable install), if any."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "rust" / "mtcp").is_dir():
            return parent
    return None


def _target_dir(root: Path) -> Path:
    env = os.environ.get("CARGO_TARGET_DIR")
    return Path(env) if env else root / "target"


def _native_binary(args: argparse.Namespace, out: TextIO) -> Path | None:
    if args.binary:
        return Path(args.binary)
    env = os.environ.get("MTCP_BENCH_BIN")
    if env:
        return Path(env)
    root = _source_root()
    if root is None:
        print("  no source tree: native benchmarks skipped (give --binary)", file=out)
        return None
    binary = _target_dir(root) / "release" / "examples" / BINARY
    if not args.no_build and shutil.which("cargo"):
        print(f"  building {BINARY} (cargo build --release) ...", file=out, flush=True)
        build = subprocess.run(
            ["cargo", "build", "--release", "-p", "mtcp", "--example", BINARY],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            tail = "\n".join(build.stderr.strip().splitlines()[-5:])
            print(f"  cargo build failed:\n{tail}", file=out)
    if binary.is_file():
        return binary
    print(f"  {binary} not found: native benchmarks skipped", file=out)
    return None


# -- running ------------------------------------------------------------------------------


def _figure(rec: dict[str, Any]) -> tuple[float, str]:
    if rec["workload"] == "bulk":
        return float(rec["gbps"]), "Gbit/s"
    unit = "conn/s" if rec["workload"] == "short" else "req/s"
    return float(rec["rate"]), unit


def _describe(rec: dict[str, Any]) -> str:
    value, unit = _figure(rec)
    text = f"{value:,.3f} {unit}" if unit == "Gbit/s" else f"{value:,.0f} {unit}"
    if rec.get("p50_us"):
        text += f", p50 {rec['p50_us']:.1f} µs, p99 {rec['p99_us']:.1f} µs"
    if rec.get("errors"):
        text += f", {rec['errors']} errors"
    return text


def _run_native(binary: Path, quick: bool, out: TextIO) -> list[dict[str, Any]]:
    plan_args = [str(binary), "plan"] + (["--quick"] if quick else [])
    plan: list[list[str]] = json.loads(subprocess.check_output(plan_args, text=True))
    records = []
    for i, argv in enumerate(plan, 1):
        label = " ".join(a for a in argv[1:] if not a.startswith("--"))
        print(f"  [{i}/{len(plan)}] native {label} ...", end=" ", file=out, flush=True)
        try:
            done = subprocess.run(
                [str(binary), *argv], capture_output=True, text=True, timeout=RUN_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            print("timed out", file=out)
            continue
        if done.returncode != 0:
            print(f"failed: {done.stderr.strip()[-200:]}", file=out)
            continue
        rec = json.loads(done.stdout.strip().splitlines()[-1])
        rec["suite"] = "native"
        records.append(rec)
        print(_describe(rec), file=out, flush=True)
    return records


def _python_plan(quick: bool) -> list[tuple[str, int]]:
    return [("short", 64), ("rpc", 1), ("rpc", 64), ("bulk", 1)]


def _run_python(quick: bool, secs: float | None, out: TextIO) -> list[dict[str, Any]]:
    from ._bench_workloads import run_workload

    secs = secs if secs is not None else (1.0 if quick else 2.0)
    total = (32 if quick else 256) << 20
    runs = [(w, c, stack, mode) for w, c in _python_plan(quick) for stack, mode in PYTHON_STACKS]
    records = []
    for i, (workload, conns, stack, mode) in enumerate(runs, 1):
        print(
            f"  [{i}/{len(runs)}] python {workload} {conns} {stack} {mode} ...",
            end=" ",
            file=out,
            flush=True,
        )
        try:
            rec = run_workload(workload, stack, mode, conns, secs, total).record()
        except OSError as exc:
            print(f"failed: {exc}", file=out)
            continue
        rec["suite"] = "python"
        records.append(rec)
        print(_describe(rec), file=out, flush=True)
    return records


def _add_ratios(records: list[dict[str, Any]]) -> None:
    """``ratio``: an mtcp figure over the kernel's for the same suite, workload and connection
    count (native: the kernel run with as many threads; Python: the ``socket`` module)."""

    def key(r: dict[str, Any], mode: str) -> tuple[str, str, int, str, int]:
        return (r["suite"], r["workload"], int(r["conns"]), mode, int(r.get("contexts", 1)))

    # veth rows without a figure (a backend that refused 2 contexts, a skipped DPDK row).
    records = [r for r in records if r.get("status", "ok") == "ok"]
    kernel = {
        key(r, r["mode"]): _figure(r)[0] for r in records if r["stack"] in ("kernel", "socket")
    }
    for r in records:
        if r["stack"] != "mtcp":
            continue
        if r["suite"] == "veth":
            peer = "veth"  # the kernel client on the same veth, with as many threads
        else:
            peers = KERNEL_PEER if r["suite"] == "native" else PYTHON_PEER
            peer = peers.get(r["mode"], "threaded")
        base = kernel.get(key(r, peer))
        if base:
            r["ratio"] = round(_figure(r)[0] / base, 2)
            r["ratio_vs"] = f"{'socket' if r['suite'] == 'python' else 'kernel'} {peer}"


# -- output -------------------------------------------------------------------------------


def table(records: list[dict[str, Any]]) -> str:
    """A Markdown table of the records."""
    head = (
        "| suite | workload | conns | stack | mode | figure | p50 µs | p99 µs | mem B/conn "
        "| ratio |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in records:
        value, unit = _figure(r)
        fig = f"{value:,.2f} {unit}" if unit == "Gbit/s" else f"{value:,.0f} {unit}"
        mem = r.get("rss_bytes_per_conn") if r["workload"] == "scale" else None
        if mem is not None and r["stack"] == "kernel":
            mem = f"{r['slab_bytes_per_conn']:,.0f} (slab)"
        elif mem is not None:
            mem = f"{mem:,.0f}"
        ratio = f"{r['ratio']:.2f}x vs {r['ratio_vs']}" if "ratio" in r else ""
        p50 = f"{r['p50_us']:.1f}" if r.get("p50_us") else ""
        p99 = f"{r['p99_us']:.1f}" if r.get("p99_us") else ""
        mode = r["mode"]
        if r["stack"] == "mtcp" and r.get("mtu", 1500) != 1500:
            mode = f"{mode}, MTU {r['mtu']}"  # e.g. the jumbo-frame bulk row
        lines.append(
            f"| {r['suite']} | {r['workload']} | {r['conns']} | {r['stack']} | {mode} "
            f"| {fig} | {p50} | {p99} | {mem or ''} | {ratio} |"
        )
    return "\n".join(lines)


def _git(root: Path | None, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    root = _source_root()
    return {
        "uname": " ".join(platform.uname()),
        "kernel": platform.release(),
        "cpu_model": cpu,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "commit": _git(root, "rev-parse", "HEAD"),
        "dirty": bool(_git(root, "status", "--porcelain", "--untracked-files=no")),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
    }


def _short_value(v: float) -> str:
    """A bar's label: 3 significant digits with k/M (Gbit/s figures as they are)."""
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


def _plot(records: list[dict[str, Any]], stem: Path, out: TextIO) -> list[str]:
    """One PNG per workload (``<stem>-<workload>.png``): a bar per run, mtcp blue, the
    kernel's (or Python's ``socket``) gray. Needs matplotlib (``pip install 'mtcp[plot]'``);
    without it, says so and writes nothing."""
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(
            "  no PNG plots: matplotlib is not installed (pip install 'mtcp[plot]')",
            file=out,
        )
        return []
    written = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["workload"], []).append(r)
    for workload, recs in groups.items():
        labels = [
            f"{r['suite']}\n{r['stack']} {r['mode']}\n{r['conns']} conn"
            + (f", {r['contexts']} ctx" if "contexts" in r else "")  # veth rows
            for r in recs
        ]
        values = [_figure(r)[0] for r in recs]
        colors = ["tab:gray" if r["stack"] in ("kernel", "socket") else "tab:blue" for r in recs]
        fig, ax = plt.subplots(figsize=(max(6, len(recs) * 0.9), 4))
        bars = ax.bar(range(len(recs)), values, color=colors)
        ax.bar_label(bars, labels=[_short_value(v) for v in values], fontsize=6)
        ax.set_xticks(range(len(recs)), labels, fontsize=6)
        ax.set_ylabel(_figure(recs[0])[1])
        ax.set_title(f"{workload}: mtcp (blue) vs kernel (gray)")
        fig.tight_layout()
        path = stem.with_name(f"{stem.name}-{workload}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(str(path))
    return written


# -- instruction counts -------------------------------------------------------------------

#: (workload, argument lines for N1 and N2 operations): the difference removes setup costs.
CALLGRIND_RUNS = {
    "short": ("--conns", "64", 200, 2200),
    "rpc": ("--conns", "1", 2000, 22000),
}
_STEP_FN = {"short": "short_client_step", "rpc": "rpc_client_step"}


def _callgrind_counts(binary: Path, workload: str, n: int, tmp: Path) -> dict[str, int]:
    opt, conns, _, _ = CALLGRIND_RUNS[workload]
    outfile = tmp / f"callgrind.{workload}.{n}.out"
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={outfile}",
        str(binary),
        "run",
        "--stack",
        "mtcp",
        "--mode",
        "single",
        "--workload",
        workload,
        opt,
        conns,
        "--count",
        str(n),
        "--no-latency",
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=600)
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(outfile)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def cost(pattern: str) -> int:
        best = 0
        for line in text.splitlines():
            if re.search(pattern, line):
                m = re.match(r"\s*([\d,]+)", line)
                if m:
                    best = max(best, int(m.group(1).replace(",", "")))
        return best

    return {
        "total": cost(r"PROGRAM TOTALS"),
        "server": cost(r"server_step"),
        "client": cost(_STEP_FN[workload]),
    }


def _run_callgrind(binary: Path, out: TextIO) -> dict[str, Any]:
    import tempfile

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mtcp-callgrind-") as tmp:
        for workload, (_, _, n1, n2) in CALLGRIND_RUNS.items():
            print(f"  callgrind {workload}: {n1} and {n2} operations ...", file=out, flush=True)
            a = _callgrind_counts(binary, workload, n1, Path(tmp))
            b = _callgrind_counts(binary, workload, n2, Path(tmp))
            per = {k: round((b[k] - a[k]) / (n2 - n1)) for k in a}
            results[workload] = {"n1": n1, "n2": n2, "ir_n1": a, "ir_n2": b, "per_op": per}
            print(
                f"    per {'connection' if workload == 'short' else '64 B RPC'}: "
                f"server {per['server']:,} Ir, client {per['client']:,} Ir, "
                f"whole program {per['total']:,} Ir",
                file=out,
                flush=True,
            )
    return results


# -- the command --------------------------------------------------------------------------


def _out_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    root = _source_root()
    return root / "benches" / "results" if root else Path.cwd()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    started = time.monotonic()
    info = machine()
    print(
        f"mtcp bench{' --quick' if args.quick else ''}: {info['cpu_model']}, "
        f"{info['cpus']} CPUs, Linux {info['kernel']}",
        file=out,
        flush=True,
    )
    if args.veth:
        return _run_veth_command(args, info, started, out)
    binary = None
    if args.callgrind or args.only != "python":
        binary = _native_binary(args, out)
    record: dict[str, Any] = {"machine": info, "quick": bool(args.quick)}
    if args.callgrind:
        if binary is None or not shutil.which("valgrind"):
            print("mtcp bench: --callgrind needs valgrind and the native program", file=out)
            return 1
        record["callgrind"] = _run_callgrind(binary, out)
    else:
        records: list[dict[str, Any]] = []
        if binary is not None and args.only != "python":
            records += _run_native(binary, args.quick, out)
        if args.only != "native":
            records += _run_python(args.quick, args.python_secs, out)
        _add_ratios(records)
        record["records"] = records
        print("\n" + table(records), file=out)
    kind = "callgrind" if args.callgrind else ("quick" if args.quick else "default")
    return _write(args, record, info, started, kind, out)


def _write(
    args: argparse.Namespace,
    record: dict[str, Any],
    info: dict[str, Any],
    started: float,
    kind: str,
    out: TextIO,
) -> int:
    record["elapsed_s"] = round(time.monotonic() - started, 1)
    dest = _out_dir(args)
    dest.mkdir(parents=True, exist_ok=True)
    day = datetime.date.today().isoformat()
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", info["hostname"] or "machine")
    stem = dest / f"{day}-{host}-{kind}"
    if not args.callgrind:
        if kind.startswith("veth"):
            from ._bench_veth import veth_table

            text = veth_table(record["records"])
        else:
            text = table(record["records"])
        stem.with_suffix(".md").write_text(text + "\n")
        if not args.no_plot:
            figures = [r for r in record["records"] if r.get("status", "ok") == "ok"]
            record["plots"] = _plot(figures, stem, out)
    stem.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {stem}.json ({record['elapsed_s']} s)", file=out)
    return 0


def _run_veth_command(
    args: argparse.Namespace, info: dict[str, Any], started: float, out: TextIO
) -> int:
    """``--veth``: the lab's workloads (:mod:`mtcp.tools._bench_veth`); root only."""
    if os.geteuid() != 0:
        print("mtcp bench --veth: needs root (network namespaces, AF_PACKET, AF_XDP)", file=out)
        return 1
    from . import netlab
    from ._bench_veth import VETH_RUNS, run_veth, veth_table

    known = [io for _, io in VETH_RUNS]
    ios = [io.strip() for io in args.veth_io.split(",")] if args.veth_io else None
    if ios is not None and (not ios or any(io not in known for io in ios)):
        print(f"mtcp bench --veth-io: choose from {', '.join(known)}", file=out)
        return 2
    secs = args.python_secs if args.python_secs is not None else (1.0 if args.quick else 3.0)
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        records = run_veth(secs, out, _describe, ios, args.veth_mode)
    except netlab.LabError as exc:
        print(f"mtcp bench --veth: {exc}", file=out)
        return 1
    _add_ratios(records)
    record: dict[str, Any] = {
        "machine": info,
        "quick": bool(args.quick),
        "secs": secs,
        "mtcp_mode": args.veth_mode,
        "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "records": records,
    }
    print("\n" + veth_table(records), file=out)
    kind = "veth" if args.veth_mode == "inline" else f"veth-{args.veth_mode}"
    return _write(args, record, info, started, kind, out)
