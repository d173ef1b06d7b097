"""Writing a dataset so that a run killed at any moment can be restarted into exactly the same result.

Layout (Hugging Face `imagefolder`; `datasets.load_dataset("imagefolder", data_dir=OUT)` loads it):

    OUT/<split>/<label>/<job id>.png        kept and relabelled images, filed under their final label
    OUT/<split>/metadata.jsonl              one line per image, in job order: labels, scores, decision
    OUT/rejected.jsonl                      the rejected samples' records (and OUT/rejected/<emotion>/*.png
                                            when the spec keeps rejected images)
    OUT/.synth/state.json                   the spec and identities the folder was made from
    OUT/.synth/records/<id[:2]>/<id>.json   each finished job's record
    OUT/.synth/manifest.txt                 finished job ids, one per line, in job order

Per job, in this order: the image (atomically: a temporary file, then a rename), then its record (same),
then its id is appended to the manifest. Only ids in the manifest are done; on restart a torn last line is
dropped, temporary files are removed, and unfinished jobs are simply made again (same bytes, same paths).
`metadata.jsonl` is rebuilt from the records at the end of every run, so it can never hold a duplicate or
miss a line, and images no finished record names are removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from generation.synthetic.spec import COSMETIC_FIELDS
from generation.synthetic.worker import JobResult
from rigs.atomic import atomic_write, check_writable_folder, describe_os_error
from rigs.errors import OutputFileError

log = logging.getLogger(__name__)

STATE_DIR = ".synth"
STATE_FORMAT = 1
_JOB_ID = re.compile(r"^[0-9a-f]{16}$")


def image_relpath(record: dict) -> str:
    """Where a record's image goes, relative to OUT: `<split>/<label>/<id>.png`, or under `rejected/`."""
    if record["decision"] == "rejected":
        return f"rejected/{record['requested_emotion']}/{record['job_id']}.png"
    return f"{record['split']}/{record['label']}/{record['job_id']}.png"


