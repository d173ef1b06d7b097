"""Talking-face quality and speed on the bundled sample: one table, a contact sheet, one MP4 per emotion.

    python bench/talking_face.py [--out out/bench_talking_face] [--lengths 10 60 600]
    python bench/talking_face.py --lengths --emotions surprised happy   # quality of two emotions only
    python bench/talking_face.py --lengths --portrait hopper.jpg        # quality on another bundled face

Targets (issue 5): >= 25 frames/s end to end at 512 px on 2 cores; < 1.5 GB for a 60 s clip;
re-detected jawOpen vs requested Pearson r >= 0.9; Acc_emo >= 0.85 over the 6 basic emotions at full
intensity; identity cosine >= 0.9; |lip-sync lag| <= 1 frame.

"jawOpen r" is MediaPipe's jawOpen blendshape read from each frame; "opening r" is the inner-lip gap the
re-detected landmarks show against the requested opening (jawOpen - mouthClose), at the best lag. "posed
r" is the ceiling of "jawOpen r": MediaPipe's blendshape regressor (its PyTorch rebuild) reading the rig's
own posed landmarks, with no rendering and no detection, as a perfect landmark detector would. It stays
under 1 because the regressor's jawOpen also rises with lip rounding (mouthFunnel, mouthPucker) and falls
with mouthStretch, which speech moves together with the jaw. On the sample portrait (a face ~100 px wide
in a 512 px picture) the gap follows the request at r ~0.94 while the blendshape reads ~0.8: the
landmarks the detector places on a frame, within ~0.02 inter-ocular distances of the posed ones, read
3-4x lower than the posed ones.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.summary import record  # noqa: E402
from generation.talking_face.pipeline import TalkingFaceConfig, TalkingFacePipeline, fit_portrait_size  # noqa: E402
from generation.talking_face.rig import PortraitRig  # noqa: E402
from generation.talking_face.wrinkles import DEFAULT_DEPTH  # noqa: E402
from recognition.audio import Audio, load_audio  # noqa: E402
from recognition.image_io import load_image  # noqa: E402
from recognition.nets.blendshape_regressor import BlendshapeRegressor, to_arkit  # noqa: E402
from recognition.video import iter_frames  # noqa: E402
from rigs.arkit import ARKIT_INDEX  # noqa: E402
from rigs.assets import sample_path  # noqa: E402
from rigs.face_topology import NUM_LANDMARKS  # noqa: E402
from rigs.motion import FaceMotion  # noqa: E402
from studio.scoring import score_talking_face  # noqa: E402

EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


def contact_sheet(videos: dict[str, Path], path: Path, box: tuple[float, ...], frames_per_row: int = 6) -> None:
    """One row per video: `frames_per_row` frames spread over it, cut to `box` (x0, y0, x1, y1 pixels)."""
    box = tuple(int(round(v)) for v in box)
    rows = []
    for emotion, video in videos.items():
        frames = [f for _, f in iter_frames(video)]
        picks = np.linspace(0, len(frames) - 1, frames_per_row).astype(int)
        tiles = [Image.fromarray(frames[i]).crop(box).resize((200, 200)) for i in picks]
        row = Image.new("RGB", (200 * frames_per_row + 110, 200), "white")
        ImageDraw.Draw(row).text((8, 92), emotion, fill="black")
        for k, tile in enumerate(tiles):
            row.paste(tile, (110 + 200 * k, 0))
        rows.append(row)
    sheet = Image.new("RGB", (rows[0].width, 200 * len(rows)), "white")
    for i, row in enumerate(rows):
        sheet.paste(row, (0, 200 * i))
    sheet.save(path)


def posed_jaw_r(motion: FaceMotion, rig: PortraitRig, regressor: BlendshapeRegressor) -> float:
    """Pearson r of the requested jawOpen with what the blendshape regressor reads from the rig's posed
    landmarks of every frame (portrait pixels): the re-detected jawOpen r a perfect detector would give."""
    frames = zip(motion.blendshapes, motion.head, motion.eyes, strict=True)
    posed = np.stack([rig.window.to_portrait(rig.points(*frame)[:NUM_LANDMARKS]) for frame in frames])
    with torch.no_grad():
        read = to_arkit(regressor.from_landmarks(posed)).numpy()[:, ARKIT_INDEX["jawOpen"]]
    return float(np.corrcoef(motion.blendshapes[:, ARKIT_INDEX["jawOpen"]], read)[0, 1])


def misreadings(predicted: dict[str, float], requested: str, top: int = 2) -> str:
    """The classes other than `requested` that frames were read as, most frequent first: "sad 12 %, ..."."""
    others = sorted(((share, name) for name, share in predicted.items() if name != requested), reverse=True)
    return ", ".join(f"{name[:5]} {share:.0%}" for share, name in others[:top]) or "-"


def speed_case(seconds: float, out: Path) -> dict:
    """One end-to-end run on `seconds` of speech (the sample repeated), in this fresh process: wall time
    with the models already loaded, frames and this process's peak memory."""
    speech = load_audio(sample_path("speech.wav"))
    repeats = max(1, int(np.ceil(seconds / speech.duration)))
    long = Audio(np.tile(speech.samples, repeats)[: int(seconds * speech.sample_rate)], speech.sample_rate, "long")
    pipeline = TalkingFacePipeline()
    pipeline(sample_path("portrait.png"), audio=Audio(speech.samples[: speech.sample_rate], 16000, "warm-up"),
             output=out / "warm_up.mp4")  # fmt: skip
    start = time.perf_counter()
    result = pipeline(sample_path("portrait.png"), audio=long, output=out / f"long_{seconds:.0f}s.mp4")
    wall = time.perf_counter() - start
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    return {"seconds": long.duration, "frames": result.motion.num_frames, "wall": wall,
            "render": result.seconds["render and encode"], "peak_mb": peak_kb / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/bench_talking_face"))
    parser.add_argument(
        "--lengths", type=float, nargs="*", default=[10.0, 60.0], help="clips for speed and memory (none: skip)"
    )
    parser.add_argument("--emotions", nargs="+", choices=EMOTIONS, default=list(EMOTIONS), help="videos to make")
    parser.add_argument("--portrait", default="portrait.png", help="a bundled sample face (assets/samples)")
    parser.add_argument("--wrinkles", type=float, default=DEFAULT_DEPTH, help="expression crease depth (0-1)")
    parser.add_argument("--case", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.case:
        print(json.dumps(speed_case(args.case, args.out)))
        return
    console = Console(width=130)
    speech = load_audio(sample_path("speech.wav"))
    transcript = sample_path("speech.txt").read_text()
    pipeline = TalkingFacePipeline(TalkingFaceConfig(wrinkle_depth=args.wrinkles), scorer=score_talking_face)
    portrait = sample_path(args.portrait)
    # the rig the pipeline fits, fitted once here for "posed r" (the same picture and face choice)
    picture = fit_portrait_size(load_image(portrait), pipeline.config.max_output_side)
    face = pipeline.choose_face(picture, args.portrait)
    rig = PortraitRig.fit(picture, face, pipeline.canonical, pipeline.config.resolution)
    regressor = BlendshapeRegressor.from_task()

    quality = Table(
        title=f"Talking face, {args.portrait} + sample speech (11.5 s), 512 px, 25 fps, creases {args.wrinkles:g}"
    )
    columns = ("emotion", "jawOpen r", "posed r", "opening r", "mean r", "Acc_emo", "p(requested)", "otherwise read as",
               "identity", "lip-sync lag", "jitter")  # fmt: skip
    for column in columns:
        quality.add_column(column, justify="right")
    videos, accuracies, jaws, ceilings, openings, identities, lags = {}, [], [], [], [], [], []
    for emotion in args.emotions:
        video = args.out / f"{emotion}.mp4"
        result = pipeline(portrait, audio=speech, text=transcript, emotion=emotion, output=video)
        s = result.score
        videos[emotion] = video
        jaw = s.channels.get("jawOpen")
        if emotion != "neutral":
            accuracies.append(s.emotion_accuracy or 0.0)
        jaws.append(jaw.r if jaw else np.nan)
        ceilings.append(posed_jaw_r(result.motion, rig, regressor))
        openings.append(np.nan if s.opening_confidence is None else s.opening_confidence)
        identities.append(s.identity_mean)
        lags.append(abs(s.lipsync_lag_frames))
        quality.add_row(
            emotion, f"{jaw.r:.2f}" if jaw else "-", f"{ceilings[-1]:.2f}", f"{openings[-1]:.2f}", f"{s.mean_r:.2f}",
            "-" if s.emotion_accuracy is None else f"{s.emotion_accuracy:.0%}",
            "-" if s.emotion_mean_probability is None else f"{s.emotion_mean_probability:.2f}",
            misreadings(s.emotion_predicted or {}, emotion), f"{s.identity_mean:.3f}",
            f"{s.lipsync_lag_frames:+d} fr", f"{s.jitter:.4f}",
        )  # fmt: skip
    basic = [e for e in args.emotions if e != "neutral"]
    if basic:
        quality.add_row(f"{len(basic)} basic", "", "", "", "", f"{np.mean(accuracies):.0%}", *[""] * 5, style="bold")
    contact_sheet(videos, args.out / "contact_sheet.png", result.crop_box)
    n = len(args.emotions)
    area = f"talking face ({args.portrait})"
    if basic:
        record(area, f"Acc_emo, {len(basic)} basic emotions, full intensity", f"{np.mean(accuracies):.0%}",
               ">= 85 %", " ".join(f"{e[:3]} {a:.0%}" for e, a in zip(basic, accuracies, strict=True)))  # fmt: skip
    record(area, f"re-detected jawOpen r ({n} emotions)", f"{np.nanmin(jaws):.2f}-{np.nanmax(jaws):.2f}",
           ">= 0.9")  # fmt: skip
    record(area, f"jawOpen r read from the posed landmarks ({n} emotions)",
           f"{np.nanmin(ceilings):.2f}-{np.nanmax(ceilings):.2f}", "-",
           "the ceiling of the re-detected jawOpen r: MediaPipe's regressor on the rig's own landmarks")  # fmt: skip
    record(area, f"re-detected inner-lip opening r ({n} emotions)",
           f"{np.nanmin(openings):.2f}-{np.nanmax(openings):.2f}", "-",
           "requested jawOpen - mouthClose vs the lip gap the landmarks show")  # fmt: skip
    record(area, f"identity cosine ({n} emotions)", f"{min(identities):.3f}-{max(identities):.3f}", ">= 0.9")
    record(area, f"|lip-sync lag|, largest of {n} emotions", f"{max(lags)} frame(s)", "<= 1 frame")

    # Speed and memory on long clips, each in a fresh process (peak memory is that run's own).
    cores = len(os.sched_getaffinity(0))
    speed = Table(title=f"Speed and memory, 512 px, 25 fps, {cores} cores (wall clock, models already loaded)")
    for column in ("clip", "frames/s end to end", "frames/s render + encode", "x real time", "peak memory MB"):
        speed.add_column(column, justify="right")
    for seconds in args.lengths:
        out = subprocess.run([sys.executable, __file__, "--case", str(seconds), "--out", str(args.out)],
                             capture_output=True, text=True)  # fmt: skip
        if out.returncode:
            console.print(f"[red]{seconds:.0f} s failed[/red]\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        fps = r["frames"] / r["wall"]
        speed.add_row(f"{r['seconds']:.0f} s", f"{fps:.1f}", f"{r['frames'] / r['render']:.1f}",
                      f"{r['wall'] / r['seconds']:.3f}", f"{r['peak_mb']:.0f}")  # fmt: skip
        record("talking face", f"end to end, 512², {cores} cores, {r['seconds']:.0f} s clip", f"{fps:.1f} frames/s",
               ">= 25", f"peak {r['peak_mb']:.0f} MB (target < 1536 for 60 s)")  # fmt: skip
    console.print(quality)
    if args.lengths:
        console.print(speed)
    console.print(f"contact sheet: {args.out / 'contact_sheet.png'}; videos: {args.out}/<emotion>.mp4")


if __name__ == "__main__":
    main()
