"""`TalkingFacePipeline` and `affect-studio talk`: a real MP4 with audio, and bad inputs."""

import gc
import logging
import weakref

import av
import numpy as np
import pytest
from PIL import Image

from generation.talking_face.pipeline import TalkingFaceConfig, TalkingFacePipeline
from generation.talking_face.refiner import MouthRefinerConfig
from recognition.image_io import load_image
from recognition.tts import synthesize
from rigs.assets import sample_path
from rigs.errors import AffectStudioError, InputFileError
from studio.commands.talk import video_output_path
from studio.scoring import VideoScorer, score_talking_face
from tests.test_cli_analyze import assert_one_line_error, run_cli
from tests.test_mouth_cover import covered

PORTRAIT = sample_path("portrait.png")


@pytest.fixture(scope="module")
def pipeline(face_analyzer):
    return TalkingFacePipeline(TalkingFaceConfig(resolution=256), analyzer=face_analyzer)


def streams(path):
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = sum(1 for _ in container.decode(video=0))
        return frames, video.codec_context.name, audio.codec_context.name, float(container.duration / av.time_base)


def test_text_to_talking_face_mp4(pipeline, tmp_path):
    out = tmp_path / "hello.mp4"
    result = pipeline(PORTRAIT, text="Hello there, my friend.", emotion="happy:0.8", output=out)
    frames, vcodec, acodec, duration = streams(out)
    assert (vcodec, acodec) == ("h264", "aac")
    assert frames == result.motion.num_frames
    assert duration == pytest.approx(result.motion.duration, abs=0.15)
    with av.open(str(out)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first.shape == (512, 512, 3)
    assert not list(tmp_path.glob(".*part*")), "temporary files left behind"


def test_audio_wins_over_text_which_becomes_its_transcript(pipeline, tmp_path, caplog):
    speech = synthesize("Bob bought a big pie.", "espeak:en-us")
    result = pipeline(PORTRAIT, audio=speech.audio, text="Bob bought a big pie.", output=tmp_path / "a.mp4")
    assert result.curves.speech.timeline.method == "aligned"
    assert result.motion.duration == pytest.approx(speech.duration, abs=0.05)


def test_the_portrait_may_be_a_pil_image_or_an_rgba_array(pipeline, tmp_path):
    rgb = load_image(PORTRAIT)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    results = [
        pipeline(portrait, text="Hi.", emotion="neutral", output=tmp_path / f"{i}.mp4")
        for i, portrait in enumerate((PORTRAIT, Image.open(PORTRAIT), rgba, rgb.astype(np.float32) / 255))
    ]
    for other in results[1:]:
        np.testing.assert_allclose(other.face.landmarks, results[0].face.landmarks, atol=1e-4)
    refused = (
        (rgb[:, :, :2], r"got shape \(\d+, \d+, 2\)"),
        (rgb.astype(np.int16), "got int16"),
        (rgb.astype(np.float32), r"in \[0, 1\]; got values up to 255"),
    )
    for bad, problem in refused:
        with pytest.raises(AffectStudioError, match=problem):
            pipeline(bad, text="Hi.", output=tmp_path / "bad.mp4")


def two_faces() -> np.ndarray:
    """The sample portrait (face 0) beside a smaller mirrored copy of it (face 1)."""
    portrait = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    two = np.full((512, 512 + 384, 3), 90, np.uint8)
    two[:, :512] = portrait
    two[64:448, 512:] = np.asarray(Image.fromarray(portrait).resize((384, 384)))[:, ::-1]
    return two


def test_no_face_several_faces_and_profile_limit(pipeline, tmp_path, face_analyzer):
    wall = np.full((300, 300, 3), 180, np.uint8)
    with pytest.raises(InputFileError, match="no face found"):
        pipeline(wall, text="Hi.", output=tmp_path / "x.mp4")
    two = two_faces()
    second = TalkingFacePipeline(TalkingFaceConfig(resolution=256, face_index=1), analyzer=face_analyzer)
    result = second(two, text="Hi.", output=tmp_path / "two.mp4")
    assert result.face.box[0] > 400  # the mirrored copy on the right
    with pytest.raises(InputFileError, match="only 2 face"):
        TalkingFacePipeline(TalkingFaceConfig(face_index=5), analyzer=face_analyzer)(
            two, text="Hi.", output=tmp_path / "y.mp4"
        )
    with pytest.raises(InputFileError, match=r"cameraman.png: the face is turned 5\d degrees"):
        pipeline(sample_path("cameraman.png"), text="Hi.", output=tmp_path / "z.mp4")
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "z.mp4").exists()


