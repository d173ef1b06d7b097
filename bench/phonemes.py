"""Phone timings: accuracy against flite's own phone timings, and speed against audio length.

    python bench/phonemes.py            # prints two tables; ~4 minutes (first run also synthesises)
    python bench/phonemes.py --quick    # accuracy on one voice, speed for 10 s and 60 s only
    python bench/phonemes.py --only speed
    python bench/phonemes.py --phone-lm trigram   # allphone with the wheel's trigram LM (Rhubarb's)
    python bench/phonemes.py --only accuracy --bilabial-boost 0   # allphone without its bias to p/b/m

Labelled speech: every sentence of `bench/data/sentences.txt` spoken by flite voices kal16, awb, rms,
slt (16 kHz) and kal (8 kHz, resampled), with `flite -psdur` giving each phone's end time (ARPAbet;
"pau" = silence, "ax" = schwa, counted as "ah", which is how CMUdict and PocketSphinx write it). Cached
under `bench/.cache/` (gitignored). The tables are printed with `rich`.

Metrics, per mode ("allphone": no transcript; "aligned": the sentence as transcript):
- PER: phone error rate, the edit distance between the predicted and the true speech phones (silences
  left out) over the number of true ones.
- boundary error: the predicted and true sequences (silences included, consecutive ones merged) are
  aligned by edit distance; every boundary between two consecutive true phones that are both matched,
  label for label, to two consecutive predicted phones is scored |predicted time - true time|. "scored"
  says which share of the true boundaries that covers (all of them when the recognition is perfect).
- speed: wall-clock real-time factor (seconds of decoding per second of audio) of `phone_timeline`
  on 10 s, 60 s and 600 s of concatenated sentences with 0.3-0.8 s pauses, on 1 core
  (`os.sched_setaffinity`) and on all cores, and the CPU time it took (all its processes) per second
  of audio (the live decoding workers included), which other load on the machine does not inflate.
  Each case runs in a fresh process that loads the audio from the cache and starts the decoding workers
  (`warm_up`) before the clock starts, as a long-running app or batch has them: "peak RSS" is its main
  process's peak (`VmHWM`; in brackets, before decoding, with the decoders built and the audio loaded)
  and the largest worker's.
Targets (issue): aligned <= 20 ms mean boundary error, allphone <= 30 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.summary import record  # noqa: E402
from recognition.audio import Audio, load_audio  # noqa: E402
from recognition.phonemes import PhoneConfig, PhoneTimeline, phone_timeline, transcript_words  # noqa: E402
from recognition.phonemes.chunking import warm_up  # noqa: E402
from recognition.phonemes.compare import edit_alignment  # noqa: E402
from recognition.phonemes.phone_lm import PHONE_LMS  # noqa: E402
from recognition.phonemes.timeline import SILENCE, Phone  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "flite"
SENTENCES = HERE / "data" / "sentences.txt"
VOICES = ("kal16", "awb", "rms", "slt", "kal")
LONG_VOICES = ("kal16", "awb", "rms", "slt")
FLITE_LABELS = {"pau": SILENCE, "ax": "ah", "axr": "er", "ix": "ih", "dx": "t"}


# --- labelled speech ---------------------------------------------------------------------------------


def sentences() -> list[str]:
    return [line.strip() for line in SENTENCES.read_text().splitlines() if line.strip()]


def parse_psdur(text: str) -> list[Phone]:
    """flite `-psdur` output ('pau:0.220 dh:0.254 ...', end times in s) -> contiguous phones, silences
    merged."""
    phones: list[Phone] = []
    start = 0.0
    for token in text.split():
        label, _, end = token.rpartition(":")
        label = FLITE_LABELS.get(label, label)
        end = float(end)
        if phones and label == SILENCE and phones[-1].label == SILENCE:
            phones[-1].end = end
        else:
            phones.append(Phone(label, start, end))
        start = end
    return phones


def synthesize(text: str, voice: str) -> tuple[Audio, list[Phone]]:
    """flite speech for `text` (16 kHz) and its true phones, cached by voice and text."""
    key = hashlib.sha1(f"{voice}\n{text}".encode()).hexdigest()[:12]
    wav, labels = CACHE / f"{voice}_{key}.wav", CACHE / f"{voice}_{key}.psdur"
    if not labels.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["flite", "-voice", voice, "-t", text, "-o", str(wav), "-psdur"], capture_output=True, text=True, check=True
        )
        labels.write_text(out.stdout)
    import logging

    logging.getLogger("recognition.audio").setLevel(logging.ERROR)  # kal is 8 kHz: known, not news
    audio = load_audio(wav)
    return audio, [p for p in parse_psdur(labels.read_text()) if p.start < audio.duration]


def long_speech(seconds: float, seed: int = 0) -> tuple[Audio, str, list[tuple[float, list[Phone]]]]:
    """About `seconds` of sentences with 0.3-0.8 s pauses, one 16 kHz voice per pass through the
    sentences (turns of ~2 minutes, as speakers take them): the audio, its transcript, and each
    sentence's (offset s, true phones)."""
    rng = np.random.default_rng(seed)
    texts = sentences()
    parts, words, truth = [], [], []
    t, i = 0.0, 0
    while True:
        text = texts[i % len(texts)]
        audio, phones = synthesize(text, LONG_VOICES[(i // len(texts)) % len(LONG_VOICES)])
        pause = np.zeros(int(rng.uniform(0.3, 0.8) * 16000), np.float32)
        if t + audio.duration > seconds:
            break
        parts += [audio.samples, pause]
        truth.append((t, phones))
        words.append(text)
        t += (len(audio.samples) + len(pause)) / 16000
        i += 1
    samples = np.concatenate(parts)[: int(seconds * 16000)]
    samples = np.concatenate([samples, np.zeros(int(seconds * 16000) - len(samples), np.float32)])
    return Audio(samples, source=f"{seconds:.0f}s of flite speech"), " ".join(words), truth


# --- metrics -----------------------------------------------------------------------------------------


def compare(truth: list[Phone], predicted: list[Phone]) -> dict:
    """Edit errors on speech phones, and boundary errors (s) of matched consecutive phone pairs."""
    speech_true = [p.label for p in truth if p.label != SILENCE]
    speech_pred = [p.label for p in predicted if p.label != SILENCE]
    errors, _ = edit_alignment(speech_true, speech_pred)
    _, pairs = edit_alignment([p.label for p in truth], [p.label for p in predicted])
    boundary = []
    for (i, j), (i2, j2) in pairwise(pairs):
        if None in (i, j, i2, j2):
            continue
        if truth[i].label == predicted[j].label and truth[i2].label == predicted[j2].label:
            boundary.append(abs(predicted[j].end - truth[i].end))
    return {"errors": errors, "phones": len(speech_true), "boundary": boundary, "boundaries": len(truth) - 1}


def window(timeline: PhoneTimeline, start: float, end: float) -> list[Phone]:
    """Phones of `timeline` within [start, end] s, clipped and shifted to start at 0."""
    out = []
    for p in timeline.phones:
        if p.end > start and p.start < end:
            out.append(Phone(p.label, max(p.start, start) - start, min(p.end, end) - start, p.confidence))
    return out


def summary(results: list[dict]) -> tuple[str, str, str, str, str]:
    boundary = np.array([b for r in results for b in r["boundary"]]) * 1000
    per = sum(r["errors"] for r in results) / max(1, sum(r["phones"] for r in results))
    scored = len(boundary) / max(1, sum(r["boundaries"] for r in results))
    return (
        f"{boundary.mean():.1f}",
        f"{np.median(boundary):.0f} / {np.percentile(boundary, 90):.0f}",
        f"{per:.3f}",
        f"{scored:.0%}",
        str(len(results)),
    )


def accuracy(
    voices: tuple[str, ...],
    console: Console,
    phone_lm: str = "bigram",
    bilabial_boost: float = PhoneConfig.bilabial_boost,
) -> list[tuple]:
    """Rows: per mode and voice, on every sentence."""
    config = PhoneConfig(parallel="serial", phone_lm=phone_lm, bilabial_boost=bilabial_boost)
    rows = []
    texts = sentences()
    for mode in ("allphone", "aligned"):
        everything = []
        word_mismatches = 0
        for voice in voices:
            results = []
            for text in texts:
                audio, truth = synthesize(text, voice)
                timeline = phone_timeline(audio, text if mode == "aligned" else None, config)
                if mode == "aligned":
                    word_mismatches += [w.text for w in timeline.words] != transcript_words(text)
                results.append(compare(truth, timeline.phones))
            rows.append((mode, voice, *summary(results)))
            everything += results
        rows.append((f"[bold]{mode}[/bold]", "[bold]all[/bold]", *summary(everything)))
        mean_ms, _, per, *_ = summary(everything)
        record("speech", f"phone boundaries, {mode}", f"{mean_ms} ms mean, PER {per}",
               "<= 20 ms" if mode == "aligned" else "<= 30 ms", f"{len(everything)} TTS utterances")  # fmt: skip
        if mode == "aligned":
            console.print(f"aligned: {word_mismatches} utterances whose words differ from the transcript")
    return rows


# --- speed -------------------------------------------------------------------------------------------


def cached_long_speech(seconds: float) -> Path:
    """`long_speech(seconds)` saved as .npz (samples, transcript, truth), so a speed case can load it
    without the memory it takes to build."""
    path = CACHE.parent / f"long_{seconds:.0f}s_{hashlib.sha1(SENTENCES.read_bytes()).hexdigest()[:8]}.npz"
    if not path.exists():
        audio, transcript, truth = long_speech(seconds)
        labels = json.dumps([(offset, [(p.label, p.start, p.end) for p in phones]) for offset, phones in truth])
        np.savez(path, samples=audio.samples, transcript=transcript, truth=labels)
    return path


def _status_kb(pid: int | str, field: str) -> int:
    """A `VmRSS`/`VmHWM` line of /proc/PID/status, in kB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class WorkerMemory:
    """Samples the peak RSS (`VmHWM`) of this process's children every 20 ms, in a thread.
    (`getrusage` is no use here: Linux carries a process's peak RSS over `exec`, so a fresh process
    reports its parent's peak.)"""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        children = Path(f"/proc/self/task/{os.getpid()}/children")
        while not self._stop.wait(0.02):
            for pid in children.read_text().split():
                self.peak_kb = max(self.peak_kb, _status_kb(pid, "VmHWM"))

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def worker_cpu_s() -> float:
    """CPU seconds used so far by this process's live children (the phone workers; `os.times` counts
    children only once they have exited)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in Path(f"/proc/self/task/{os.getpid()}/children").read_text().split():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def speed_case(mode: str, seconds: float, cores: int, parallel: str, phone_lm: str = "bigram") -> dict:
    """One speed measurement, meant to run in a fresh process (see `main`)."""
    if cores == 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    data = np.load(cached_long_speech(seconds))
    audio = Audio(data["samples"], source=f"{seconds:.0f} s of flite speech")
    transcript = str(data["transcript"])
    truth = [(offset, [Phone(*p) for p in phones]) for offset, phones in json.loads(str(data["truth"]))]
    config = PhoneConfig(parallel=parallel, phone_lm=phone_lm)
    phone_timeline(Audio(audio.samples[:16000]), None, PhoneConfig(parallel="serial", phone_lm=phone_lm))
    warm_up(config)  # the worker processes start once per process: not part of the measured work
    loaded = _status_kb("self", "VmHWM") / 1024
    with WorkerMemory() as workers:
        start, before, workers_before = time.perf_counter(), os.times(), worker_cpu_s()
        timeline = phone_timeline(audio, transcript if mode == "aligned" else None, config)
        wall, after, workers_after = time.perf_counter() - start, os.times(), worker_cpu_s()
    cpu = sum(after[k] - before[k] for k in range(4)) + workers_after - workers_before  # this process and its workers
    main_peak = _status_kb("self", "VmHWM") / 1024
    worker_peak = workers.peak_kb / 1024
    results = [compare(t, window(timeline, offset, offset + t[-1].end)) for offset, t in truth]
    boundary = [b for r in results for b in r["boundary"]]
    return {
        "rtf": wall / audio.duration,
        "cpu_rtf": cpu / audio.duration,
        "wall": wall,
        "loaded_mb": loaded,
        "main_mb": main_peak,
        "worker_mb": worker_peak,
        "boundary_ms": 1000 * float(np.mean(boundary)),
        "per": sum(r["errors"] for r in results) / sum(r["phones"] for r in results),
        "method": timeline.method,
        "words": len(timeline.words),
        "expected_words": len(transcript_words(transcript)) if mode == "aligned" else 0,
    }


def speed(lengths: tuple[float, ...], console: Console, phone_lm: str = "bigram") -> list[tuple]:
    cores = len(os.sched_getaffinity(0))
    for seconds in lengths:
        cached_long_speech(seconds)
    cases = [(mode, s, 1, "serial") for mode in ("allphone", "aligned") for s in lengths]
    cases += [(mode, s, cores, "process") for mode in ("allphone", "aligned") for s in lengths]
    cases += [("allphone", s, cores, "thread") for s in lengths if s >= 60]
    rows = []
    for mode, seconds, n, parallel in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--case", mode, str(seconds), str(n), parallel, "--phone-lm", phone_lm],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            console.print(f"[red]{mode} {seconds} s failed[/red]\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        words = f", words {r['words']}/{r['expected_words']}" if mode == "aligned" else ""
        if parallel != "thread":
            record("speech", f"phones, {mode}, {seconds:.0f} s audio, {n} core(s)", f"RTF {r['rtf']:.3f}", "",
                   f"peak RSS {r['main_mb'] + r['worker_mb']:.0f} MB")  # fmt: skip
        memory = f"{r['main_mb']:.0f} MB ({r['loaded_mb']:.0f} before)"
        if r["worker_mb"]:
            memory += f", workers {r['worker_mb']:.0f} MB"
        rows.append(
            (
                mode,
                f"{seconds:.0f} s",
                f"{n} ({parallel})",
                f"{r['rtf']:.3f}",
                f"{r['cpu_rtf']:.3f}",
                f"{r['wall']:.1f} s",
                memory,
                f"{r['boundary_ms']:.1f} ms, PER {r['per']:.3f}{words}",
            )
        )
        console.print(f"  done: {mode} {seconds:.0f} s on {n} core(s), {parallel}: RTF {r['rtf']:.3f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one voice; 10 s and 60 s only")
    parser.add_argument("--only", choices=("accuracy", "speed"), help="print just one of the tables")
    parser.add_argument("--phone-lm", choices=PHONE_LMS, default="bigram", help="allphone's phonetic LM")
    parser.add_argument(
        "--bilabial-boost",
        type=float,
        default=PhoneConfig.bilabial_boost,
        help="allphone's bias toward p/b/m in the accuracy table, log10 units (0 = none)",
    )
    parser.add_argument("--case", nargs=4, metavar=("MODE", "SECONDS", "CORES", "PARALLEL"))
    args = parser.parse_args()
    if args.case:
        mode, seconds, cores, parallel = args.case
        print(json.dumps(speed_case(mode, float(seconds), int(cores), parallel, args.phone_lm)))
        return
    console = Console(width=140)
    voices = ("kal16",) if args.quick else VOICES
    lengths = (10.0, 60.0) if args.quick else (10.0, 60.0, 600.0)

    if args.only != "speed":
        table = Table(title=f"Phone accuracy vs flite -psdur ({len(sentences())} sentences per voice)")
        for column in ("mode", "voice", "boundary error, mean ms", "median / p90 ms", "PER", "scored", "utterances"):
            table.add_column(column)
        for row in accuracy(voices, console, args.phone_lm, args.bilabial_boost):
            table.add_row(*row)
        console.print(table)
        console.print("targets: aligned <= 20 ms, allphone <= 30 ms mean boundary error")
        if args.only == "accuracy":
            return

    table = Table(title=f"Speed of phone_timeline ({os.cpu_count()} CPUs; fresh process per row)")
    columns = ("mode", "audio", "cores", "RTF", "CPU s / audio s", "wall", "peak RSS", "accuracy on this audio")
    for column in columns:
        table.add_column(column)
    for row in speed(lengths, console, args.phone_lm):
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
