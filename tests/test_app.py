"""The web app (`app.py`, `studio/web/`): every endpoint through `gradio_client` with the bundled samples,
one-line errors, cancellation, what the server refuses to serve, and a real browser (Debian's chromium,
driven by Playwright) generating a talking face and playing it.

One app is started in this process on a free loopback port and shared by every test of this module.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import time
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from recognition.image_io import load_image
from recognition.video import iter_frames
from rigs.assets import sample_path
from rigs.emotions import EMOTIONS
from rigs.export import available_formats
from tests.test_mouth_cover import covered
from tests.test_talk import two_faces

PORTRAIT = sample_path("portrait.png")
SPEECH = sample_path("speech.wav")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENS = Path("/tmp/app_screens")
# Gradio's own queue code trips pandas 3 deprecations; nothing to act on here.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def studio():
    """The app, launched in this process on a free loopback port; closed (workspace deleted) at the end."""
    from studio.web import StudioSettings, build_app

    demo = build_app(StudioSettings(max_upload_mb=5, workers=2))
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    yield demo
    demo.close()


@pytest.fixture(scope="module")
def client(studio) -> Client:
    return Client(studio.local_url, verbose=False)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 2 s of the sample speech (short videos keep the module fast)."""
    samples, rate = soundfile.read(SPEECH, dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "clip.wav"
    soundfile.write(path, samples[: 2 * rate], rate)
    return path


def talk(client: Client, portrait=PORTRAIT, audio=None, **options):
    """Call the talking-face endpoint with the page's defaults, a 256 px face and the given options."""
    values = {"portrait": handle_file(str(portrait)), "audio": handle_file(str(audio)) if audio else None,
              "resolution": 256, **options}  # fmt: skip
    return client.predict(api_name="/talking_face", **values)


def video_facts(path) -> tuple[int, float, str, str]:
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        return (frames, container.duration / av.time_base, container.streams.video[0].codec_context.name,
                container.streams.audio[0].codec_context.name)  # fmt: skip


def error_of(call) -> str:
    """The message the page shows for a failing call: one line, no traceback, no server paths."""
    with pytest.raises(AppError) as caught:
        call()
    message = str(caught.value)
    assert len(message.strip().splitlines()) == 1, message
    assert "Traceback" not in message and "/tmp/" not in message, message
    return message


@pytest.fixture(scope="module")
def talked(client, clip):
    """One talking face from the sample portrait and 2 s of the sample speech, happy, scored."""
    return talk(client, audio=clip, mode="Emotion + intensity", emotion_class="happy", intensity=0.8, score=True)


# -- endpoints ---------------------------------------------------------------------------------------------


def test_api_lists_one_endpoint_per_job(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/talking_face", "/rig_curves", "/analyze", "/synthetic_preview", "/synthetic_run"} <= set(endpoints)


def test_talking_face_from_portrait_and_speech(talked):
    video, summary, score, score_plot, curves_plot, files = talked
    frames, duration, vcodec, acodec = video_facts(video)
    assert (vcodec, acodec) == ("h264", "aac")
    assert duration == pytest.approx(2.0, abs=0.2) and frames == pytest.approx(50, abs=2)
    assert "emotion `happy:0.80`" in summary and "Emotion readable" in summary and "⚠" not in summary
    measures = [row[0].strip() for row in score["data"]]
    assert {"face found", "motion fidelity", "Acc_emo", "identity (CSIM)", "lip-sync lag"} <= set(measures)
    assert Path(score_plot).stat().st_size > 10_000 and Path(curves_plot).stat().st_size > 10_000
    names = [Path(f).name for f in files]
    assert names[0] == "talking_face_all.zip"
    assert {"talking_face.mp4", "talking_face.score.json", "talking_face.glb", "talking_face.csv",
            "talking_face.metahuman.csv", "talking_face.json", "talking_face.tsv"} <= set(names)  # fmt: skip


def test_the_crease_slider_reaches_the_renderer(client, clip):
    """Disgust with expression creases at 1 and at 0, everything else equal: only the creases differ."""
    def frames(wrinkles: float) -> np.ndarray:
        video, *_ = talk(client, audio=clip, mode="Emotion + intensity", emotion_class="disgusted", intensity=1.0,
                         score=False, head_motion=0, blink_rate=0, wrinkles=wrinkles)  # fmt: skip
        return np.stack([frame for _, frame in iter_frames(video)]).astype(np.int16)

    creased, plain = frames(1.0), frames(0.0)
    assert creased.shape == plain.shape
    assert np.abs(creased - plain).max() > 40  # folds, not encoder noise
    assert creased.mean() < plain.mean()  # creases only darken (their lit ridges are faint)


def test_a_close_up_of_the_second_face_of_two(client, clip, tmp_path):
    group = tmp_path / "two.png"
    Image.fromarray(two_faces()).save(group)
    video, summary, *_ = talk(client, portrait=group, audio=clip, score=False, framing="face", face_number=2)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (256, 256)  # the face resolution
    assert "2 faces found; animating #2" in summary


def test_talking_face_from_typed_text_with_a_timeline_unscored(client, face_analyzer, tmp_path):
    """...on a portrait with a hand over the mouth: made all the same, with the warning in the summary."""
    picture = load_image(PORTRAIT)
    hand = tmp_path / "hand.png"
    Image.fromarray(covered(picture, face_analyzer(picture)[0].landmarks, "cheek")).save(hand)
    video, summary, score, score_plot, _, files = talk(
        client, portrait=hand, text="Hi there!", mode="Timeline", timeline="0s:neutral, 0.5s:surprised:0.9",
        score=False, head_motion=0, blink_rate=0, fps=30,
    )  # fmt: skip
    frames, duration, *_ = video_facts(video)
    assert duration > 0.5 and frames == pytest.approx(duration * 30, abs=2)
    assert "Not scored" in summary and not score["data"] and score_plot is None
    assert summary.splitlines()[-1] == (
        "⚠ hand.png: the mouth looks covered (the lips are no redder than the skin around them); the moving "
        "mouth is drawn over whatever covers it"
    )
    assert "talking_face.score.json" not in [Path(f).name for f in files]


def test_rig_curves_from_speech_as_a_valence_arousal_point(client, clip):
    glb, plot, summary, speech, files = client.predict(
        api_name="/rig_curves", audio=handle_file(str(clip)), mode="Valence / arousal", valence=0.6, arousal=0.4,
        fps=30,
    )  # fmt: skip
    assert Path(glb).suffix == ".glb" and Path(glb).read_bytes()[:4] == b"glTF"
    assert "va:0.6,0.4" in summary and "60 frames at 30 fps" in summary
    names = {Path(f).name for f in files}
    assert {"clip.csv", "clip.metahuman.csv", "clip.glb", "clip.json", "clip.tsv", "clip.rhubarb.json"} <= names
    assert len(names) == len(available_formats()) + 1  # + the zip
    assert Path(speech).name == "clip.wav" and Path(plot).stat().st_size > 10_000


def test_rig_curves_from_text_in_chosen_formats(client):
    glb, _, summary, speech, files = client.predict(
        api_name="/rig_curves", audio=None, text="Bob bought a big pie.", mode="From the speech", formats=["livelink"],
    )  # fmt: skip
    assert Path(glb).read_bytes()[:4] == b"glTF"  # the preview works without the glTF download
    assert {Path(f).name for f in files} == {"speech_curves_all.zip", "speech.csv", "speech.wav"}
    assert "emotion `auto`" in summary and "read from the speech" in summary
    samples, rate = soundfile.read(speech)
    assert rate == 16000 and len(samples) > 8000


def test_analyze_image(client):
    summary, image, video, plots, table, files = client.predict(
        api_name="/analyze", path=handle_file(str(PORTRAIT)), transcript="", max_faces=5
    )
    assert "1 face(s)" in summary and "derived" in summary
    assert Path(image).name == "portrait_faces.png" and video is None
    assert len(plots) == 2 and all(Path(p["image"]).stat().st_size > 5000 for p in plots)
    assert table["headers"] == ["", "face #1"] and "emotion (top 3)" in [row[0] for row in table["data"]]
    assert "portrait_analysis.json" in {Path(f).name for f in files}


def test_analyze_video(client, talked):
    summary, image, video, plots, table, files = client.predict(
        api_name="/analyze", path=handle_file(talked[0]), transcript="", max_faces=5
    )
    assert "50 frames" in summary or "51 frames" in summary
    assert image is None and video_facts_video_only(video)[0] >= 49
    assert [p["caption"] for p in plots] == [
        "emotion over time", "valence / arousal trajectory (derived)", "blendshapes over time",
    ]  # fmt: skip
    assert table["data"][0][0] == "100% of frames"


def video_facts_video_only(path) -> tuple[int, str]:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0)), container.streams.video[0].codec_context.name


