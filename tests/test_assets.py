"""The bundled assets are exactly the ones `scripts/build_assets.py` rebuilds (sha256 manifest)."""

import hashlib

from rigs.assets import assets_dir


def test_every_bundled_file_matches_the_manifest():
    root = assets_dir()
    entries = [line.split(maxsplit=1) for line in (root / "SHA256SUMS").read_text().splitlines() if line]
    assert len(entries) >= 10
    for digest, name in entries:
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name


def test_attribution_names_every_model():
    attribution = (assets_dir() / "ATTRIBUTION.md").read_text()
    for path in (assets_dir() / "models").glob("*.*"):
        stem = path.name.split(".")[0]
        assert stem in attribution, f"{path.name} is not in ATTRIBUTION.md"
