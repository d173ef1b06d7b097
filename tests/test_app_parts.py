"""The web app's own small parts, without a server: the emotion picker's specs, the workspace's cleaning,
one-line messages, the CLI tables as page tables, the synthetic form's AU field, the thread-safe analyzer."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import numpy as np
import pytest

from recognition.emotion_spec import parse_emotion_spec
from rigs.errors import AffectStudioError, InputFileError
from studio.web.controls import AUTO, CLASS, TIMELINE, VA, emotion_text, nearest_emotion
from studio.web.jobs import Job, JobCancelled, Workspace, run_job, table_rows, user_message
from studio.web.models import LockedFaceAnalyzer
from studio.web.synthetic_tab import parse_action_units


def test_the_emotion_picker_writes_the_clis_specs():
    assert emotion_text(CLASS, "happy", 0.8, 0, 0, "") == "happy:0.80"
    assert emotion_text(VA, "happy", 0.8, -0.5, 0.25, "") == "va:-0.5,0.25"
    assert emotion_text(TIMELINE, "happy", 0.8, 0, 0, " 0s:neutral, 2s:sad:0.5 ") == "0s:neutral, 2s:sad:0.5"
    assert emotion_text(AUTO, "happy", 0.8, 0, 0, "") == "auto"
    for mode in (CLASS, VA, TIMELINE, AUTO):  # every mode's output parses
        parse_emotion_spec(emotion_text(mode, "surprised", 1.0, 0.6, 0.4, "0s:neutral,1s:happy"))
    with pytest.raises(AffectStudioError, match="keyframes"):
        emotion_text(TIMELINE, "happy", 0.8, 0, 0, "  ")
    assert nearest_emotion(0.83, 0.53) == "happy" and nearest_emotion(-0.65, -0.27) == "sad"


def test_workspace_deletes_old_job_folders_and_itself(tmp_path):
    workspace = Workspace(keep_s=60)
    try:
        old, new = workspace.new_folder("talk"), workspace.new_folder("rig")
        assert old.parent == workspace.outputs and old.name.startswith("talk-")
        stale = time.time() - 3600
        os.utime(old, (stale, stale))
        assert workspace.sweep() == 1 and not old.exists() and new.exists()
        copies = workspace.copy_samples(["portrait.png"])
        assert copies["portrait.png"].parent == workspace.samples
    finally:
        workspace.close()
    assert not workspace.root.exists()
    kept = Workspace(tmp_path / "mine")
    kept.close()
    assert (tmp_path / "mine").exists()  # a folder the user chose is never deleted


def test_messages_name_the_file_not_the_server_path(tmp_path):
    error = InputFileError("/tmp/gradio/0123abcd/holiday.png", "no face found in the 1024x768 image")
    assert user_message(error) == "holiday.png: no face found in the 1024x768 image"
    hidden = AffectStudioError(f"cannot write {tmp_path}/outputs/x.mp4\nsecond line")
    assert user_message(hidden, [tmp_path]) == "cannot write outputs/x.mp4"


def test_job_progress_notices_cancellation():
    reports = []
    job = Job(folder=None, progress=lambda fraction, desc: reports.append((round(fraction, 2), desc)))
    frames = job.frames("rendering frame", 0.1, 0.9)
    frames(10, 10)
    assert reports[-1] == (0.9, "rendering frame 10/10")
    job.stopped.set()
    with pytest.raises(JobCancelled):
        frames(1, 10)


def test_a_job_keeps_its_own_warnings_for_the_page(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    pipeline_log = logging.getLogger("generation.talking_face.pipeline")

    def work(job):
        pipeline_log.warning("%s: the mouth looks covered", "/tmp/gradio/0123abcd/hand.png")
        logging.getLogger("urllib3").warning("a library's own chatter")  # not the studio's
        other = threading.Thread(target=lambda: pipeline_log.warning("another job's warning"))
        other.start()
        other.join()
        return job.warnings

    handlers = list(logging.getLogger().handlers)
    try:
        assert asyncio.run(run_job(workspace, "talk", work)) == ["hand.png: the mouth looks covered"]
        assert logging.getLogger().handlers == handlers  # the collector is gone with the job
    finally:
        workspace.close()


def test_cli_tables_become_page_tables():
    from rich.table import Table

    table = Table()
    table.add_column("measure")
    table.add_column("value\n(unit)")
    table.add_row("[bold]jitter[/]", "0.004")
    assert table_rows(table) == (["measure", "value (unit)"], [["jitter", "0.004"]])


def test_action_unit_field():
    assert parse_action_units("") == [{}]
    assert parse_action_units("AU25:0.5; AU12:0.8 AU6") == [{}, {"AU25": 0.5}, {"AU12": 0.8, "AU6": 1.0}]
    with pytest.raises(AffectStudioError, match="cannot read 'smile'"):
        parse_action_units("smile")


class _ConcurrencyProbe:
    """A stand-in analyzer that records how many calls overlap (a landmarker is not thread-safe)."""

    def __init__(self):
        self.inside = self.peak = 0
        self._count = threading.Lock()

    def __call__(self, image):
        with self._count:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
        time.sleep(0.05)
        with self._count:
            self.inside -= 1
        return []


def test_the_shared_analyzer_serialises_still_images(face_analyzer, portrait):
    probe = _ConcurrencyProbe()
    locked = LockedFaceAnalyzer(probe)
    threads = [threading.Thread(target=locked, args=(portrait,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert probe.peak == 1  # one call at a time through the lock

    shared = LockedFaceAnalyzer(face_analyzer)
    results = []

    def detect():
        results.append(len(shared(portrait)))

    threads = [threading.Thread(target=detect) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1, 1, 1, 1]
    frames = [(i / 25, portrait) for i in range(3)]
    assert [len(faces) for _, _, faces in shared.track(frames)] == [1, 1, 1]
    assert shared.config is face_analyzer.config and shared(np.zeros((64, 64, 3), np.uint8)) == []