@pytest.mark.parametrize("framing", ["portrait", "face"])
def test_the_score_measures_the_animated_face_not_the_largest(face_analyzer, analysis_pipeline, tmp_path, framing):
    scorer = VideoScorer.from_pipeline(analysis_pipeline)
    second = TalkingFacePipeline(
        TalkingFaceConfig(resolution=256, face_index=1, framing=framing),
        analyzer=face_analyzer,
        scorer=lambda result, image: score_talking_face(result, image, scorer=scorer),
    )
    picture = two_faces()
    result = second(picture, text="Bob bought a big apple pie for Pam.", output=tmp_path / "two.mp4")
    with av.open(str(result.video_path)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    # "face": the square the renderer drew around face 1 (the smaller copy on the right), nothing pasted back
    assert first.shape == ((256, 256, 3) if framing == "face" else picture.shape)
    assert (result.score.seam_flicker is None) == (framing == "face")
    jaw = result.score.channels["jawOpen"]
    # the still, larger face 0 would read a jaw that barely moves (std < 0.002) and an r of noise
    assert result.score.detected_fraction == 1.0 and result.score.identity_mean > 0.9
    assert jaw.detected_std > 0.02 and jaw.r > 0.6, jaw


def test_a_close_up_is_cut_to_the_picture(face_analyzer, tmp_path):
    """A tight portrait: the square around the face reaches past the picture, where a render only repeats
    the edge pixels; the close-up shows the part inside it, at the render's scale."""
    tight = load_image(PORTRAIT)[40:240, 150:310]  # 160 x 200, the face filling most of it
    close_up = TalkingFacePipeline(TalkingFaceConfig(resolution=256, framing="face"), analyzer=face_analyzer)
    result = close_up(tight, text="Hi.", output=tmp_path / "tight.mp4")
    with av.open(str(result.video_path)) as container:
        height, width = next(container.decode(video=0)).to_ndarray(format="rgb24").shape[:2]
    assert width % 2 == 0 and height % 2 == 0 and width < 256 and height < 256
    # whole render pixels inside the picture, even sizes: up to 3 px short of the picture's size at scale
    assert 0 <= 160 * result.video_scale - width < 3 and 0 <= 200 * result.video_scale - height < 3
    assert result.to_video(result.shown_box)[:2] == (0.0, 0.0)


def test_an_unknown_framing_is_one_line():
    with pytest.raises(AffectStudioError, match="framing must be one of portrait, face, not 'zoom'"):
        TalkingFaceConfig(framing="zoom")


def test_a_covered_mouth_is_animated_with_a_warning(pipeline, face_analyzer, caplog):
    portrait = load_image(PORTRAIT)
    hidden = covered(portrait, face_analyzer(portrait)[0].landmarks, "cheek")  # a hand over the mouth
    with caplog.at_level(logging.WARNING):
        pipeline.choose_face(portrait, "portrait.png")
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        face = pipeline.choose_face(hidden, "hand.png")
    assert face is not None
    assert [r.getMessage() for r in caplog.records] == [
        "hand.png: the mouth looks covered (the lips are no redder than the skin around them); the moving mouth "
        "is drawn over whatever covers it"
    ]


def test_cli_talk_and_its_errors(tmp_path, capsys):
    folder = f"{tmp_path / 'clips'}/"  # a folder that does not exist yet: the video is named after the portrait
    code = run_cli(["talk", PORTRAIT, "--text", "Good morning!", "--resolution", "256", "-o", folder, "--no-score"])
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "clips" / "portrait.mp4"
    assert streams(out)[0] > 10
    code = run_cli(["talk", PORTRAIT, "--text", "Hi", "--resolution", "300", "-o", out, "--no-score"])
    assert_one_line_error(capsys, code, "resolution must be 256, 512 or 1024")
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = run_cli(["talk", PORTRAIT, "--text", "Hi", "-o", blocker / "x.mp4", "--no-score"])
    assert_one_line_error(capsys, code, "x.mp4")
    code = run_cli(["talk", tmp_path / "missing.png", "--text", "Hi", "-o", out, "--no-score"])
    assert_one_line_error(capsys, code, "missing.png", "file not found")


def test_an_output_folder_gets_a_video_named_after_the_portrait(tmp_path):
    assert video_output_path(str(tmp_path), PORTRAIT) == tmp_path / "portrait.mp4"  # an existing folder
    assert video_output_path(f"{tmp_path}/new/", PORTRAIT) == tmp_path / "new" / "portrait.mp4"
    assert video_output_path(f"{tmp_path}/new", PORTRAIT) == tmp_path / "new"  # no slash, not there: a file


def bar_width(frame: int) -> int:
    return 8 * (frame % 50) + 16


class StillPortrait:
    """A stand-in backend: the portrait unchanged, with the frame number drawn as a green bar at the top."""

    resolution = 64

    def __init__(self, portrait, face):
        self.portrait, self.frames = portrait, 0
        x0, y0, x1, y1 = face.box
        self.crop_box = (float(x0), float(y0), float(x1), float(y1))

    def render(self, weights, head=None, eyes=None):
        return np.zeros((self.resolution, self.resolution, 3), np.uint8)

    def render_portrait(self, weights, head=None, eyes=None):
        frame = self.portrait.copy()
        frame[:32, : bar_width(self.frames)] = (0, 255, 0)
        self.frames += 1
        return frame


def test_another_renderer_plugs_in(face_analyzer, tmp_path):
    built = []

    def factory(portrait, face):
        built.append(StillPortrait(portrait, face))
        return built[-1]

    out = tmp_path / "still.mp4"
    result = TalkingFacePipeline(TalkingFaceConfig(resolution=256), analyzer=face_analyzer, renderer=factory)(
        PORTRAIT, text="Hello.", output=out
    )
    assert len(built) == 1 and built[0].frames == result.motion.num_frames
    assert result.crop_box == built[0].crop_box
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    portrait = np.asarray(Image.open(PORTRAIT).convert("RGB"), np.float32)
    assert len(frames) == result.motion.num_frames
    for i in (0, 5):
        greenness = frames[i][8:24, :, 1].astype(np.float32) - frames[i][8:24, :, 0]
        bar = bar_width(i)
        assert greenness[:, : bar - 4].mean() > 150 and greenness[:, bar + 8 : bar + 40].mean() < 50
        assert np.abs(frames[i][64:].astype(np.float32) - portrait[64:]).mean() < 3.0  # the rest: the portrait


def test_the_refiner_wraps_only_the_default_renderer(face_analyzer, tmp_path):
    config = TalkingFaceConfig(refiner=MouthRefinerConfig(model_dir=tmp_path))
    with pytest.raises(AffectStudioError, match="refiner"):
        TalkingFacePipeline(config, analyzer=face_analyzer, renderer=StillPortrait)


def test_a_dropped_pipeline_is_freed_without_the_cyclic_gc(face_analyzer):
    """A pipeline in a reference cycle is freed by the cyclic GC at an arbitrary moment, and MediaPipe's
    landmarker closed from inside a collection can deadlock; dropping the last reference must free it."""
    gc.disable()
    try:
        pipeline = TalkingFacePipeline(TalkingFaceConfig(resolution=256), analyzer=face_analyzer)
        freed = weakref.ref(pipeline)
        del pipeline
        assert freed() is None
    finally:
        gc.enable()
