"""Lip-sync accuracy of the rig curves, on TTS speech whose phone timings are known exactly.

    python bench/lipsync.py            # one table; ~5 minutes on 2 busy cores (first run also synthesises)
    python bench/lipsync.py --quick    # 10 sentences per voice, reference script on a sample of files
    python bench/lipsync.py --phone-lm trigram  # allphone with the wheel's trigram LM (Rhubarb's)
    python bench/lipsync.py --bilabial-boost 0   # allphone without its bias toward p/b/m
    python bench/lipsync.py --misses 20  # also list missed closures / open vowels of the aligned source

Speech: the sentences of `bench/data/sentences.txt` spoken by flite voices kal16, slt, awb and rms, with
`flite -psdur` giving every phone's end time (`bench/phonemes.py` synthesises and caches them under
`bench/.cache/flite/`; this script imports that code). Each utterance goes through the rig pipeline
(`RigCurvesPipeline`'s steps: speech analysis, emotion override, `generate_motion` at 60 fps, mouth cues)
with its phones from one of three sources:

- aligned:   `phone_timeline(audio, transcript)` (PocketSphinx forced alignment, the sentence as transcript);
- allphone:  `phone_timeline(audio)` (phone recognition, no transcript);
- true:      flite's own phones, the upper bound of the motion model (what `--text` input gets).

Emotion "neutral"; the aligned source is also run at "happy:0.8" to show the emotion layer keeps closures.
The motion is written as a Live Link Face CSV (the `livelink` exporter) and scored from that file:

- bilabial recall / open-vowel recall: DESIGN.md §4's closure metric, exactly as the reference script
  `../shared/tools/lipsync_closure.py` computes it (raw flite labels: a p/b/m counts as closed if some frame
  within its interval +-20 ms has JawOpen - MouthClose <= 0.10; an aa/ae/ah/ao/aw/ay counts as open if some
  frame there has JawOpen - MouthClose >= 0.25; flite's schwa "ax" is not an open vowel there). It is
  reimplemented here to get per-phone detail, and the reference script is run as a subprocess on the same
  CSV and .psdur files: the table says on how many files both gave identical numbers (any difference
  aborts). Targets: bilabial >= 0.95, open vowel >= 0.90.
- false closures: the share of 60 fps frames, inside true speech phones (not silence) that are not
  bilabials and more than 40 ms from every true bilabial (its interval +-40 ms), in which the mouth is
  closed by the reference's own test (JawOpen - MouthClose <= 0.10) — the counterweight to bilabial
  recall, which a mouth that never opens would max out. Target <= 5 %. In brackets the same over vowel
  frames only (any vowel, schwa included: never legitimately closed) and consonant frames only (f/v/s/t...
  have small apertures by design, so the 0.10 aperture test also catches near-closures there).
- shape agreement: per 10 ms frame (Rhubarb's centisecond grid), our Rhubarb mouth cue (the timeline the
  `rhubarb` exporter writes) against the shape the true phone at the frame's centre implies
  (`rigs.visemes.PHONE_TO_RHUBARB`, silence = X, after the last phone X): over all frames, and over
  speech frames only (true shape not X). Even with the true phones it is below 100 %: mouth_cues folds
  cues shorter than 40 ms into their neighbour, as Rhubarb does.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.phonemes import CACHE, sentences, synthesize  # noqa: E402
from bench.summary import record  # noqa: E402
from generation.motion import generate_motion  # noqa: E402
from generation.motion.mouth_cues import mouth_cues  # noqa: E402
from generation.motion.visemes import VOWELS  # noqa: E402
from generation.rig_curves import RigCurvesPipeline  # noqa: E402
from recognition.audio import Audio  # noqa: E402
from recognition.emotion_spec import parse_emotion_spec  # noqa: E402
from recognition.fusion import apply_override, estimate_needed  # noqa: E402
from recognition.phonemes import PhoneConfig, PhoneTimeline, phone_timeline  # noqa: E402
from recognition.phonemes.phone_lm import PHONE_LMS  # noqa: E402
from recognition.phonemes.timeline import SILENCE, Phone  # noqa: E402
from rigs.export import ExportInput, get_exporter  # noqa: E402
from rigs.export.rhubarb import rhubarb_timeline  # noqa: E402
from rigs.motion import FaceMotion  # noqa: E402
from rigs.visemes import PHONE_TO_RHUBARB, MouthCue  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "tools" / "lipsync_closure.py"
VOICES = ("kal16", "slt", "awb", "rms")
BILABIALS = ("p", "b", "m")
OPEN_VOWELS = ("aa", "ae", "ah", "ao", "aw", "ay")  # the reference's list, on raw flite labels
CLOSED, OPEN = 0.10, 0.25  # JawOpen - MouthClose thresholds of the reference
SLACK_S = 0.02  # the reference's +-20 ms around each phone
BILABIAL_GUARD_S = 0.04  # false closures: frames this close to a true bilabial are not counted
# happy:0.8 as asked (its jaw gain is 1, so closures cannot change); sad:0.8 is the hard case (jaw gain 0.84)
SOURCES = (
    ("aligned", "neutral"), ("allphone", "neutral"), ("true", "neutral"),
    ("aligned", "happy:0.8"), ("aligned", "sad:0.8"),
)  # fmt: skip


def psdur_path(text: str, voice: str) -> Path:
    """The raw `flite -psdur` file `bench.phonemes.synthesize` cached for (voice, text) (same key)."""
    key = hashlib.sha1(f"{voice}\n{text}".encode()).hexdigest()[:12]
    return CACHE / f"{voice}_{key}.psdur"


# --- the rig pipeline, with the phones given ---------------------------------------------------------


def animate(
    pipeline: RigCurvesPipeline, audio: Audio, transcript: str | None, emotion: str, timeline: PhoneTimeline
) -> tuple[FaceMotion, list[MouthCue]]:
    """`RigCurvesPipeline.__call__`'s steps with `timeline` as the phones (checked against the pipeline
    itself by `check_animate`)."""
    spec = parse_emotion_spec(emotion)
    fps = pipeline.motion.fps
    fusion = pipeline.speech.fusion
    speech = pipeline.speech(audio, transcript, fps, timeline, estimate_emotion=estimate_needed(spec, fusion))
    driving = apply_override(speech.emotion, spec, fps, audio.duration, fusion)
    motion = generate_motion(speech.timeline, driving, audio, pipeline.motion)
    return motion, mouth_cues(speech.timeline, motion.duration)


def check_animate(pipeline: RigCurvesPipeline, audio: Audio, text: str) -> None:
    """`animate` must give exactly what `RigCurvesPipeline` gives for the same audio, transcript, emotion and
    phones (the pipeline's own: this checks the animation steps, not phone decoding)."""
    theirs = pipeline(audio=audio, transcript=text, emotion="happy:0.8")
    ours, cues = animate(pipeline, audio, text, "happy:0.8", theirs.speech.timeline)
    if not (np.array_equal(ours.blendshapes, theirs.motion.blendshapes) and cues == theirs.mouth_cues):
        raise SystemExit("bench/lipsync.py: animate() no longer matches RigCurvesPipeline; update it")


# --- metrics -----------------------------------------------------------------------------------------


def read_curves(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frame times s, JawOpen - MouthClose) of a Live Link CSV, read exactly as the reference script does
    (timecode frames over a frame rate guessed from the frames in the first and the middle second)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))

    def col(name: str) -> list[float]:
        for k in rows[0]:
            if k.strip().lower() == name.lower():
                return [float(r[k]) for r in rows]
        raise SystemExit(f"{path}: no column {name}")

    jaw, close = col("JawOpen"), col("MouthClose")
    tcs = [r[list(rows[0].keys())[0]] for r in rows]
    secs = [tc.split(":")[2] for tc in tcs]
    fps = max(
        sum(1 for s in secs if s == secs[0]), sum(1 for s in secs if s == secs[min(len(secs) - 1, len(secs) // 2)])
    )
    times = []
    for tc in tcs:
        h, m, s, rest = tc.split(":")
        times.append(int(h) * 3600 + int(m) * 60 + int(s) + float(rest) / fps)
    return np.array(times), np.array([j - c for j, c in zip(jaw, close, strict=True)])


def raw_phones(pho: Path) -> list[tuple[str, float, float]]:
    """The reference's reading of a .psdur file: (raw flite label, start, end)."""
    phones, start = [], 0.0
    for tok in pho.read_text().split():
        p, end = tok.rsplit(":", 1)
        phones.append((p, start, float(end)))
        start = float(end)
    return phones


@dataclass
class Score:
    bilabial: list[bool] = field(default_factory=list)  # per true bilabial: closed?
    open_vowel: list[bool] = field(default_factory=list)  # per true open vowel: opened?
    vowel_frames: int = 0
    vowel_closed: int = 0
    consonant_frames: int = 0
    consonant_closed: int = 0
    shape_frames: int = 0
    shape_agree: int = 0
    speech_frames: int = 0
    speech_agree: int = 0
    misses: list[str] = field(default_factory=list)
    reference: list[float] | None = None  # what the reference script printed

    def add(self, other: Score) -> None:
        self.bilabial += other.bilabial
        self.open_vowel += other.open_vowel
        for name in ("vowel_frames", "vowel_closed", "consonant_frames", "consonant_closed", "shape_frames",
                     "shape_agree", "speech_frames", "speech_agree"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses += other.misses


def score(csv_path: Path, pho: Path, truth: list[Phone], cues: list[MouthCue], duration: float, tag: str) -> Score:
    times, aperture = read_curves(csv_path)
    result = Score()
    raw = raw_phones(pho)

    def frames(a: float, b: float) -> np.ndarray:
        return aperture[(times >= a - SLACK_S) & (times <= b + SLACK_S)]

    for label, a, b in raw:
        if label in BILABIALS:
            hit = bool(np.any(frames(a, b) <= CLOSED))
            result.bilabial.append(hit)
            if not hit:
                result.misses.append(f"{tag} {label} {a:.3f}-{b:.3f} s: min aperture {frames(a, b).min():.3f}")
        elif label in OPEN_VOWELS:
            hit = bool(np.any(frames(a, b) >= OPEN))
            result.open_vowel.append(hit)
            if not hit:
                result.misses.append(f"{tag} {label} {a:.3f}-{b:.3f} s: max aperture {frames(a, b).max():.3f}")

    # false closures: frames inside true non-bilabial speech phones, > 40 ms from every true bilabial
    near_bilabial = np.zeros(len(times), bool)
    for p in truth:
        if p.label in BILABIALS:
            near_bilabial |= (times >= p.start - BILABIAL_GUARD_S) & (times <= p.end + BILABIAL_GUARD_S)
    for p in truth:
        if p.label == SILENCE or p.label in BILABIALS:
            continue
        inside = (times >= p.start) & (times < p.end) & ~near_bilabial
        closed = int(np.count_nonzero(aperture[inside] <= CLOSED))
        if p.label in VOWELS:
            result.vowel_frames += int(inside.sum())
            result.vowel_closed += closed
        else:
            result.consonant_frames += int(inside.sum())
            result.consonant_closed += closed

    # Rhubarb shapes per centisecond: ours (as the rhubarb exporter writes them) vs the true phones'
    ours = []
    for start, stop, shape in rhubarb_timeline(cues, duration):
        ours += [shape] * (stop - start)
    centres = (np.arange(len(ours)) + 0.5) / 100
    ends = np.array([p.end for p in truth])
    index = np.searchsorted(ends, centres, side="right")
    true_shapes = [PHONE_TO_RHUBARB[truth[i].label] if i < len(truth) else "X" for i in index]
    agree = [a == b for a, b in zip(ours, true_shapes, strict=True)]
    speech = [s != "X" for s in true_shapes]
    result.shape_frames, result.shape_agree = len(agree), sum(agree)
    result.speech_frames = sum(speech)
    result.speech_agree = sum(a for a, s in zip(agree, speech, strict=True) if s)
    return result


def reference(csv_path: Path, pho: Path) -> list[float]:
    out = subprocess.run([sys.executable, str(REFERENCE), str(csv_path), str(pho)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"reference script failed on {csv_path}: {out.stderr[-500:]}")
    return [float(x) for x in out.stdout.split()]


def agrees_with_reference(s: Score, ref: list[float]) -> bool:
    ours = [
        sum(s.bilabial) / max(1, len(s.bilabial)),
        sum(s.open_vowel) / max(1, len(s.open_vowel)),
        float(len(s.bilabial)),
        float(len(s.open_vowel)),
    ]
    return ours == ref


# --- the run -----------------------------------------------------------------------------------------


def run(
    voices: tuple[str, ...],
    texts: list[str],
    check_every: int,
    console: Console,
    phone_lm: str = "bigram",
    bilabial_boost: float = PhoneConfig.bilabial_boost,
) -> dict:
    pipeline = RigCurvesPipeline()
    pipeline.speech.load_models()
    # one utterance is one chunk: decoded in this process anyway
    config = PhoneConfig(parallel="serial", phone_lm=phone_lm, bilabial_boost=bilabial_boost)
    livelink = get_exporter("livelink")
    scores: dict[tuple[str, str, str], Score] = {}
    phone_seconds: dict[str, float] = {"aligned": 0.0, "allphone": 0.0}
    checked = agreed = 0
    checks = []
    pool = ThreadPoolExecutor(2)  # reference-script subprocesses, beside the work here
    checked_animate = False
    with tempfile.TemporaryDirectory(prefix="lipsync_") as tmp:
        for voice in voices:
            started = time.perf_counter()
            for n, text in enumerate(texts):
                audio, truth = synthesize(text, voice)
                pho = psdur_path(text, voice)
                assert pho.exists(), pho
                timelines = {"true": PhoneTimeline(truth, source=str(pho), method="tts:flite")}
                for mode in ("aligned", "allphone"):
                    clock = time.perf_counter()
                    timelines[mode] = phone_timeline(audio, text if mode == "aligned" else None, config)
                    phone_seconds[mode] += time.perf_counter() - clock
                if not checked_animate:
                    check_animate(pipeline, audio, text)
                    checked_animate = True
                for source, emotion in SOURCES:
                    motion, cues = animate(pipeline, audio, None if source == "allphone" else text, emotion,
                                           timelines[source])  # fmt: skip
                    name = f"{voice}_{n:02d}_{source}_{emotion.replace(':', '')}"
                    path = livelink.export(ExportInput(motion, cues, None, emotion, name), Path(tmp) / f"{name}.csv")
                    s = score(path, pho, truth, cues, motion.duration, f"{voice} #{n} {source} {emotion}:")
                    scores.setdefault((source, emotion, voice), Score()).add(s)
                    if n % check_every == 0:
                        checks.append((s, pool.submit(reference, path, pho), path))
                # keep the CSVs only until their reference check has run
                done = [c for c in checks if c[1].done()]
                for s, future, path in done:
                    checked += 1
                    agreed += agrees_with_reference(s, future.result())
                    checks.remove((s, future, path))
            console.print(f"  {voice}: {len(texts)} sentences in {time.perf_counter() - started:.0f} s")
        for s, future, _ in checks:
            checked += 1
            agreed += agrees_with_reference(s, future.result())
    pool.shutdown()
    if agreed != checked:
        raise SystemExit(f"the in-process closure metric differs from the reference on {checked - agreed} files")
    return {"scores": scores, "checked": checked, "phone_seconds": phone_seconds}


def fraction(hits: int, n: int) -> str:
    return f"{hits / n:.3f} ({hits}/{n})" if n else "-"


def percent(hits: int, n: int) -> str:
    return f"{100 * hits / n:.1f} %" if n else "-"


def row(source: str, emotion: str, voice: str, s: Score, utterances: int) -> tuple[str, ...]:
    return (
        source,
        emotion,
        voice,
        fraction(sum(s.bilabial), len(s.bilabial)),
        fraction(sum(s.open_vowel), len(s.open_vowel)),
        f"{percent(s.vowel_closed + s.consonant_closed, s.vowel_frames + s.consonant_frames)} "
        f"({percent(s.vowel_closed, s.vowel_frames)} / {percent(s.consonant_closed, s.consonant_frames)})",
        f"{percent(s.shape_agree, s.shape_frames)} / {percent(s.speech_agree, s.speech_frames)}",
        str(utterances),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 sentences per voice")
    parser.add_argument("--voices", nargs="+", default=list(VOICES), choices=VOICES)
    parser.add_argument("--misses", type=int, default=0, help="list this many misses of the aligned source")
    parser.add_argument("--json", type=Path, help="also write the per-row numbers here")
    parser.add_argument("--phone-lm", choices=PHONE_LMS, default="bigram", help="allphone's phonetic LM")
    parser.add_argument(
        "--bilabial-boost",
        type=float,
        default=PhoneConfig.bilabial_boost,
        help="allphone's bias toward p/b/m, log10 units (PhoneConfig.bilabial_boost; 0 = none)",
    )
    args = parser.parse_args()
    console = Console(width=160)
    texts = sentences()[:10] if args.quick else sentences()
    voices = tuple(args.voices)
    started = time.perf_counter()
    out = run(voices, texts, 5 if args.quick else 1, console, args.phone_lm, args.bilabial_boost)
    scores = out["scores"]

    table = Table(title=f"Lip-sync vs flite -psdur phones ({len(texts)} sentences x {len(voices)} voices, 60 fps)")
    columns = ("phones", "emotion", "voice", "bilabial recall", "open-vowel recall",
               "false closures (vowels / consonants)", "shape agreement all / speech", "utterances")  # fmt: skip
    for column in columns:
        table.add_column(column)
    rows = []
    for source, emotion in SOURCES:
        total = Score()
        for voice in voices:
            s = scores[(source, emotion, voice)]
            rows.append(row(source, emotion, voice, s, len(texts)))
            total.add(s)
        rows.append(row(f"[bold]{source}[/bold]", emotion, "[bold]all[/bold]", total, len(texts) * len(voices)))
        if emotion == "neutral" and source != "true":
            summary = rows[-1]
            label = "with transcript" if source == "aligned" else "no transcript (allphone)"
            record("lip sync", f"bilabial / open-vowel recall, {label}", f"{summary[3]} / {summary[4]}",
                   ">= 0.95 / >= 0.90", f"{len(texts) * len(voices)} TTS utterances")  # fmt: skip
            record("lip sync", f"false closures; A-X shape agreement, {label}", f"{summary[5]}; {summary[6]}",
                   "<= 5 %")  # fmt: skip
        for r in rows[-len(voices) - 1 :]:
            table.add_row(*r)
        table.add_section()
        if args.misses and source == "aligned" and emotion == "neutral":
            for line in total.misses[: args.misses]:
                console.print("  miss:", line)
    console.print(table)
    n_utt = len(texts) * len(voices)
    console.print(
        "targets: bilabial recall >= 0.95, open-vowel recall >= 0.90, false closures <= 5 %.\n"
        f"closure recalls identical to ../shared/tools/lipsync_closure.py on {out['checked']} of the "
        f"{n_utt * len(SOURCES)} Live Link CSVs (checked as subprocess; all that were checked agreed).\n"
        f"phone decoding: aligned {out['phone_seconds']['aligned'] / n_utt:.2f} s, allphone "
        f"{out['phone_seconds']['allphone'] / n_utt:.2f} s per utterance; "
        f"whole run {time.perf_counter() - started:.0f} s."
    )
    if args.json:
        args.json.write_text(json.dumps([list(map(str, r)) for r in rows], indent=1))


if __name__ == "__main__":
    main()
