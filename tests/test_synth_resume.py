"""Resuming synthetic-dataset runs: a real `affect-studio synth` killed with SIGKILL and restarted, every
state a kill can leave behind, and a full (then read-only) disk. Each ends byte-identical to an
uninterrupted run, with no duplicates and no gaps."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generation.synthetic import SyntheticDatasetPipeline
from generation.synthetic import writer as writer_module
from rigs.errors import OutputFileError
from tests.synth_fixtures import assert_consistent_dataset, assert_same_tree, make_identities, tiny_spec, write_spec

CLI = [sys.executable, "-c", "from studio.cli import main; main()"]


def resume_spec(identities: Path):
    """2 identities × (neutral + 3 emotions × 2 intensities) × 3 images = 42 jobs."""
    return tiny_spec(identities, emotions=["neutral", "happy", "sad", "surprised"], intensities=[0.5, 1.0],
                     images_per_cell=3)  # fmt: skip


@pytest.fixture(scope="module")
def identities_dir(tmp_path_factory) -> Path:
    return make_identities(tmp_path_factory.mktemp("identities"))


@pytest.fixture(scope="module")
def reference(identities_dir, face_analyzer, tmp_path_factory):
    """The uninterrupted run every interrupted one must end up equal to."""
    with SyntheticDatasetPipeline(resume_spec(identities_dir), analyzer=face_analyzer) as pipeline:
        out = tmp_path_factory.mktemp("reference") / "ds"
        result = pipeline.run(out, workers=1)
        assert result.complete and result.total_jobs == 42
        assert_consistent_dataset(out)
        yield pipeline, out


def _manifest_lines(out: Path) -> int:
    try:
        return (out / ".synth" / "manifest.txt").read_bytes().count(b"\n")
    except OSError:
        return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


def _run_and_kill(args: list, out: Path, after_lines: int, timeout_s: float = 120.0) -> int:
    """Start the CLI, SIGKILL it once the manifest has `after_lines` finished jobs; returns how many it had."""
    process = subprocess.Popen(CLI + [str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    workers: set[int] = set()
    try:
        while _manifest_lines(out) < after_lines:
            workers.update(_children(process.pid))
            if process.poll() is not None:
                pytest.fail(f"synth exited ({process.returncode}) before it could be killed: {process.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("synth made no progress")
            time.sleep(0.01)
        workers.update(_children(process.pid))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # its worker processes do not outlive it
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "worker processes outlived the killed run"
    return _manifest_lines(out)


def test_a_killed_synth_run_resumes_to_the_same_dataset(reference, identities_dir, tmp_path):
    _, ref_out = reference
    spec = write_spec(tmp_path / "spec.json", resume_spec(identities_dir))
    out = tmp_path / "killed"
    # killed twice, with a process pool the first time and in-process the second, then finished
    first = _run_and_kill(["synth", spec, "-o", out, "--workers", "2"], out, after_lines=6)
    assert 6 <= first < 42, first
    second = _run_and_kill(["synth", spec, "-o", out, "--workers", "1"], out, after_lines=first + 1)
    assert first < second < 42, (first, second)
    done = subprocess.run(CLI + ["synth", str(spec), "-o", str(out), "--workers", "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{second} were done by an earlier run" in " ".join(done.stdout.split())
    assert_same_tree(out, ref_out)
    lines = assert_consistent_dataset(out)
    assert len({line["job_id"] for line in lines}) == len(lines)


def test_every_state_a_kill_can_leave_is_cleaned_up(reference, tmp_path):
    """Kills land between any two writes: image written but no record, record written but no manifest
    line, a torn manifest line, a half-written temporary file, no metadata yet."""
    pipeline, ref_out = reference
    out = tmp_path / "crashed"
    pipeline.run(out, workers=1, limit=10)
    jobs = pipeline.jobs()
    records = writer_module.DatasetWriter(ref_out)
    kept = [j for j in jobs[10:] if (records.read_record(j.id) or {}).get("image_path")]
    image_only, record_too = kept[0], kept[1]
    for job in (image_only, record_too):  # their images, as the killed run wrote them
        path = records.read_record(job.id)["image_path"]
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ref_out / path, out / path)
    record_path = records.record_path(record_too.id)
    target = writer_module.DatasetWriter(out).record_path(record_too.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(record_path, target)
    with open(out / ".synth" / "manifest.txt", "a") as manifest:
        manifest.write(record_too.id[:7])  # torn: the process died mid-line
    (out / "train" / "happy").mkdir(parents=True, exist_ok=True)
    (out / "train" / "happy" / ".0123456789abcdef.png.x1y2.part").write_bytes(b"\x89PNG half")
    (out / "train" / "metadata.jsonl").unlink()
    stray = out / "train" / "sad" / "ffffffffffffffff.png"  # an image no finished job names
    stray.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ref_out / records.read_record(image_only.id)["image_path"], stray)

    result = pipeline.run(out, workers=1)
    assert result.resumed_jobs == 10 and result.new_jobs == 32
    assert not stray.exists()
    assert_same_tree(out, ref_out)


@contextlib.contextmanager
def _inject_full_disk(after_images: int):
    """Make the writer's atomic writes fail with ENOSPC after `after_images` images, as a full disk would."""
    real = writer_module.atomic_write
    count = {"png": 0}

    @contextlib.contextmanager
    def failing(path, mode="wb", **options):
        if str(path).endswith(".png"):
            count["png"] += 1
            if count["png"] > after_images:
                raise OutputFileError(path, "no space left on device")
        with real(path, mode, **options) as f:
            yield f

    writer_module.atomic_write = failing
    try:
        yield
    finally:
        writer_module.atomic_write = real


def test_a_full_disk_stops_cleanly_and_the_run_resumes(reference, tmp_path):
    pipeline, ref_out = reference
    out = tmp_path / "full"
    with _inject_full_disk(after_images=7), pytest.raises(OutputFileError) as caught:
        pipeline.run(out, workers=1)
    message = str(caught.value)
    assert "no space left on device; stopped cleanly with" in message and "run the same command again" in message
    assert "\n" not in message
    done = _manifest_lines(out)
    assert 7 <= done < 42
    result = pipeline.run(out, workers=1)
    assert result.resumed_jobs == done and result.complete
    assert_same_tree(out, ref_out)


def test_a_really_full_then_read_only_disk_stops_cleanly_and_resumes(reference, mount_tmpfs):
    small_disk = mount_tmpfs("disk", size="1m")  # a real 1 MB disk
    pipeline, ref_out = reference
    out = small_disk / "ds"
    with pytest.raises(OutputFileError, match="no space left on device; stopped cleanly with"):
        pipeline.run(out, workers=1)
    done = _manifest_lines(out)
    assert 0 < done < 42
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(OutputFileError, match="not writable|read-only file system"):
        pipeline.run(out, workers=1)
    subprocess.run(["mount", "-o", "remount,rw,size=64m", str(small_disk)], check=True)
    result = pipeline.run(out, workers=1)
    assert result.resumed_jobs == done and result.complete
    assert_same_tree(out, ref_out)
