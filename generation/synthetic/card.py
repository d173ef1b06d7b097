"""The dataset card (OUT/README.md), its pictures (OUT/card/examples.png, OUT/card/scores.png), the yield
report as data (OUT/report.json) and the
optional parquet export (OUT/parquet/<split>.parquet; not under data/, where `datasets` would take it for
the image data).

Everything here is a function of the records and the spec, with no dates or timings, so a resumed run
writes the same card as an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import yaml
from PIL import Image, ImageDraw

from generation.synthetic.identities import IdentitySet
from generation.synthetic.report import YieldReport
from generation.synthetic.spec import SPLIT_NAMES, DatasetSpec
from recognition.image_io import load_image
from rigs.arkit import ARKIT_NAMES
from rigs.atomic import atomic_write, check_writable, describe_os_error, temporary_file
from rigs.emotions import EMOTIONS
from rigs.errors import AffectStudioError, OutputFileError

SCORES = (
    ("fer_probability", "FER p(requested emotion)"),
    ("identity_cosine", "identity cosine to the portrait"),
    ("blendshape_error", "blendshape read-back error (MAE)"),
)
DECISIONS = ("kept", "relabelled", "rejected")


def _fmt(value, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


class CardData:
    """What the card needs from the records, gathered in the one pass over them: the three scores per
    decision (three floats a record) and the first few images of each label."""

    def __init__(self, examples_per_label: int = 6):
        self.examples_per_label = examples_per_label
        self.scores: dict[str, dict[str, list[float]]] = {key: {d: [] for d in DECISIONS} for key, _ in SCORES}
        self.examples: dict[str, list[dict]] = {}
        self.splits: set[str] = set()
        self.records = 0

    def add(self, record: dict) -> None:
        self.records += 1
        decision = record["decision"]
        for key, _ in SCORES:
            if record.get(key) is not None:
                self.scores[key][decision].append(float(record[key]))
        if decision != "rejected":
            self.splits.add(record["split"])
            shown = self.examples.setdefault(record["label"], [])
            if len(shown) < self.examples_per_label:
                shown.append({k: record[k] for k in ("image_path", "decision", "requested_emotion", "intensity")})


def example_grid(out_dir: Path, examples: dict[str, list[dict]], path: Path, tile: int = 112) -> Path | None:
    """A PNG with one row per final label: its first images in job order, each captioned with its
    intensity, or the emotion it was asked as when relabelled."""
    labels = [e for e in EMOTIONS if examples.get(e)]
    if not labels:
        return None
    per_row = max(len(examples[label]) for label in labels)
    margin = 90
    sheet = Image.new("RGB", (margin + per_row * tile, len(labels) * (tile + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, label in enumerate(labels):
        y = row * (tile + 14)
        draw.text((6, y + tile // 2 - 6), label, fill="black")
        for col, record in enumerate(examples[label]):
            image = load_image(out_dir / record["image_path"])
            image = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
            x = margin + col * tile
            sheet.paste(Image.fromarray(np.ascontiguousarray(image)), (x, y))
            note = record["requested_emotion"] if record["decision"] == "relabelled" else f"{record['intensity']:g}"
            draw.text((x + 2, y + tile + 1), note if record["decision"] == "kept" else f"from {note}", fill="#555555")
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", compress_level=6)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())
    return path


def score_histograms(scores: dict[str, dict[str, list[float]]], path: Path) -> Path | None:
    """Histograms of the three scores, stacked by decision."""
    if not any(values for per_decision in scores.values() for values in per_decision.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"kept": "#2e7d32", "relabelled": "#f9a825", "rejected": "#c62828"}
    fig, axes = plt.subplots(1, len(SCORES), figsize=(12, 3.2))
    for ax, (key, title) in zip(axes, SCORES, strict=True):
        data = [scores[key][d] for d in DECISIONS]
        low = min([0.5, *(v for values in data for v in values)]) if key == "identity_cosine" else 0.0
        ax.hist(data, bins=np.linspace(low, 1, 21), stacked=True, color=[colours[d] for d in DECISIONS],
                label=list(DECISIONS))  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())
    return path


def _parquet_usage(splits: list[str]) -> list[str]:
    files = ", ".join(f'"{s}": "parquet/{s}.parquet"' for s in splits)
    return [
        "",
        "The same images and columns as parquet, one file per split:",
        "",
        "```python",
        f'ds = load_dataset("parquet", data_files={{{files}}})',
        'ds = ds.cast_column("image", datasets.Image())   # the PNG bytes, decoded on access',
        "```",
    ]


def _quantiles(values: list[float]) -> str:
    if not values:
        return "— | — | — | —"
    q = np.quantile(np.asarray(values, np.float64), [0.05, 0.5, 0.95])
    return f"{len(values)} | {q[0]:.3f} | {q[1]:.3f} | {q[2]:.3f}"


def write_card(
    out_dir: Path,
    spec: DatasetSpec,
    identities: IdentitySet,
    report: YieldReport,
    data: CardData,
    total_jobs: int,
    extra_files: dict[str, Path] | None = None,
) -> dict[str, Path]:
    """README.md (Hugging Face dataset card) + card/examples.png + card/scores.png."""
    files: dict[str, Path] = {}
    grid = example_grid(out_dir, data.examples, out_dir / "card" / "examples.png")
    hist = score_histograms(data.scores, out_dir / "card" / "scores.png")
    if grid:
        files["examples"] = grid
    if hist:
        files["scores"] = hist
    splits = [name for name in SPLIT_NAMES if name in data.splits]
    done = data.records
    lines = [
        "---",
        f"pretty_name: {json.dumps(spec.name)}",
        "task_categories:",
        "- image-classification",
        "tags:",
        "- synthetic",
        "- facial-expression-recognition",
        "- affect-studio",
        f"size_categories:\n- {_size_category(report.final)}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        *[f"  - split: {s}\n    path: {s}/**" for s in splits],
        "---",
        "",
        f"# {spec.name}",
        "",
    ]
    if spec.description:
        lines += [spec.description.strip(), ""]
    status = (
        "complete" if done == total_jobs else f"**partial**: {done} of {total_jobs} jobs done (run again to finish)"
    )
    lines += [
        "Synthetic facial-expression images made offline by Affect Studio (`affect-studio synth`): each portrait "
        "is fitted once, posed with an emotion's FACS prototype at an intensity plus explicit action units, turned "
        "and given a gaze, rendered by a 2D warp, augmented, then **scored by recognition models** and kept, "
        "relabelled or rejected.",
        "",
        f"Status: {status}. {report.final} images in {', '.join(splits) or 'no split'}; "
        f"{report.relabelled} relabelled, {report.rejected} rejected. "
        f"{len(identities.identities)} identities used, {len(identities.skipped)} skipped.",
        "",
        "## Load it",
        "",
        "```python",
        "import datasets",
        "from datasets import load_dataset",
        "",
        'ds = load_dataset("imagefolder", data_dir="path/to/this/folder")',
        'ds = ds.class_encode_column("label")   # the label is the folder name, also a column',
        "```",
        *(_parquet_usage(splits) if extra_files else []),
        "",
        "## Classes: yield and balance",
        "",
        "| class | requested | kept | relabelled in | relabelled out | rejected | yield | images |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in report.rows():
        lines.append(
            f"| {c.emotion} | {c.requested} | {c.kept} | {c.relabelled_in} | {c.relabelled_out} | {c.rejected} | "
            f"{_fmt(c.yield_rate, '.0%')} | {c.final} |"
        )
    lines += [
        "",
        f"Balance (smallest / largest class): {_fmt(report.balance)}; normalised label entropy: "
        f"{_fmt(report.entropy)}. Images per split: "
        + (", ".join(f"{k} {v}" for k, v in report.splits.items()) or "none")
        + ".",
        "",
    ]
    if report.rejected_reasons:
        lines += ["Rejected because: " + "; ".join(f"{k} ({v})" for k, v in report.rejected_reasons.items()) + ".", ""]
    lines += [
        "## Scores",
        "",
        "Every image was re-analysed: the face landmarker must find the face; the FER ensemble (face-api + "
        "mini-Xception) gives the probability of the requested emotion; the landmarker's blendshapes are "
        "compared with the request (mean absolute error over 19 reliably read channels); a face descriptor "
        "gives the cosine to the portrait. Thresholds:",
        "",
        "```yaml",
        yaml.safe_dump(spec.to_dict()["quality"], sort_keys=False).rstrip(),
        "```",
        "",
        "| score | decision | n | 5 % | median | 95 % |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for key, title in SCORES:
        for decision in DECISIONS:
            values = data.scores[key][decision]
            if values:
                lines.append(f"| {title} | {decision} | {_quantiles(values)} |")
    if hist:
        lines += ["", "![score distributions](card/scores.png)"]
    if grid:
        lines += ["", "## Examples", "", "First images of each label (under each: the intensity, or the requested "
                  "emotion of a relabelled image).", "", "![examples](card/examples.png)"]  # fmt: skip
    lines += [
        "",
        "## Identities",
        "",
        f"{identities.files_found} image(s) found, {len(identities.identities)} used, "
        f"{len(identities.skipped)} skipped ({len(identities.duplicates)} duplicate(s)).",
        "",
    ]
    if identities.identities:
        lines += ["| identity | file | split |", "|---|---|---|"]
        lines += [f"| {i.id} | {i.name} | {i.split} |" for i in identities.identities]
        lines.append("")
    if identities.skipped:
        lines += ["| skipped file | reason |", "|---|---|"]
        lines += [f"| {s.path.name} | {s.reason} |" for s in identities.skipped]
        lines.append("")
    lines += [
        "## Columns of metadata.jsonl",
        "",
        "- `file_name`, `label` (the final class: the folder), `decision` (kept / relabelled), `reason`;",
        "- `requested_emotion`, `intensity` (0 for neutral), `action_units` (AU01…AU45 intensities asked for), "
        "`arkit` (the 52 ARKit weights drawn, in ARKit order, see below), `valence` / `arousal` (the requested "
        "emotion's circumplex point × intensity);",
        "- `head_yaw`, `head_pitch`, `head_roll` (degrees, relative to the portrait's own pose `portrait_head`), "
        "`gaze_yaw`, `gaze_pitch` (degrees); for a mirrored image (`flipped`) the labels are mirrored too;",
        "- `identity`, `identity_file`, `split`, `job_id`, `seed`, `augment` (the exact augmentation values);",
        "- scores: `fer_top`, `fer_probability` (of the requested emotion), `fer_probabilities` (7 classes in the "
        "order " + ", ".join(EMOTIONS) + "), `valence_derived` / `arousal_derived` (from the FER probabilities, "
        "not measured), `identity_cosine`, `blendshape_error`, `detected_head`; `image_sha256`.",
        "",
        "ARKit order: " + ", ".join(ARKIT_NAMES) + ".",
        "",
        "## Limitations",
        "",
        "- Faces are 2D warps of real photos: large head turns compress the far side of the face, and the "
        "photo's own expression can show through (the FER check catches much of it, not all of it).",
        "- Labels from the FER check inherit that model's biases; relabelled images carry the model's opinion.",
        "- The identities' portraits keep their own licences; check them before sharing this dataset.",
        "",
        "## Spec",
        "",
        "```yaml",
        spec.to_yaml().rstrip(),
        "```",
        "",
    ]
    if extra_files:
        lines += ["## Files", ""] + [f"- `{p.relative_to(out_dir)}`" for p in extra_files.values()] + [""]
    path = out_dir / "README.md"
    with atomic_write(path, "w") as f:
        f.write("\n".join(lines))
    files["card"] = path
    return files


class ParquetExport:
    """`parquet/<split>.parquet`: the images (PNG bytes, `image.bytes`) and every metadata column, written
    in row groups as records stream by. `datasets.load_dataset("parquet", data_files={"train":
    "OUT/parquet/train.parquet"})` reads it (cast `image` with `datasets.Image()`)."""

    def __init__(self, out_dir: Path, rows_per_group: int = 256):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise AffectStudioError("parquet: true needs pyarrow (pip install pyarrow)") from None
        self._pa, self._pq = pa, pq
        self.out_dir = out_dir
        self.rows_per_group = rows_per_group
        self._writers: dict[str, object] = {}
        self._temporary: dict[str, Path] = {}  # split -> the file its writer fills
        self._rows: dict[str, list[dict]] = {}
        self.files: dict[str, Path] = {}

    def add(self, record: dict) -> None:
        if record["decision"] == "rejected":
            return
        row = {k: v for k, v in record.items() if k != "image_path"}
        png = (self.out_dir / record["image_path"]).read_bytes()
        rows = self._rows.setdefault(record["split"], [])
        rows.append({"image": {"bytes": png, "path": record["image_path"]}, **row})
        if len(rows) >= self.rows_per_group:
            self._flush(record["split"])

    def _flush(self, split: str) -> None:
        rows = self._rows.pop(split, [])
        if not rows:
            return
        writer = self._writers.get(split)
        table = self._pa.Table.from_pylist(rows, schema=writer.schema if writer is not None else None)
        if writer is None:
            path = check_writable(self.out_dir / "parquet" / f"{split}.parquet")
            tmp = temporary_file(path)  # renamed into place by close(): whole or not at all
            writer = self._pq.ParquetWriter(str(tmp), table.schema, compression="zstd")
            self._writers[split] = writer
            self._temporary[split] = tmp
            self.files[f"parquet_{split}"] = path
        writer.write_table(table)

    def close(self) -> dict[str, Path]:
        try:
            for split in list(self._rows):
                self._flush(split)
            for split, writer in self._writers.items():
                writer.close()
                path = self.files[f"parquet_{split}"]
                os.replace(self._temporary[split], path)
        except OSError as error:
            raise OutputFileError(self.out_dir / "parquet", describe_os_error(error)) from None
        return self.files


def write_report(path: Path, report: YieldReport, identities: IdentitySet, total_jobs: int, done_jobs: int) -> Path:
    """`report.json`: the yield report and the identities, as data (no timings, so reruns write the same)."""
    data = {
        "total_jobs": total_jobs,
        "done_jobs": done_jobs,
        "complete": done_jobs == total_jobs,
        **report.to_dict(),
        "identities": [{"id": i.id, "file": i.name, "split": i.split} for i in identities.identities],
        "skipped_identities": [
            {"file": s.path.name, "reason": s.reason, "duplicate_of": s.duplicate_of.name if s.duplicate_of else None}
            for s in identities.skipped
        ],
    }
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    return path
