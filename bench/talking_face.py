"""Talking-face quality and speed on the bundled sample: one table, a contact sheet, one MP4 per emotion.

    python bench/talking_face.py [--out out/bench_talking_face] [--seconds 60]

Targets (issue 5): >= 25 frames/s end to end at 512 px on 2 cores; < 1.5 GB for a 60 s clip;
re-detected jawOpen vs requested Pearson r >= 0.9; Acc_emo >= 0.85 over the 6 basic emotions at full
intensity; identity cosine >= 0.9; |lip-sync lag| <= 1 frame.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.talking_face.pipeline import TalkingFacePipeline  # noqa: E402
from recognition.audio import Audio, load_audio  # noqa: E402
from recognition.video import iter_frames  # noqa: E402
from rigs.assets import sample_path  # noqa: E402
from studio.scoring import score_talking_face  # noqa: E402

EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


def contact_sheet(videos: dict[str, Path], path: Path, frames_per_row: int = 6) -> None:
    rows = []
    for emotion, video in videos.items():
        frames = [f for _, f in iter_frames(video)]
        picks = np.linspace(0, len(frames) - 1, frames_per_row).astype(int)
        tiles = [Image.fromarray(frames[i]).crop((96, 16, 416, 336)).resize((200, 200)) for i in picks]
        row = Image.new("RGB", (200 * frames_per_row + 110, 200), "white")
        ImageDraw.Draw(row).text((8, 92), emotion, fill="black")
        for k, tile in enumerate(tiles):
            row.paste(tile, (110 + 200 * k, 0))
        rows.append(row)
    sheet = Image.new("RGB", (rows[0].width, 200 * len(rows)), "white")
    for i, row in enumerate(rows):
        sheet.paste(row, (0, 200 * i))
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/bench_talking_face"))
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the long clip for speed/memory")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    console = Console(width=130)
    speech = load_audio(sample_path("speech.wav"))
    transcript = sample_path("speech.txt").read_text()
    pipeline = TalkingFacePipeline(scorer=score_talking_face)
    portrait = sample_path("portrait.png")

    quality = Table(title="Talking face, sample portrait + sample speech (11.5 s), 512 px, 25 fps")
    for column in ("emotion", "jawOpen r", "mean r", "Acc_emo", "p(requested)", "identity", "lip-sync lag", "jitter"):
        quality.add_column(column, justify="right")
    videos, accuracies = {}, []
    for emotion in EMOTIONS:
        video = args.out / f"{emotion}.mp4"
        result = pipeline(portrait, audio=speech, text=transcript, emotion=emotion, output=video)
        s = result.score
        videos[emotion] = video
        jaw = s.channels.get("jawOpen")
        if emotion != "neutral":
            accuracies.append(s.emotion_accuracy or 0.0)
        quality.add_row(
            emotion, f"{jaw.r:.2f}" if jaw else "-", f"{s.mean_r:.2f}",
            "-" if s.emotion_accuracy is None else f"{s.emotion_accuracy:.0%}",
            "-" if s.emotion_mean_probability is None else f"{s.emotion_mean_probability:.2f}",
            f"{s.identity_mean:.3f}", f"{s.lipsync_lag_frames:+d} fr", f"{s.jitter:.4f}",
        )  # fmt: skip
    quality.add_row("6 basic", "", "", f"{np.mean(accuracies):.0%}", "", "", "", "", style="bold")
    contact_sheet(videos, args.out / "contact_sheet.png")

    # Speed and memory on a long clip (the sample speech repeated), without scoring.
    repeats = max(1, int(np.ceil(args.seconds / speech.duration)))
    long = Audio(np.tile(speech.samples, repeats)[: int(args.seconds * speech.sample_rate)], speech.sample_rate, "long")
    fast = TalkingFacePipeline(analyzer=pipeline.analyzer, curves=pipeline.curves)
    start = time.perf_counter()
    result = fast(portrait, audio=long, output=args.out / "long.mp4")
    wall = time.perf_counter() - start
    speed = Table(title=f"Speed, {long.duration:.0f} s clip, 2 cores (wall clock, models already loaded)")
    for column in ("measure", "value", "target"):
        speed.add_column(column)
    frames = result.motion.num_frames
    speed.add_row("frames/s end to end (phones + motion + render + encode)", f"{frames / wall:.1f}", ">= 25")
    speed.add_row("frames/s render + encode", f"{frames / result.seconds['render and encode']:.1f}", "")
    speed.add_row("x real time", f"{wall / long.duration:.3f}", "< 1")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    speed.add_row("peak memory of this process (MB)", f"{peak:.0f}", "< 1536")
    console.print(quality)
    console.print(speed)
    console.print(f"contact sheet: {args.out / 'contact_sheet.png'}; videos: {args.out}/<emotion>.mp4")


if __name__ == "__main__":
    main()
