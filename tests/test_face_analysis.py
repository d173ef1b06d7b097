"""Face analysis on the sample portrait and variants of it (behaviour, not just shapes)."""

import numpy as np
import pytest
from PIL import Image

from recognition.face import _box_iou
from recognition.identity import cosine_similarity
from tests.conftest import PORTRAIT_FACE_XYWH


def _known_face_box():
    x, y, w, h = PORTRAIT_FACE_XYWH
    return (x, y, x + w, y + h)


def test_portrait_has_one_smiling_happy_face(portrait, analysis_pipeline):
    result = analysis_pipeline.image(portrait)
    assert len(result.faces) == 1
    face = result.faces[0]
    # The landmarker's face agrees with an independent detector's box for the same face.
    assert _box_iou(face.face.box, _known_face_box()) > 0.5
    landmarks = face.face.landmarks
    assert landmarks.shape == (478, 3)
    x0, y0, x1, y1 = _known_face_box()
    inside = (
        (landmarks[:, 0] > x0 - 15)
        & (landmarks[:, 0] < x1 + 15)
        & (landmarks[:, 1] > y0 - 15)
        & (landmarks[:, 1] < y1 + 25)
    )
    assert inside.mean() > 0.98
    assert face.face.blendshape("mouthSmileLeft") > 0.5 and face.face.blendshape("mouthSmileRight") > 0.5
    assert face.face.blendshape("tongueOut") == 0.0
    assert face.emotion.top == "happy"
    assert face.emotion.valence > 0.3 and face.emotion.arousal > 0.2  # the happy quadrant
    assert set(face.emotion.per_model) == {"faceapi", "fer"}
    assert all(probs.argmax() == 1 for probs in face.emotion.per_model.values())  # both nets say happy
    assert face.action_units[12] > 0.5  # lip corner puller
    assert face.identity.shape == (128,)


def test_side_by_side_composite_gives_two_faces_largest_first(portrait, face_analyzer):
    small = np.asarray(Image.fromarray(portrait).resize((384, 384), Image.BILINEAR))
    canvas = np.full((512, 512 + 384, 3), 90, np.uint8)
    canvas[:, :512] = portrait
    canvas[64:448, 512:] = small[:, ::-1]
    faces = face_analyzer(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].box[2] < 512 <= faces[1].box[0]
    # The mirrored copy turns and tilts the other way.
    assert np.sign(faces[1].head_pose.roll) == -np.sign(faces[0].head_pose.roll)


def test_head_roll_follows_an_in_plane_rotation(portrait, face_analyzer):
    upright = face_analyzer(portrait)[0].head_pose.roll
    turned = face_analyzer(np.asarray(Image.fromarray(portrait).rotate(20, Image.BILINEAR)))[0].head_pose.roll
    assert turned - upright == pytest.approx(20, abs=4)  # counter-clockwise in the image is positive


def test_identity_is_stable_for_the_same_person_and_not_for_noise(portrait, analysis_pipeline):
    base = analysis_pipeline.image(portrait).faces[0].identity
    resized = np.asarray(Image.fromarray(portrait).resize((700, 700), Image.BICUBIC))
    again = analysis_pipeline.image(resized).faces[0].identity
    assert cosine_similarity(base, again) > 0.95
    noise = analysis_pipeline.identity.embed_crops(
        np.random.default_rng(0).integers(0, 255, (1, 150, 150, 3), dtype=np.uint8)
    )[0]
    assert cosine_similarity(base, noise) < cosine_similarity(base, again) - 0.1


def test_video_tracking_gives_one_result_per_frame(portrait, analysis_pipeline):
    frames = [(i / 25, portrait) for i in range(10)] + [(10 / 25, np.zeros_like(portrait))]
    seen = []
    result = analysis_pipeline.video(frames, fps=25, on_frame=lambda t, f, a: seen.append(t))
    assert len(result.frames) == 11 and len(seen) == 11
    assert all(f is not None for f in result.frames[:10]) and result.frames[10] is None
    assert np.isnan(result.probabilities[10]).all()
    assert result.detected_fraction == pytest.approx(10 / 11)
    assert all(f.emotion.top == "happy" for f in result.frames[:10])


def test_small_faces_in_a_group_image_are_all_found(face_analyzer):
    """Four copies of the portrait's face, 180 to 56 px wide, on a 960x640 canvas: the landmarker's own
    detector alone finds only the big ones; with the SSD detector's crops all four are found."""
    from rigs.assets import assets_dir

    group = np.asarray(Image.open(assets_dir() / "models" / "reference" / "group_small_faces.png").convert("RGB"))
    faces = face_analyzer(group)
    assert len(faces) == 4
    widths = sorted((f.width for f in faces), reverse=True)
    assert widths[0] > 80 and widths[-1] < 40


def test_a_30px_face_in_a_vga_frame_is_found(portrait, face_analyzer):
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[100:260, 200:360] = np.asarray(Image.fromarray(portrait).resize((160, 160), Image.LANCZOS))
    faces = face_analyzer(canvas)
    assert len(faces) == 1 and faces[0].width < 40
    assert 200 < faces[0].box[0] < 360 and 100 < faces[0].box[1] < 260


def test_other_bundled_faces(analysis_pipeline):
    """Grace Hopper's official portrait reads neutral; the cameraman is small and turned ~50 degrees."""
    from recognition.image_io import load_image
    from rigs.assets import sample_path

    hopper = analysis_pipeline.image(load_image(sample_path("hopper.jpg"))).faces
    assert len(hopper) == 1 and hopper[0].emotion.top == "neutral"
    assert abs(hopper[0].face.head_pose.yaw) < 15
    cameraman = analysis_pipeline.image(load_image(sample_path("cameraman.png"))).faces
    assert len(cameraman) == 1 and cameraman[0].face.width < 100
    assert abs(cameraman[0].face.head_pose.yaw) > 35
