"""`affect-studio analyze` and `demo`: outputs, and one-line errors for every kind of bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rigs.assets import sample_path
from studio.cli import main

PORTRAIT = sample_path("portrait.png")


def run_cli(args: list[str]) -> int:
    """Run the CLI in this process; returns its exit code."""
    try:
        main([str(a) for a in args])
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def assert_one_line_error(capsys, code: int, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_analyze_image_writes_json_and_annotated_png(tmp_path, capsys):
    out_json, out_png = tmp_path / "faces.json", tmp_path / "faces.png"
    assert run_cli(["analyze", PORTRAIT, "--json", out_json, "--annotate", out_png]) == 0
    printed = capsys.readouterr().out
    assert "happy" in printed and "1 face(s)" in printed
    # the face table fits a terminal (80 columns under pytest) without cutting ARKit names short
    assert "mouthSmileRight 0.9" in printed and "…" not in printed
    data = json.loads(out_json.read_text())
    assert len(data["faces"]) == 1
    face = data["faces"][0]
    assert face["emotion"]["top"] == "happy"
    assert len(face["landmarks"]) == 478 and len(face["blendshapes"]) == 52
    assert "derived" in data["notes"] and "valence_derived" in face["emotion"]
    annotated = np.asarray(Image.open(out_png))
    assert annotated.shape == (512, 512, 3)
    assert np.abs(annotated.astype(int) - np.asarray(Image.open(PORTRAIT).convert("RGB"))).sum() > 0


def test_demo_writes_video_curves_score_and_analysis(tmp_path, capsys):
    import av

    demo = tmp_path / "demo"
    assert run_cli(["demo", "--out", demo]) == 0
    with av.open(str(demo / "talking_face.mp4")) as video:
        assert {s.type for s in video.streams} == {"video", "audio"}
        assert video.duration / av.time_base > 10  # the sample line is ~11.5 s
    score = json.loads((demo / "talking_face.score.json").read_text())
    assert score["detected_fraction"] > 0.95
    for name in ("speech.csv", "speech.glb", "speech.json", "speech.metahuman.csv", "speech.tsv"):
        assert (demo / "curves" / name).stat().st_size > 100
    assert json.loads((demo / "portrait_analysis.json").read_text())["faces"]
    assert (demo / "portrait_annotated.png").stat().st_size > 10_000
    assert "Video score" in capsys.readouterr().out


def test_analyze_video_writes_per_frame_json_plot_and_annotated_mp4(tmp_path, capsys):
    from generation.video_writer import VideoWriter
    from recognition.video import iter_frames

    clip = tmp_path / "clip.mp4"
    portrait = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    with VideoWriter(clip, fps=10) as writer:
        for i in range(12):
            writer.write(np.roll(portrait, 2 * i, axis=1))
    out_json, out_mp4 = tmp_path / "frames.json", tmp_path / "annotated.mp4"
    assert run_cli(["analyze", clip, "--json", out_json, "--annotate", out_mp4]) == 0
    frames = json.loads(out_json.read_text())["frames"]
    assert len(frames) == 12 and all(f["face"]["emotion"]["top"] == "happy" for f in frames)
    assert [f["time"] for f in frames] == pytest.approx([i / 10 for i in range(12)], abs=1e-3)
    assert (tmp_path / "frames_emotion.png").stat().st_size > 10_000
    assert sum(1 for _ in iter_frames(out_mp4)) == 12


# --- bad inputs: one line naming the file and the problem, exit code 2, nothing partial --------------


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_missing_file(tmp_path, capsys):
    code = run_cli(["analyze", tmp_path / "nope.png"])
    assert_one_line_error(capsys, code, "nope.png", "file not found")


def test_no_face(tmp_path, capsys):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(blank)
    code = run_cli(["analyze", blank])
    assert_one_line_error(capsys, code, "wall.png", "no face found")


def test_not_an_image(tmp_path, capsys):
    code = run_cli(["analyze", _write(tmp_path / "notes.png", b"hello, this is text\n" * 20)])
    assert_one_line_error(capsys, code, "notes.png", "not an image")


def test_truncated_image(tmp_path, capsys):
    data = PORTRAIT.read_bytes()
    code = run_cli(["analyze", _write(tmp_path / "cut.png", data[: len(data) // 3])])
    assert_one_line_error(capsys, code, "cut.png", "truncated")


def test_corrupt_jpeg(tmp_path, capsys):
    buffer = io.BytesIO()
    Image.open(PORTRAIT).convert("RGB").save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    data[200:] = b"\x00" * (len(data) - 200)
    code = run_cli(["analyze", _write(tmp_path / "broken.jpg", bytes(data))])
    err = assert_one_line_error(capsys, code, "broken.jpg")
    assert "corrupt" in err or "no face" in err


def test_folder_instead_of_file(tmp_path, capsys):
    code = run_cli(["analyze", tmp_path])
    assert_one_line_error(capsys, code, str(tmp_path), "folder")


def test_read_only_output_folder(read_only_folder, capsys):
    code = run_cli(["analyze", PORTRAIT, "--json", read_only_folder / "out.json"])
    assert_one_line_error(capsys, code, "out.json", "not writable")


def test_unwritable_output(tmp_path, capsys):
    # A path under a regular file can't be created, even by root.
    blocker = _write(tmp_path / "blocker", b"")
    code = run_cli(["analyze", PORTRAIT, "--json", blocker / "out.json"])
    assert_one_line_error(capsys, code, "out.json", "is a file, not a folder")
    code = run_cli(["analyze", PORTRAIT, "--json", blocker / "sub" / "out.json"])
    assert_one_line_error(capsys, code, "out.json", "blocker is a file, not a folder")  # the real obstacle, named


def test_wrong_annotation_suffix(tmp_path, capsys):
    code = run_cli(["analyze", PORTRAIT, "--annotate", tmp_path / "out.mp4"])
    assert_one_line_error(capsys, code, "out.mp4", ".png")
    assert not (tmp_path / "out.mp4").exists()


def test_oversized_image_is_refused(tmp_path, capsys):
    # A 12000 x 12000 PNG of one colour is small on disk but 432 MB decoded.
    huge = tmp_path / "huge.png"
    Image.new("L", (12000, 12000), 128).save(huge, optimize=False)
    code = run_cli(["analyze", huge])
    assert_one_line_error(capsys, code, "huge.png", "12000x12000", "limit")


# --- unusual but valid images: still analysed ------------------------------------------------------


def _analyse(path: Path, capsys) -> dict:
    out = path.with_suffix(".json")
    code = run_cli(["analyze", path, "--json", out])
    assert code == 0, capsys.readouterr().err
    return json.loads(out.read_text())


def test_grayscale_rgba_and_16bit_images(tmp_path, capsys):
    rgb = Image.open(PORTRAIT).convert("RGB")
    rgb.convert("L").save(tmp_path / "grey.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(200)
    rgba.save(tmp_path / "alpha.png")
    grey16 = (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    for name in ("grey.png", "alpha.png", "deep.png"):
        data = _analyse(tmp_path / name, capsys)
        assert len(data["faces"]) == 1, name


def test_exif_rotated_photo_is_analysed_upright(tmp_path, capsys):
    # Stored rotated on its side, with EXIF orientation 6 ("rotate 90 CW to view").
    stored = Image.open(PORTRAIT).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    face = _analyse(tmp_path / "phone.jpg", capsys)["faces"][0]
    assert abs(face["head_pose"]["roll"]) < 15
    assert face["emotion"]["top"] == "happy"


def test_tiny_face(tmp_path, capsys):
    small = Image.open(PORTRAIT).convert("RGB").resize((160, 160), Image.LANCZOS)  # face ~ 30 px wide
    small.save(tmp_path / "tiny.png")
    face = _analyse(tmp_path / "tiny.png", capsys)["faces"][0]
    assert face["box"][2] - face["box"][0] < 64


def test_huge_image(tmp_path, capsys):
    big = Image.open(PORTRAIT).convert("RGB").resize((8000, 8000), Image.BILINEAR)
    big.save(tmp_path / "big.png", compress_level=1)
    face = _analyse(tmp_path / "big.png", capsys)["faces"][0]
    assert face["emotion"]["top"] == "happy"
    assert face["box"][2] - face["box"][0] > 1000


def test_installed_script_prints_one_line_without_traceback(tmp_path):
    """The real console script, as a user runs it."""
    script = Path(sys.executable).with_name("affect-studio")
    done = subprocess.run([script, "analyze", tmp_path / "missing.jpg"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing.jpg'}: file not found"]