class DatasetWriter:
    """Owns OUT: `open(state)` -> finished job ids; `write(result)` per job, in job order; `finish(ids)`."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.state_dir = self.out_dir / STATE_DIR
        self.manifest_path = self.state_dir / "manifest.txt"
        self._manifest = None

    # -- start ------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Before any work: OUT can be written, and is new, empty or a synth folder (else one-line error)."""
        check_writable_folder(self.out_dir)  # the state folder is made when the run starts
        if not (self.state_dir / "state.json").exists():
            visible = sorted(p.name for p in self.out_dir.iterdir() if p.name != STATE_DIR)
            if visible:
                raise OutputFileError(
                    self.out_dir, f"is not empty ({', '.join(visible[:3])}...) and was not made by synth"
                )

    def open(self, state: dict) -> list[str]:
        """Claim OUT for the run described by `state` (JSON data with a `fingerprint`) and return the ids
        already finished, in the order they finished. OUT must be new, empty, or made by the same spec
        from the same identities."""
        self.check()
        state_file = self.state_dir / "state.json"
        if state_file.exists():
            try:
                old = json.loads(state_file.read_text())
            except (OSError, ValueError):
                old = {}
            if old.get("fingerprint") != state["fingerprint"]:
                raise OutputFileError(
                    self.out_dir,
                    f"was started by a different run ({_differences(old, state)}); write to a new folder, or delete "
                    "this one to start again",
                )
        else:
            with atomic_write(state_file, "w") as f:
                json.dump(state, f, indent=1, sort_keys=True)
                f.write("\n")
        self._remove_temporary_files()
        done = self._finished_ids()
        with atomic_write(self.manifest_path, "w") as f:  # a clean copy: no torn last line to append after
            f.write("".join(f"{job_id}\n" for job_id in done))
        try:
            self._manifest = open(self.manifest_path, "a", encoding="ascii")  # noqa: SIM115 (kept open for the run)
        except OSError as error:
            raise OutputFileError(self.manifest_path, describe_os_error(error)) from None
        return done

    def _remove_temporary_files(self) -> None:
        for tmp in self.out_dir.rglob(".*.part"):
            tmp.unlink(missing_ok=True)

    def _finished_ids(self) -> list[str]:
        """Manifest ids whose record (and image, if it has one) is on disk, without duplicates."""
        if not self.manifest_path.exists():
            return []
        done, seen = [], set()
        text = self.manifest_path.read_text(encoding="ascii", errors="replace")
        lines = text.split("\n")
        for line in lines[:-1]:  # the part after the last newline is a torn write: not done
            if not _JOB_ID.match(line) or line in seen:
                continue
            record = self.read_record(line)
            if record is None:
                continue
            path = record.get("image_path")
            if path and not (self.out_dir / path).is_file():
                continue
            seen.add(line)
            done.append(line)
        return done

    # -- per job ----------------------------------------------------------------------------------------

    def record_path(self, job_id: str) -> Path:
        return self.state_dir / "records" / job_id[:2] / f"{job_id}.json"

    def read_record(self, job_id: str) -> dict | None:
        try:
            return json.loads(self.record_path(job_id).read_text())
        except (OSError, ValueError):
            return None

    def write(self, result: JobResult) -> None:
        """Image, then record, then manifest line. Raises `OutputFileError` (e.g. disk full): the jobs
        written before are done, this one is not. (`open` removed killed runs' temporary files once, so
        each write skips that scan of its folder.)"""
        record = dict(result.record)
        if result.png is not None:
            record["image_path"] = image_relpath(record)
            with atomic_write(self.out_dir / record["image_path"], remove_stale=False) as f:
                f.write(result.png)
        with atomic_write(self.record_path(result.job.id), "w", remove_stale=False) as f:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")
        try:
            self._manifest.write(f"{result.job.id}\n")
            self._manifest.flush()
        except OSError as error:
            raise OutputFileError(self.manifest_path, describe_os_error(error)) from None

    def close(self) -> None:
        if self._manifest is not None:
            try:
                self._manifest.close()
            except OSError:
                pass  # a full disk: the ids that made it are what is done
            self._manifest = None

    # -- end of a run -----------------------------------------------------------------------------------

    def records(self, job_ids: Iterable[str]) -> Iterator[dict]:
        for job_id in job_ids:
            record = self.read_record(job_id)
            if record is None:
                raise OutputFileError(self.record_path(job_id), "record missing or unreadable")
            yield record

    def finish(self, ordered_ids: Iterable[str], consumers: Iterable[Callable[[dict], None]] = ()) -> dict[str, Path]:
        """Rebuild `<split>/metadata.jsonl` and `rejected.jsonl` from the records of `ordered_ids` (the
        finished jobs, in job order), in one streaming pass that also hands every record to `consumers`
        (the report, the card, parquet); then remove images and records that no finished job names."""
        consumers = list(consumers)
        keep_images: set[Path] = set()
        done: set[str] = set()
        outputs: dict[str, IO] = {}
        files: dict[str, Path] = {}
        with contextlib.ExitStack() as stack:

            def output(key: str, path: Path) -> IO:
                if key not in outputs:
                    outputs[key] = stack.enter_context(atomic_write(path, "w"))
                    files[key] = path
                return outputs[key]

            output("rejected", self.out_dir / "rejected.jsonl")
            for record in self.records(ordered_ids):
                done.add(record["job_id"])
                for consume in consumers:
                    consume(record)
                image = record.get("image_path")
                if image:
                    keep_images.add(self.out_dir / image)
                line = {k: v for k, v in record.items() if k != "image_path"}
                if record["decision"] == "rejected":
                    if image:
                        line = {"file_name": image, **line}  # relative to OUT
                    output("rejected", files["rejected"]).write(json.dumps(line, separators=(",", ":")) + "\n")
                    continue
                line = {"file_name": image.split("/", 1)[1], **line}  # relative to the split folder
                split = record["split"]
                target = output(f"metadata_{split}", self.out_dir / split / "metadata.jsonl")
                target.write(json.dumps(line, separators=(",", ":")) + "\n")
        for stale in self.out_dir.glob("*/metadata.jsonl"):
            if f"metadata_{stale.parent.name}" not in files:
                stale.unlink()
        self._remove_strays(keep_images, done)
        return files

    def _remove_strays(self, keep_images: set[Path], done: set[str]) -> None:
        """Images and records of unfinished jobs (a killed run, a `--limit`) go: not done means not there."""
        for folder in self.out_dir.iterdir():
            if folder.name == STATE_DIR or not folder.is_dir():
                continue
            for png in folder.rglob("*.png"):
                if png not in keep_images and png.parent.parent.parent == self.out_dir:
                    log.info("removing %s (its job is not finished)", png)
                    png.unlink()
            for sub in sorted(folder.rglob("*"), reverse=True):
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
        records = self.state_dir / "records"
        if records.is_dir():
            for path in records.rglob("*.json"):
                if path.stem not in done:
                    path.unlink()


def _differences(old: dict, new: dict) -> str:
    """What changed between two run states, in a few words."""
    keys = sorted((set(old.get("spec", {})) | set(new.get("spec", {}))) - set(COSMETIC_FIELDS))
    changed = [k for k in keys if old.get("spec", {}).get(k) != new.get("spec", {}).get(k)]
    old_ids, new_ids = set(old.get("identities", [])), set(new.get("identities", []))
    parts = []
    if old.get("software") and old.get("software") != new.get("software"):
        parts.append("the software changed: this project's code, its models or library versions; the rest would not "
                     "match the images made so far, so finish with the earlier version")  # fmt: skip
    if changed:
        parts.append(f"changed: {', '.join(changed)}")
    if old_ids != new_ids:
        parts.append(f"identities: {len(new_ids - old_ids)} added, {len(old_ids - new_ids)} removed")
    return "; ".join(parts) or "unreadable state"


def free_bytes(path: Path) -> int | None:
    """Free space where `path` is (or would be) created; None if unknown."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                stats = os.statvfs(candidate)
            except OSError:
                return None
            return stats.f_bavail * stats.f_frsize
    return None
