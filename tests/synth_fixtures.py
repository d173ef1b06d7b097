"""Shared pieces of the synthetic-dataset tests: an identities folder with good and bad portraits, small
specs, and reading a whole output folder for byte-for-byte comparison."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from PIL import Image

from generation.synthetic import DatasetSpec
from rigs.assets import sample_path


def make_identities(folder: Path) -> Path:
    """Two usable portraits, a profile face (skipped: turned), a lossless re-encode of the first portrait
    (skipped: duplicate by content hash), a corrupt JPEG (skipped: unreadable), and a text file (ignored)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample_path("portrait.png"), folder / "a_portrait.png")
    shutil.copy(sample_path("hopper.jpg"), folder / "b_hopper.jpg")
    shutil.copy(sample_path("cameraman.png"), folder / "c_cameraman.png")
    with Image.open(sample_path("portrait.png")) as image:
        image.save(folder / "d_portrait_copy.png", compress_level=9, optimize=True)
    (folder / "e_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def tiny_spec(identities: Path | str, **overrides) -> DatasetSpec:
    """2 usable identities × 3 emotions × 2 images = 12 jobs, with pose and augmentation variation."""
    data = dict(
        identities=str(identities),
        emotions=["neutral", "happy", "surprised"],
        intensities=[1.0],
        images_per_cell=2,
        head_pose={"yaw": [-6, 6], "roll": [-3, 3]},
        gaze={"yaw": [-5, 5]},
        augment={"flip": 0.5, "brightness": 0.05, "noise": 2, "crop_scale": [0.9, 1.0]},
        seed=3,
    )
    data.update(overrides)
    return DatasetSpec(**data)


def write_spec(path: Path, spec: DatasetSpec) -> Path:
    path.write_text(json.dumps(spec.to_dict(), indent=1))
    return path


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> sha256 of its bytes)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_same_tree(a: Path, b: Path) -> None:
    left, right = tree(a), tree(b)
    assert sorted(left) == sorted(right), (sorted(set(left) ^ set(right)))[:10]
    differing = [name for name in left if left[name] != right[name]]
    assert not differing, differing[:10]


def assert_consistent_dataset(out: Path) -> list[dict]:
    """No duplicates and no gaps: every PNG under the splits is in exactly one metadata line and every
    metadata line names an existing PNG; the manifest lists each finished job once. Returns the lines."""
    lines = []
    for metadata in sorted(out.glob("*/metadata.jsonl")):
        for line in metadata.read_text().splitlines():
            lines.append({**json.loads(line), "_split_dir": metadata.parent.name})
    named = [f"{r['_split_dir']}/{r['file_name']}" for r in lines]
    assert len(named) == len(set(named)), "duplicate metadata lines"
    pngs = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*/*.png") if p.parts[-3] != "rejected")
    assert sorted(named) == pngs
    manifest = (out / ".synth" / "manifest.txt").read_text().splitlines()
    assert len(manifest) == len(set(manifest))
    indices = [r["job_index"] for r in lines]
    assert indices == sorted(indices), "metadata not in job order"
    return lines