def test_analyze_speech_with_its_transcript(client, clip):
    summary, image, video, plots, table, files = client.predict(
        api_name="/analyze", path=handle_file(str(clip)), transcript="Hello! I'm so glad", max_faces=5
    )
    assert "2.0 s" in summary and "aligned" in summary
    assert image is None and video is None and len(plots) == 2
    assert "phones" in [row[0] for row in table["data"]]


# -- mistakes show as one line ---------------------------------------------------------------------------


def test_bad_inputs_give_one_line_errors(client, clip, tmp_path):
    wall = tmp_path / "wall.png"
    from PIL import Image

    Image.fromarray(np.full((200, 200, 3), 170, np.uint8)).save(wall)
    assert "wall.png: no face found" in error_of(lambda: talk(client, portrait=wall, audio=clip))
    corrupt = tmp_path / "noise.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 50)
    assert error_of(lambda: talk(client, audio=corrupt)).startswith("noise.wav: ")
    message = error_of(lambda: talk(client, audio=clip, mode="Timeline", timeline="0s:happy, 1s:gleeful"))
    assert "unknown emotion 'gleeful'" in message
    assert "add speech" in error_of(lambda: talk(client))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert "broken.png: not an image" in error_of(lambda: talk(client, portrait=broken, audio=clip))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    message = error_of(lambda: client.predict(api_name="/analyze", path=handle_file(str(notes)), transcript=""))
    assert "Invalid file type" in message and ".wav" in message  # Gradio checks the Analyze upload's type


