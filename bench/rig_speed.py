"""Speed of the rig pipeline: speech audio -> phones, emotion, motion and every export, against audio length.

    python bench/rig_speed.py             # 10 s, 60 s and 600 s; 1 and 2 cores; with and without transcript
    python bench/rig_speed.py --quick     # 10 s and 60 s only
    python bench/rig_speed.py --lengths 60 --cores 2
    python bench/rig_speed.py --lengths 60 --cores 2 --env OMP_NUM_THREADS=1 AFFECT_STUDIO_THREADS=1
    python bench/rig_speed.py --lengths 60 --emotions auto happy:0.8

Audio: concatenated flite sentences with 0.3-0.8 s pauses (`bench.phonemes.long_speech`, cached under
`bench/.cache/`), written once as a WAV so that loading it is part of the measured work. Every case
(length x cores x transcript) runs in a fresh process, pinned to its cores with `os.sched_setaffinity`
before it starts (so thread pools, ONNX Runtime and the phone decoders' process pool all see only those
cores). The process builds a `RigCurvesPipeline`, loads its models (`speech.load_models()`) and warms up
on one short sentence (with and without transcript, all exports: decoders built, canonical face loaded);
that start-up is reported apart (it also starts the phone decoders' worker processes). Then, timed:
`load_audio(wav)` and the pipeline at 60 fps writing every export format (its own per-stage `result.seconds`;
on several cores the formats are written in parallel by the idle phone workers). Afterwards, untimed in
the whole, each format is written again alone in the main process, to show what each costs. The emotion
is "auto" (estimated from the speech and transcript) unless `--emotions` names others: a named emotion
skips the estimate.

Printed per case: the real-time factor (wall-clock seconds per second of audio) of every stage and of the
whole (load -> last file), the CPU time per second of audio (the main process and the phone workers: what
other load on the machine does not inflate), and the peak RSS (`VmHWM`) of the main process and of its largest phone
worker. Targets (issue): whole RTF <= 0.03 on 2 cores and <= 0.06 on 1 core for 60 s; linear in length.
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

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.phonemes import (  # noqa: E402
    CACHE,
    WorkerMemory,
    _status_kb,
    cached_long_speech,
    sentences,
    synthesize,
    worker_cpu_s,
)
from bench.summary import record  # noqa: E402

STAGES = (  # (label, key in result.seconds)
    ("voice activity", "voice activity"),
    ("phones", "phones"),
    ("speech emotion (SER)", "speech emotion"),
    ("text emotion", "text emotion"),
    ("fusion", "fusion"),
    ("motion + mouth cues", "motion"),
    ("exports (all formats)", "exports"),
)
TARGETS = {1: 0.06, 2: 0.03}  # whole RTF for 60 s


def wav_for(seconds: float) -> tuple[Path, Path]:
    """(WAV of `long_speech(seconds)`, its .npz with the transcript), made once."""
    npz = cached_long_speech(seconds)
    wav = npz.with_suffix(".wav")
    if not wav.exists():
        import soundfile

        soundfile.write(wav, np.load(npz)["samples"], 16000, subtype="FLOAT")
    return wav, npz


# --- one case, in its own process --------------------------------------------------------------------


def case(seconds: float, with_transcript: bool, emotion: str) -> dict:
    from generation.rig_curves import RigCurvesPipeline
    from recognition.audio import load_audio
    from rigs.export import ExportInput, available_formats, get_exporter

    wav, npz = wav_for(seconds)
    transcript = str(np.load(npz)["transcript"]) if with_transcript else None
    cores = len(os.sched_getaffinity(0))

    clock = time.perf_counter()
    pipeline = RigCurvesPipeline()
    loading = pipeline.speech.load_models()
    text = sentences()[0]
    short, _ = synthesize(text, "kal16")
    with tempfile.TemporaryDirectory(prefix="rig_speed_") as tmp:
        pipeline(audio=short, transcript=text, out_dir=tmp, name="warm")
        pipeline(audio=short, out_dir=tmp, name="warm")
    startup = time.perf_counter() - clock
    loaded_mb = _status_kb("self", "VmHWM") / 1024

    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rig_speed_") as tmp, WorkerMemory() as workers:
        start, before, workers_before = time.perf_counter(), os.times(), worker_cpu_s()
        clock = time.perf_counter()
        audio = load_audio(wav)
        stages["load audio"] = time.perf_counter() - clock
        result = pipeline(audio=audio, transcript=transcript, emotion=emotion, out_dir=tmp, name="take")
        stages.update(result.seconds)
        wall, after, workers_after = time.perf_counter() - start, os.times(), worker_cpu_s()
        sizes = {name: path.stat().st_size for name, path in result.files.items()}
        # each format again on its own, in this process, to show what each costs
        data = ExportInput(result.motion, result.mouth_cues, audio.source, emotion, "take")
        for name in available_formats():
            exporter = get_exporter(name)
            clock = time.perf_counter()
            exporter.export(data, Path(tmp) / "alone" / f"take{exporter.suffix}")
            stages[f"export {name}"] = time.perf_counter() - clock
    cpu = sum(after[k] - before[k] for k in range(4)) + workers_after - workers_before
    return {
        "seconds": audio.duration,
        "cores": cores,
        "transcript": with_transcript,
        "emotion": emotion,
        "stages": stages,
        "wall": wall,
        "cpu": cpu,
        "loading": loading,
        "startup": startup,
        "loaded_mb": loaded_mb,
        "main_mb": _status_kb("self", "VmHWM") / 1024,
        "worker_mb": workers.peak_kb / 1024,
        "phones_method": result.speech.timeline.method,
        "frames": result.motion.num_frames,
        "sizes": sizes,
    }


def run_case(
    seconds: float, cores: int, with_transcript: bool, emotion: str, env: dict[str, str] | None = None
) -> dict:
    """`case` in a fresh process pinned to the first `cores` usable CPUs, with `env` added to its environment."""
    cpus = sorted(os.sched_getaffinity(0))[:cores]
    out = subprocess.run(
        [sys.executable, __file__, "--case", str(seconds), str(int(with_transcript)), emotion],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the table ---------------------------------------------------------------------------------------


def table(results: list[dict]) -> Table:
    t = Table(
        title=f"Rig pipeline speed: audio -> all exports, 60 fps (RTF = wall s per audio s; {os.cpu_count()} CPUs)"
    )
    t.add_column("stage")
    for r in results:
        transcript = "transcript" if r["transcript"] else "no transcr."
        cores = f"{r['cores']} core{'s' * (r['cores'] > 1)}"
        t.add_column(f"{r['seconds']:.0f} s\n{cores}\n{transcript}\n{r['emotion']}", justify="right")
    keys = ["load audio"] + [key for _, key in STAGES]
    labels = ["load audio"] + [label for label, _ in STAGES]
    formats = sorted({k for r in results for k in r["stages"] if k.startswith("export ")})
    for label, key in zip(labels, keys, strict=True):
        t.add_row(label, *(f"{r['stages'].get(key, 0.0) / r['seconds']:.4f}" for r in results))
    t.add_section()
    for key in formats:  # not in the whole: each format again, alone, in the main process
        t.add_row(f"  {key} (alone)", *(f"{r['stages'].get(key, 0.0) / r['seconds']:.4f}" for r in results))
    t.add_row(
        "  sum of formats alone",
        *(f"{sum(v for k, v in r['stages'].items() if k.startswith('export ')) / r['seconds']:.4f}" for r in results),
    )
    t.add_section()
    cells = []
    for r in results:
        rtf = r["wall"] / r["seconds"]
        target = TARGETS.get(r["cores"])
        mark = "" if target is None else (" [green]ok[/green]" if rtf <= target else " [red]over[/red]")
        cells.append(f"[bold]{rtf:.4f}[/bold]{mark}")
    t.add_row("[bold]whole, wall-clock RTF[/bold]", *cells)
    t.add_row("whole, wall s", *(f"{r['wall']:.2f}" for r in results))
    t.add_row("CPU s / audio s", *(f"{r['cpu'] / r['seconds']:.4f}" for r in results))
    t.add_row("peak RSS main MB", *(f"{r['main_mb']:.0f}" for r in results))
    t.add_row("  after start-up MB", *(f"{r['loaded_mb']:.0f}" for r in results))
    t.add_row("peak RSS worker MB", *(f"{r['worker_mb']:.0f}" if r["worker_mb"] else "-" for r in results))
    t.add_row("start-up s (not in RTF)", *(f"{r['startup']:.1f}" for r in results))
    t.add_row("phones method", *(r["phones_method"] for r in results))
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s and 60 s only")
    parser.add_argument("--lengths", type=float, nargs="+")
    parser.add_argument("--cores", type=int, nargs="+")
    parser.add_argument("--transcript", choices=("yes", "no", "both"), default="both")
    parser.add_argument(
        "--emotions", nargs="+", default=["auto"], help="each case's emotion: auto (estimated) or named (happy:0.8)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--env", nargs="+", default=[], metavar="KEY=VALUE", help="environment of the cases, e.g. OMP_NUM_THREADS=1"
    )
    parser.add_argument("--case", nargs=3, metavar=("SECONDS", "TRANSCRIPT", "EMOTION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(float(args.case[0]), args.case[1] == "1", args.case[2])))
        return
    console = Console(width=200)
    lengths = args.lengths or ((10.0, 60.0) if args.quick else (10.0, 60.0, 600.0))
    usable = len(os.sched_getaffinity(0))
    cores = args.cores or sorted({1, min(2, usable)})
    transcripts = {"yes": (True,), "no": (False,), "both": (False, True)}[args.transcript]
    CACHE.mkdir(parents=True, exist_ok=True)
    for seconds in lengths:
        wav_for(seconds)
    results = []
    for seconds in lengths:
        for n in cores:
            for with_transcript in transcripts:
                for emotion in args.emotions:
                    r = run_case(seconds, n, with_transcript, emotion, dict(kv.split("=", 1) for kv in args.env))
                    results.append(r)
                    rtf = r["wall"] / r["seconds"]
                    target = "linear" if seconds != 60 else (f"<= {TARGETS[n]}" if n in TARGETS else "")
                    record("rig curves", f"audio -> all exports, 60 fps, {seconds:.0f} s, {n} core(s), "
                           f"{'transcript' if with_transcript else 'no transcript'}, emotion {emotion}",
                           f"RTF {rtf:.4f}", target, f"peak RSS {r['main_mb'] + r['worker_mb']:.0f} MB")  # fmt: skip
                    console.print(
                        f"  done: {seconds:.0f} s, {n} core(s), transcript {'yes' if with_transcript else 'no'}, "
                        f"emotion {emotion}: RTF {rtf:.4f}"
                    )
    console.print(table(results))
    if args.env:
        console.print(f"environment of every case: {' '.join(args.env)}")
    console.print(
        "targets: whole RTF <= 0.03 on 2 cores and <= 0.06 on 1 core for 60 s, linear in length. Start-up (model "
        "loading, the phone decoders' worker processes, one warm-up sentence) is once per process and not in the RTF."
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
