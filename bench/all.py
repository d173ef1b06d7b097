"""Every benchmark, one table: speed, memory, lip-sync accuracy and fidelity, with targets and peers.

    python bench/all.py            # ~10 minutes on 2 cores; each bench also prints its own tables
    python bench/all.py --full     # adds the 600 s inputs (linear time, flat memory) and all voices
    python bench/all.py --only face lipsync

Each bench runs as its own process (so its memory is its own) with `AFFECT_BENCH_SUMMARY` set; the
headline numbers they `record()` are gathered into one table at the end, with the peers' figures beside
them. A peer that cannot run on this machine is quoted from its published or issue-recorded figure and
marked so; nothing here downloads anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.summary import SUMMARY_ENV  # noqa: E402

HERE = Path(__file__).resolve().parent

# The expression strengths were tuned on the sample portrait: the same quality table on another face.
HELD_OUT_FACE = ["--lengths", "--portrait", "hopper.jpg", "--out", "out/bench_talking_face_hopper"]
# name -> (script, its arguments, its arguments with --full)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "face": ("face.py", [], []),
    "phonemes": ("phonemes.py", ["--quick"], []),
    "lipsync": ("lipsync.py", ["--quick"], []),
    "rig": ("rig_speed.py", ["--transcript", "yes", "--lengths", "10", "60", "--emotions", "auto", "happy:0.8"],
            ["--transcript", "yes", "--lengths", "10", "60", "600", "--emotions", "auto", "happy:0.8"]),
    "talking_face": ("talking_face.py", ["--lengths", "10", "60"], ["--lengths", "10", "60", "600"]),
    "talking_face_held_out": ("talking_face.py", HELD_OUT_FACE, HELD_OUT_FACE),
    "synth": ("synth.py", [], []),
    "app": ("app.py", [], []),
}  # fmt: skip

# Peers that cannot run here, with where their figure comes from.
PEERS = [
    ("rig curves", "Rhubarb Lip Sync 1.13, PocketSphinx recogniser", "RTF 0.25",
     "measured on this machine by the issue's author (issue 4); not in a registry we may install from"),
    ("rig curves", "Rhubarb Lip Sync 1.13, phonetic recogniser", "RTF 0.047",
     "same source; the same allphone method as ours"),
    ("talking face", "SadTalker / EchoMimic / Hallo", "minutes to hours per minute of video",
     "need a large GPU and hub weights (issue 5); cannot run here"),
]  # fmt: skip


def run_bench(name: str, full: bool, summary: Path, console: Console) -> tuple[int, float]:
    script, quick, full_args = BENCHES[name]
    args = full_args if full else quick
    console.rule(f"[bold]{name}[/bold]: python bench/{script} {' '.join(args)}")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / script), *args], env={**os.environ, SUMMARY_ENV: str(summary)})
    return done.returncode, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="600 s inputs and the full sentence sets (hours)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), help="run just these")
    parser.add_argument("--json", type=Path, help="also write the summary rows here")
    args = parser.parse_args()
    console = Console(width=180)
    names = args.only or list(BENCHES)
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.jsonl"
        summary.touch()
        timings = {}
        for name in names:
            code, seconds = run_bench(name, args.full, summary, console)
            timings[name] = (code, seconds)
        rows = [json.loads(line) for line in summary.read_text().splitlines() if line.strip()]

    table = Table(title=f"Affect Studio benchmarks ({os.cpu_count()} CPUs; one run, one machine)", show_lines=False)
    for column in ("area", "measure", "ours", "target", "notes"):
        table.add_column(column, overflow="fold")
    area = None
    for row in rows:
        if area is not None and row["area"] != area:
            table.add_section()
        area = row["area"]
        table.add_row(row["area"], row["measure"], row["value"], row["target"], row["note"])
    table.add_section()
    for peer_area, peer, value, source in PEERS:
        if any(r["area"] == peer_area for r in rows):
            table.add_row(peer_area, f"peer: {peer}", value, "", f"[dim]{source}[/dim]")
    console.print(table)
    failed = [f"{n} (exit {c})" for n, (c, _) in timings.items() if c]
    console.print(
        "bench wall time: " + ", ".join(f"{n} {s / 60:.1f} min" for n, (_, s) in timings.items())
        + (f"; [red]failed: {', '.join(failed)}[/red]" if failed else "")
    )  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