def test_a_cancelled_job_stops_its_worker(studio, client):
    """Cancelling frees the CPU: the worker notices at its next progress report and deletes its folder."""
    outputs = studio.studio.workspace.outputs
    before = set(outputs.glob("talk-*"))
    job = client.submit(api_name="/talking_face", portrait=handle_file(str(PORTRAIT)), audio=handle_file(str(SPEECH)),
                        resolution=512, score=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (set(outputs.glob("talk-*")) - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    mine = set(outputs.glob("talk-*")) - before
    assert mine, "the job never started"
    time.sleep(1.0)
    job.cancel()
    while any(folder.exists() for folder in mine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(folder.exists() for folder in mine), "the cancelled job kept running"


# -- what the server refuses ------------------------------------------------------------------------------


def fetch(studio, raw_path: str) -> int:
    """Status of GET `raw_path` sent as is (no client-side normalisation of `..`)."""
    host, port = studio.server_name, studio.server_port
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", raw_path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_only_the_apps_own_files_are_served(studio, talked, tmp_path):
    from gradio.utils import get_upload_folder

    served = Path(talked[0])  # a result, in Gradio's cache of this app's outputs
    assert fetch(studio, f"/gradio_api/file={served}") == 200
    assert fetch(studio, f"/gradio_api/file={studio.studio.workspace.samples / 'portrait.png'}") == 200  # allowed
    assert fetch(studio, "/gradio_api/file=/etc/passwd") in (403, 404)
    assert fetch(studio, f"/gradio_api/file={served.parent}/../../../etc/passwd") in (403, 404)
    assert fetch(studio, f"/gradio_api/file={served.parent}/%2e%2e/%2e%2e/%2e%2e/etc/passwd") in (403, 404)
    assert fetch(studio, "/gradio_api/file=../../../../etc/passwd") in (403, 404)
    assert fetch(studio, f"/gradio_api/file={sample_path('speech.txt')}") in (403, 404)  # the repo is not served
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    links = [studio.studio.workspace.outputs / "link-out.txt", Path(get_upload_folder()) / "link-out-test.txt"]
    try:
        for link in links:
            link.symlink_to(secret)
            assert fetch(studio, f"/gradio_api/file={link}") in (403, 404), link
    finally:
        for link in links:
            link.unlink(missing_ok=True)


def test_upload_size_limit(studio):
    big = b"0" * (6 * 1024 * 1024)
    boundary = "studio-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
    connection = http.client.HTTPConnection(studio.server_name, studio.server_port, timeout=30)
    try:
        connection.request("POST", "/gradio_api/upload", body,
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
        assert connection.getresponse().status == 413
    finally:
        connection.close()


def test_loopback_by_default_no_share_no_analytics(studio):
    import importlib.util

    from studio.web import StudioSettings

    spec = importlib.util.spec_from_file_location("studio_app_main", Path(__file__).parents[1] / "app.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    args = entry.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    assert (StudioSettings().host, StudioSettings().share) == ("127.0.0.1", False)
    assert studio.server_name == "127.0.0.1" and studio.share_url is None
    assert studio.analytics_enabled is False and os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert studio.allowed_paths == [str(studio.studio.workspace.root)]


# -- a real browser ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_browser_generates_a_talking_face_and_plays_it(studio, clip, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            page.goto(studio.local_url)
            page.locator("#talk-generate").wait_for(timeout=30_000)
            page.locator("#talk-portrait input[type=file]").set_input_files(str(PORTRAIT))
            page.locator("#talk-audio input[type=file]").set_input_files(str(clip))
            page.locator("#talk-portrait img").first.wait_for(timeout=15_000)
            page.locator("#talk-emotion-class input").click()
            page.get_by_role("option", name="surprised").click()
            page.locator("#talk-options").get_by_text("Motion and quality").click()
            page.locator("#talk-resolution").get_by_text("256", exact=True).click()
            page.locator("#talk-generate").click()

            video = page.locator("#talking-face-video video")
            video.wait_for(timeout=120_000)
            ready = "() => document.querySelector('#talking-face-video video')?.readyState >= 2"
            page.wait_for_function(ready, timeout=30_000)
            start = video.evaluate("v => { v.muted = true; v.play(); return v.currentTime; }")
            page.wait_for_function(
                f"() => document.querySelector('#talking-face-video video').currentTime > {start} + 0.3",
                timeout=15_000,
            )
            assert video.evaluate("v => v.duration") == pytest.approx(2.0, abs=0.25)
            summary = page.locator("#talk-summary").inner_text()
            assert "surprised" in summary and "Emotion readable" in summary
            shot = tmp_path / "talking_face.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
            SCREENS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, SCREENS / "talking_face.png")
        finally:
            browser.close()


# -- synthetic data ---------------------------------------------------------------------------------------

SYNTH = {"uploads": None, "action_units": "", "yaw": 8, "pitch": 5, "roll": 5, "augment": True, "seed": 0}


def test_synthetic_preview_streams_scored_images(client):
    grid, summary = client.predict(
        api_name="/synthetic_preview", emotions=["happy", "surprised"], intensities=[1.0], images_per_cell=1,
        resolution=128, **SYNTH,
    )  # fmt: skip
    assert "4 images" in summary and "2 usable portrait(s)" in summary
    assert "cameraman.png: the face is turned" in summary  # the bundled profile portrait is skipped, and said so
    assert len(grid) == 4
    assert all(re.fullmatch(r"(happy|surprised) 1 (✓|✗|→ \w+)", item["caption"]) for item in grid), grid


def test_synthetic_small_run_is_a_zip_larger_runs_get_the_command(client):
    grid, summary, table, files = client.predict(
        api_name="/synthetic_run", emotions=["neutral", "happy"], intensities=[1.0], images_per_cell=1,
        resolution=128, **{**SYNTH, "action_units": "AU25:0.5"},
    )  # fmt: skip
    assert "from 8 jobs" in summary and "imagefolder" in summary  # 2 portraits × 2 emotions × 2 AU combinations
    assert table["data"][-1][0] == "all" and table["data"][-1][1] == "8"
    with zipfile.ZipFile(files[0]) as archive:
        names = archive.namelist()
    assert "metadata.jsonl" in "\n".join(names) and "README.md" in names
    assert len([n for n in names if n.startswith("train/") and n.endswith(".png")]) == int(table["data"][-1][-1])

    grid, summary, table, files = client.predict(
        api_name="/synthetic_run", emotions=list(EMOTIONS), intensities=[0.3, 0.6, 1.0], images_per_cell=8,
        resolution=128, **SYNTH,
    )  # fmt: skip
    assert grid == [] and "304 images" in summary
    assert "affect-studio synth synth_spec/spec.yaml -o out/synth --workers 2" in summary
    with zipfile.ZipFile(files[0]) as archive:
        assert {"synth_spec/spec.yaml", "synth_spec/identities/000_portrait.png"} <= set(archive.namelist())


def test_synthetic_form_mistakes_are_one_line(client):
    message = error_of(lambda: client.predict(
        api_name="/synthetic_preview", emotions=["happy"], intensities=[1.0], images_per_cell=1, resolution=128,
        **{**SYNTH, "action_units": "AU99:0.5"},
    ))  # fmt: skip
    assert "unknown action unit" in message
    assert "emotions" in error_of(lambda: client.predict(
        api_name="/synthetic_preview", emotions=[], intensities=[1.0], images_per_cell=1, resolution=128, **SYNTH,
    ))  # fmt: skip
