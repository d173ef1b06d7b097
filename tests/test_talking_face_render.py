"""The default talking-face renderer, judged the way DESIGN §4 judges video: re-run the landmarker on what
was rendered. The renderer takes any `CanonicalFace`; these tests use a stand-in built here (the bundled canonical
mesh with a hand-sculpted ARKit basis), so they test the renderer, not a particular basis."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from generation.talking_face import DenseWarp, WarpRenderer, compose, mouth
from generation.talking_face.rig import LIPS_INNER_LOWER, LIPS_INNER_UPPER, mouth_polygon, polygon_coverage
from generation.talking_face.wrinkles import WrinkleLayer, between
from generation.video_writer import VideoWriter
from recognition.image_io import load_image
from rigs.arkit import ARKIT_INDEX
from rigs.assets import sample_path
from rigs.face_mesh import CanonicalFace, load_canonical_face

# ---------------------------------------------------------------------------------------------------------
# The stand-in canonical face


LIU = [191, 80, 81, 82, 13, 312, 311, 310, 415]  # inner upper lip, without the corners
LIL = [95, 88, 178, 87, 14, 317, 402, 318, 324]
LOU = [185, 40, 39, 37, 0, 267, 269, 270, 409]
LOL = [146, 91, 181, 84, 17, 314, 405, 321, 375]
LU2 = [184, 74, 73, 72, 11, 302, 303, 304, 408, 183, 42, 41, 38, 12, 268, 271, 272, 407]  # lip bodies
LL2 = [77, 90, 180, 85, 16, 315, 404, 320, 307, 96, 89, 179, 86, 15, 316, 403, 319, 325]
CORNER_RINGS = [61, 291, 78, 308, 76, 306, 62, 292]
EYES = {  # subject's side: upper lid, lower lid, upper-lid rings 2 and 3
    "Right": ([246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153, 154, 155],
              [247, 30, 29, 27, 28, 56, 190], [113, 225, 224, 223, 222, 221, 189]),
    "Left": ([466, 388, 387, 386, 385, 384, 398], [249, 390, 373, 374, 380, 381, 382],
             [467, 260, 259, 257, 258, 286, 414], [342, 445, 444, 443, 442, 441, 413]),
}  # fmt: skip
BROWS = {"Right": ([107, 66, 55, 65], [70, 63, 46, 53]), "Left": ([336, 296, 285, 295], [300, 293, 276, 283])}
MOUTH_CORNERS = {"Right": 61, "Left": 291}
ALAR = {"Right": [48, 64, 98, 240, 102, 129], "Left": [278, 294, 327, 460, 331, 358]}


def sculpted_canonical_face() -> CanonicalFace:
    """The canonical mesh with a hand-sculpted basis: jaw rotation about a hinge, lip-corner pulls, lid
    arcs, brow lifts (centimetres, canonical axes: x to the subject's left, y up, z toward the viewer)."""
    bundled = load_canonical_face()  # only its mesh: the basis below is this test's own
    v, uvs, triangles = bundled.vertices, bundled.uvs, bundled.triangles
    n = len(v)
    basis = np.zeros((52, n, 3), np.float32)
    x, y = v[:, 0], v[:, 1]

    def shape(name: str) -> np.ndarray:
        return basis[ARKIT_INDEX[name]]

    def bump(centre, sigma):
        return np.exp(-np.sum((v - centre) ** 2, axis=1) / (2 * sigma**2))[:, None]

    def half(side):  # 1 on the subject's `side` of the face, fading across the middle
        return np.clip(0.5 + (x if side == "Left" else -x) / 2.0, 0, 1)[:, None]

    upper_lip, lower_lip = LIU + LOU + LU2, LIL + LOL + LL2
    mouth_centre = v[[13, 14]].mean(axis=0)

    # jaw: 28 degrees about a hinge behind the cheeks; the chin and lower lip all the way, the corners half
    weight = np.clip((mouth_centre[1] - y) / 1.2 + 0.15, 0, 1) ** 1.5
    weight[upper_lip], weight[lower_lip], weight[CORNER_RINGS] = 0.0, 1.0, 0.45
    rel = v - np.array([0.0, -1.5, -4.0])
    angle = np.radians(28)
    turned = rel.copy()
    turned[:, 1] = rel[:, 1] * np.cos(angle) - rel[:, 2] * np.sin(angle)
    turned[:, 2] = rel[:, 1] * np.sin(angle) + rel[:, 2] * np.cos(angle)
    jaw = (turned - rel) * weight[:, None]
    shape("jawOpen")[:] = jaw
    shape("jawForward")[:] = weight[:, None] * [0, 0, 0.5]
    shape("jawLeft")[:] = weight[:, None] * [0.6, 0, 0]
    shape("jawRight")[:] = weight[:, None] * [-0.6, 0, 0]
    close = shape("mouthClose")  # the lower lip back up against an open jaw
    close[LIL], close[LL2], close[LOL], close[LIU] = -jaw[LIL], -0.92 * jaw[LL2], -0.85 * jaw[LOL], [0, -0.1, 0]

    for side, corner in MOUTH_CORNERS.items():
        sign = 1 if side == "Left" else -1
        near = bump(v[corner], 1.4)
        cheek = bump(v[corner] + [sign * 1.0, 1.8, 0.0], 1.4)
        shape(f"mouthSmile{side}")[:] = near * [sign * 0.45, 0.55, -0.25] + cheek * [sign * 0.1, 0.3, 0.2]
        shape(f"mouthFrown{side}")[:] = near * [sign * 0.05, -0.45, 0]
        shape(f"mouthStretch{side}")[:] = near * [sign * 0.4, -0.15, -0.1]
        shape(f"mouthDimple{side}")[:] = near * [sign * 0.25, 0.05, -0.2]
        press = np.zeros((n, 3), np.float32)
        press[LOU], press[LOL] = (v[LIU] - v[LOU]) * 0.35, (v[LIL] - v[LOL]) * 0.35
        press[LU2[:9]], press[LL2[:9]] = (v[LIU] - v[LU2[:9]]) * 0.2, (v[LIL] - v[LL2[:9]]) * 0.2
        shape(f"mouthPress{side}")[:] = press * half(side)
        up = np.zeros((n, 3), np.float32)
        up[upper_lip] = [0, 0.3, 0.05]
        shape(f"mouthUpperUp{side}")[:] = (up + bump(mouth_centre + [0, 0.8, 0], 0.8) * [0, 0.1, 0]) * half(side)
        down = np.zeros((n, 3), np.float32)
        down[lower_lip] = [0, -0.3, 0.05]
        shape(f"mouthLowerDown{side}")[:] = down * half(side)
        shape("cheekPuff")[:] += bump(v[corner] + [sign * 1.5, 0.5, -0.5], 1.5) * [sign * 0.5, 0, 0.3]
        nose = v[ALAR[side]].mean(axis=0)
        shape(f"noseSneer{side}")[:] = bump(nose, 0.7) * [0, 0.3, 0] + bump(nose + [0, 1.5, 0], 1.0) * [0, 0.1, 0]
    shape("mouthRollLower")[LOL] = (v[LIL] - v[LOL]) * 0.6 + [0, 0, -0.2]
    shape("mouthRollUpper")[LOU] = (v[LIU] - v[LOU]) * 0.6 + [0, 0, -0.2]
    shape("mouthShrugLower")[:] = bump(v[17], 1.5) * [0, 0.3, 0.1]
    shape("mouthShrugUpper")[upper_lip] = [0, 0.2, 0]
    lips = np.zeros((n, 1), np.float32)
    lips[upper_lip + lower_lip + CORNER_RINGS] = 1
    lips = np.maximum(lips, 0.6 * bump(mouth_centre, 1.0))
    inward = (mouth_centre - v) * [1, 0, 0]
    funnel = lips * (inward * 0.25 + [0, 0, 0.4])
    funnel[LIU] += [0, 0.2, 0]
    funnel[LIL] += [0, -0.25, 0]
    shape("mouthFunnel")[:] = funnel
    shape("mouthPucker")[:] = lips * (inward * 0.35 + [0, 0, 0.5])
    shape("mouthLeft")[:] = bump(mouth_centre, 1.8) * [0.5, 0, 0]
    shape("mouthRight")[:] = bump(mouth_centre, 1.8) * [-0.5, 0, 0]

    for side, (upper, lower, ring2, ring3) in EYES.items():
        sign = 1 if side == "Left" else -1
        gap = v[lower] - v[upper]
        gap[:, 2] = 0

        def lids(
            upper_f, lower_f, ring2_f=0.0, ring3_f=0.0, *, upper=upper, lower=lower, ring2=ring2, ring3=ring3, gap=gap
        ):
            d = np.zeros((n, 3), np.float32)
            d[upper], d[lower], d[ring2], d[ring3] = upper_f * gap, lower_f * gap, ring2_f * gap, ring3_f * gap
            return d

        shape(f"eyeBlink{side}")[:] = lids(1.0, 0.0, 0.7, 0.25)
        shape(f"eyeSquint{side}")[:] = lids(0.1, -0.3)
        shape(f"eyeWide{side}")[:] = lids(-0.35, 0.0, -0.2, -0.1)
        shape(f"eyeLookDown{side}")[:] = lids(0.2, 0.0, 0.1)
        shape(f"eyeLookUp{side}")[:] = lids(-0.12, 0.0, -0.06)
        cheek = bump(v[upper + lower].mean(axis=0) + [0, -1.3, 0], 0.9) * [0, 0.25, 0.1]
        cheek[lower] += -0.15 * gap
        shape(f"cheekSquint{side}")[:] = cheek
        inner, outer = BROWS[side]
        brow = v[inner + outer].mean(axis=0)
        lid_fold = bump(v[ring3].mean(axis=0), 0.6) * [0, -0.15, 0]
        shape(f"browDown{side}")[:] = bump(brow, 1.3) * [-sign * 0.2, -0.6, 0] + lid_fold
        shape(f"browOuterUp{side}")[:] = bump(v[outer].mean(axis=0), 1.2) * [0, 0.6, 0]
    inner_brows = BROWS["Left"][0] + BROWS["Right"][0]
    shape("browInnerUp")[:] = bump(v[inner_brows].mean(axis=0) + [0, 0.3, 0], 1.6) * [0, 0.75, 0]
    return CanonicalFace(v.astype(np.float32), uvs.astype(np.float32), triangles, basis)


# ---------------------------------------------------------------------------------------------------------

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def weights(renderer, **values: float) -> np.ndarray:
    """The portrait's rest weights with some ARKit channels set by name; a name ending in `_` sets both
    its Left and Right channels."""
    w = renderer.rig.rest_weights().copy()
    for name, value in values.items():
        names = [name[:-1] + "Left", name[:-1] + "Right"] if name.endswith("_") else [name]
        for channel in names:
            w[ARKIT_INDEX[channel]] = value
    return w


@pytest.fixture(scope="module")
def portrait_face(portrait, face_analyzer):
    return face_analyzer(portrait)[0]


@pytest.fixture(scope="module")
def sculpted_face():
    return sculpted_canonical_face()


@pytest.fixture(scope="module")
def renderer(portrait, portrait_face, sculpted_face):
    return WarpRenderer(portrait, portrait_face, sculpted_face, resolution=512)


def redetect(face_analyzer, image):
    faces = face_analyzer(image)
    assert faces, "the landmarker found no face in the rendered frame"
    return faces[0]


def test_rest_reproduces_the_portrait(renderer, portrait):
    crop = renderer.render(renderer.rig.rest_weights())
    assert crop.shape == (512, 512, 3) and crop.dtype == np.uint8
    assert np.abs(crop.astype(int) - renderer.rig.source).mean() < 0.05  # measured 0.0
    full = compose(portrait, crop, renderer.rig)
    x0, y0 = (int(np.ceil(v)) for v in renderer.rig.window.origin)
    side = int(renderer.rig.window.side)
    diff = np.abs(full[y0 : y0 + side, x0 : x0 + side].astype(int) - portrait[y0 : y0 + side, x0 : x0 + side])
    assert diff.mean() < 0.5  # only the crop's resampling there and back; measured 0.19


def test_jaw_open_is_seen_by_the_landmarker(renderer, face_analyzer):
    rest = redetect(face_analyzer, renderer.render(renderer.rig.rest_weights())).blendshape("jawOpen")
    opened = redetect(face_analyzer, renderer.render(weights(renderer, jawOpen=0.6))).blendshape("jawOpen")
    assert opened > rest + 0.15, (rest, opened)  # measured 0.016 -> 0.195


def test_blink_closes_both_eyes(renderer, face_analyzer):
    rest = redetect(face_analyzer, renderer.render(renderer.rig.rest_weights()))
    closed = redetect(face_analyzer, renderer.render(weights(renderer, eyeBlink_=1.0)))
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        assert rest.blendshape(name) < 0.1
        assert closed.blendshape(name) > 0.5, (name, closed.blendshape(name))  # measured 0.57, 0.58


def test_a_raised_lid_takes_its_lashes_and_bares_white_sclera(renderer):
    """Wide eyes (fear, surprise, anger): the upper lashes move up with the lid, and where they were the
    eye shows sclera, not a dark line left on the eyeball or a grey band (which read as glasses)."""
    rest_image = renderer.render(renderer.rig.rest_weights())
    rest_points = renderer.last_points.copy()
    wide_image = renderer.render(weights(renderer, eyeWide_=1.0))
    wide_points = renderer.last_points
    assert np.abs(rest_image.astype(int) - renderer.rig.source).mean() < 0.05  # the split adds back up
    for eye in renderer.eyes:
        sclera = float(eye.sclera @ LUMA)
        assert sclera > 170, eye.sclera  # the clear white of the eye, not its shadowed average
        lid = eye.upper[len(eye.upper) // 4]  # between the outer corner and the iris: sclera below it
        x = int(round(rest_points[lid, 0]))
        rest_y, wide_y = rest_points[lid, 1], wide_points[lid, 1]
        assert wide_y < rest_y - 2, (rest_y, wide_y)
        column = wide_image[:, x].astype(np.float32) @ LUMA
        where_lashes_were = column[int(round(rest_y)) + 1]
        assert where_lashes_were > 0.75 * sclera, (eye.side, where_lashes_were, sclera)
        top, bottom = int(wide_y) - 3, int(round(rest_y)) + 2
        darkest = top + int(np.argmin(column[top:bottom]))
        assert abs(darkest - wide_y) <= 2.5, (eye.side, darkest, wide_y)  # the lash line went with the lid


def test_bilabial_closure_hides_the_interior(renderer):
    """The sample shows its teeth at rest; sealed lips must leave no teeth and no dark gap between them."""
    sealed = weights(renderer, jawOpen=0.06, mouthClose=0.06, mouthPress_=0.3)
    points = renderer.rig.points(sealed, np.zeros(3))
    gap = np.linalg.norm(points[LIPS_INNER_LOWER[1:-1]] - points[LIPS_INNER_UPPER[1:-1]], axis=1)
    assert gap.max() < 0.5
    rest_mouth = polygon_coverage(mouth_polygon(renderer.rig.src_points), 0, 0, 512, 512) > 0.5
    teeth_luminance = renderer.mouth.colours.teeth @ LUMA

    def teeth_like(image):  # bright and nearly grey, as teeth are and lips (even their gloss) are not
        pixels = image.astype(np.float32)[rest_mouth]
        return float(((pixels @ LUMA > 0.8 * teeth_luminance) & (np.ptp(pixels, axis=1) < 35)).mean())

    at_rest, closed = teeth_like(renderer.render(renderer.rig.rest_weights())), teeth_like(renderer.render(sealed))
    assert at_rest > 0.2 and closed < 0.05, (at_rest, closed)  # measured 0.29 -> 0.024


def test_sealed_lips_meet_in_a_soft_shadow(renderer, monkeypatch):
    """Where the sample's teeth were erased, sealed lips need a line where they meet; drawn as a 1-px line
    it looked inked on. The shadow darkens the lips by at most ~1/4 and spreads over the rows beside it."""
    sealed = weights(renderer, jawOpen=0.06, mouthClose=0.06)
    shaded = renderer.render(sealed).astype(np.float32) @ LUMA
    points = renderer.last_points
    monkeypatch.setattr(mouth, "seam_shadow", lambda frame, u, v, points: np.zeros_like(u))
    plain = renderer.render(sealed).astype(np.float32) @ LUMA
    darkening = 1.0 - shaded / np.maximum(plain, 1.0)
    band = slice(int(points[13, 1]) - 8, int(points[14, 1]) + 9)
    for fraction in (0.3, 0.5, 0.7):
        x = int(round(points[78, 0] + fraction * (points[308, 0] - points[78, 0])))
        column = darkening[band, x]
        row = int(np.argmax(column))
        assert 0.1 < column[row] < 0.3, (fraction, column.round(2))  # measured 0.19-0.20 (a line: 0.37)
        beside = min(column[row - 1], column[row + 1])
        assert beside > 0.4 * column[row], (fraction, column.round(2))  # measured 0.5-0.6 (a line: 0.09)


@pytest.fixture(scope="module")
def closed_mouth_renderer(face_analyzer, sculpted_face):
    """A portrait whose lips are together at rest (the sample shows its teeth)."""
    closed_mouth = load_image(sample_path("hopper.jpg"))
    return WarpRenderer(closed_mouth, face_analyzer(closed_mouth)[0], sculpted_face, resolution=512)


def test_an_open_mouth_narrows_toward_its_corners(closed_mouth_renderer):
    """A jaw drop lowers the whole lower lip, but the lips join at the corners: the opening is a lens,
    not a box (the pairs next to the corners opened 0.84-0.87 of the middle's)."""
    rig = closed_mouth_renderer.rig

    def gaps(points):
        return np.linalg.norm(points[LIPS_INNER_LOWER[1:-1]] - points[LIPS_INNER_UPPER[1:-1]], axis=1)

    gap = gaps(rig.points(weights(closed_mouth_renderer, jawOpen=0.6), np.zeros(3))) - gaps(rig.src_points)
    assert gap.max() > 10  # the jaw did open it
    assert max(gap[0], gap[-1]) < 0.65 * gap.max(), gap.round(1)  # an ellipse: 0.51 at 7 % of the width
    assert min(gap[3:6]) > 0.9 * gap.max(), gap.round(1)  # the middle stays open


def test_a_closed_mouth_portrait_opens_onto_separate_teeth(closed_mouth_renderer):
    """A portrait with closed lips has no teeth to show, so they are drawn: across the upper teeth the
    light dips at the gaps between them (a flat band reads as a mouth guard)."""
    renderer = closed_mouth_renderer
    assert renderer.mouth.plate is None  # nothing of the portrait's own to reuse
    image = renderer.render(weights(renderer, jawOpen=0.5))
    rest = renderer.rig.src_points
    width = float(np.linalg.norm(rest[308] - rest[78]))
    y = int(round(rest[13, 1] + 0.05 * width))  # just below the upper lip's line at rest: the upper teeth
    x0, x1 = (int(round(rest[78, 0] + f * width)) for f in (0.3, 0.7))
    row = image[y, x0:x1].astype(np.float32) @ LUMA
    assert row.mean() > 0.8 * float(renderer.mouth.colours.teeth @ LUMA)  # teeth there, not the cavity
    neighbourhood = np.array([row[max(0, i - 4) : i + 5].max() for i in range(len(row))])
    dips = np.flatnonzero((row < 0.85 * neighbourhood) & (row <= np.minimum(np.roll(row, 1), np.roll(row, -1))))
    gaps = len(np.unique(dips // 3))
    assert gaps >= 3, (gaps, row.round())


def test_a_closed_mouth_portrait_keeps_its_own_lip_line(closed_mouth_renderer):
    """Hopper's lips meet at rest: the warp carries his own lip line, so no shadow is added over it."""
    renderer = closed_mouth_renderer
    line = np.zeros((512, 512), np.uint8)
    cv2.polylines(line, [np.round(renderer.rig.src_points[LIPS_INNER_UPPER]).astype(np.int32)], False, 1, 5)
    rest = renderer.render(renderer.rig.rest_weights()).astype(np.float32) @ LUMA
    darker = (renderer.rig.source.astype(np.float32) @ LUMA - rest)[line > 0]
    assert (darker > 8).mean() < 0.01, np.sort(darker)[-20:]  # measured 0; 3 % when a sealed-lip line was drawn


def test_bilabials_seal_through_a_sneer(renderer):
    """Lips close on m/b/p whatever the expression does to them: the gap a raised upper lip and a lowered
    lower lip open (disgust, anger) closes with the portrait's own; pressed lips alone still bare the teeth."""
    sneer = {"mouthUpperUp_": 0.6, "mouthLowerDown_": 0.6}

    def lip_gap(**values: float) -> np.ndarray:
        points = renderer.rig.points(weights(renderer, **(sneer | values)), np.zeros(3))
        return np.linalg.norm(points[LIPS_INNER_LOWER[1:-1]] - points[LIPS_INNER_UPPER[1:-1]], axis=1)

    rest_gap = lip_gap(mouthUpperUp_=0.0, mouthLowerDown_=0.0)
    assert lip_gap(jawOpen=0.06, mouthClose=0.06).max() < 0.5  # 4.8 px when only the rest gap sealed
    opened_by_the_sneer = lip_gap().mean() - rest_gap.mean()
    assert lip_gap(mouthPress_=0.5).mean() > max(0.5 * opened_by_the_sneer, 2.0), (rest_gap.mean(), lip_gap().mean())


def test_gaze_moves_the_irises(renderer, face_analyzer):
    look = redetect(face_analyzer, renderer.render(renderer.rig.rest_weights(), None, np.array([-20.0, 0, -20.0, 0])))
    rest = redetect(face_analyzer, renderer.render(renderer.rig.rest_weights()))
    # both eyes turn to the subject's right: the left eye looks in, the right eye looks out
    assert look.blendshape("eyeLookInLeft") > rest.blendshape("eyeLookInLeft") + 0.2
    assert look.blendshape("eyeLookOutRight") > rest.blendshape("eyeLookOutRight") + 0.2


def test_head_yaw_moves_the_nose_the_right_way(renderer, face_analyzer):
    rest = renderer.rig.rest_weights()
    nose = {yaw: redetect(face_analyzer, renderer.render(rest, np.array([yaw, 0, 0]))).landmarks[1, 0]
            for yaw in (-5.0, 0.0, 5.0)}  # fmt: skip
    # yaw > 0 turns the face toward image right (the subject's left)
    assert nose[5.0] > nose[0.0] + 5 and nose[-5.0] < nose[0.0] - 5, nose


def test_dense_warp_is_identity_at_rest_and_follows_a_shift():
    size = 64
    src = np.array([[0, 0], [63, 0], [63, 63], [0, 63], [32, 32]], np.float32)
    triangles = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    warp = DenseWarp(src, triangles, (size, size))
    image = (np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8)
    assert np.array_equal(warp(image, src), image)
    moved = src.copy()
    moved[4] += [3, 0]
    out = warp(image, moved)
    # the centre pixel came from 3 pixels to its left
    assert np.abs(out[32, 35].astype(int) - image[32, 32]).max() <= 2


def test_compose_leaves_pixels_far_from_the_face_unchanged(renderer, portrait):
    full = compose(
        portrait, renderer.render(weights(renderer, jawOpen=0.5, eyeBlink_=1.0), np.array([4.0, 2, 1])), renderer.rig
    )
    x0, y0 = (int(np.floor(v)) for v in renderer.rig.window.origin)
    x1, y1 = int(np.ceil(x0 + renderer.rig.window.side)) + 2, int(np.ceil(y0 + renderer.rig.window.side)) + 2
    outside = np.ones(portrait.shape[:2], bool)
    outside[max(y0, 0) : y1, max(x0, 0) : x1] = False
    assert np.array_equal(full[outside], portrait[outside])
    assert not np.array_equal(full, portrait)


def test_video_writer_muxes_audio_with_the_frames(tmp_path, renderer):
    fps, frames, rate = 25, 30, 16000
    t = np.arange(int(frames / fps * rate)) / rate
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    path = tmp_path / "talking.mp4"
    with VideoWriter(path, fps=fps, audio=(audio, rate)) as writer:
        for i in range(frames):
            writer.write(renderer.render(weights(renderer, jawOpen=0.3 * (i % 5) / 4)))
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        audio_stream = container.streams.audio[0]
        assert audio_stream.codec_context.name == "aac" and audio_stream.rate == rate
        assert abs(container.duration / 1e6 - frames / fps) < 0.1
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == frames
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert abs(samples / rate - frames / fps) < 0.1
    head = path.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_creases_shade_the_skin_a_warp_cannot_fold(renderer, monkeypatch):
    """A sneer (AU9) darkens the bridge of the nose as deep as the channel goes, and nothing far from it;
    mid-forehead folds need the inner brow raised alone (sadness), not both brows (surprise)."""

    def render(depth: float, **channels) -> np.ndarray:
        monkeypatch.setattr(renderer.wrinkles, "depth", depth)
        return renderer.render(weights(renderer, **channels)).astype(np.float32).mean(axis=2)

    points = renderer.rig.src_points
    bridge = np.round((points[6] + points[197]) / 2).astype(int)  # between the eyes, on the nose
    x, y = bridge
    size = int(0.06 * renderer.rig.face_size)
    around_bridge = (slice(y - size, y + size), slice(x - size, x + size))

    def bridge_darkening(strength: float) -> float:
        return float((render(0.0, noseSneer_=strength) - render(0.35, noseSneer_=strength))[around_bridge].max())

    quarter, half, full = bridge_darkening(0.25), bridge_darkening(0.5), bridge_darkening(1.0)
    assert full > 25, full  # a visible fold: measured 75 grey levels at the darkest pixel
    assert 0 < quarter < half < 0.8 * full, (quarter, half, full)  # deeper with the channel (54 at half)
    changed = np.abs(render(0.35, noseSneer_=1.0) - render(0.0, noseSneer_=1.0)) > 1
    rows, cols = np.nonzero(changed)
    nose_to_mouth = points[[6, 129, 358, 216, 436]]
    assert cols.min() >= nose_to_mouth[:, 0].min() - size and cols.max() <= nose_to_mouth[:, 0].max() + size
    assert rows.min() >= points[[9, 55, 285], 1].min() - size and rows.max() <= nose_to_mouth[:, 1].max() + size

    def forehead_change(**channels) -> float:
        return float(np.abs(render(0.35, **channels) - render(0.0, **channels)).max())

    assert forehead_change(browInnerUp=1.0) > 15  # sadness: folds
    assert forehead_change(browInnerUp=1.0, browOuterUp_=1.0) == 0.0  # surprise: evenly raised brows, none


def test_creases_measure_from_the_portraits_own_expression():
    """Channels the portrait already shows (its own creases are in the photo) add no crease until exceeded."""
    rest = np.zeros(len(ARKIT_INDEX), np.float32)
    rest[ARKIT_INDEX["mouthUpperUpRight"]] = 0.5
    layer = WrinkleLayer(face_size=200.0, rest=rest)
    names = [crease.name for crease in layer.creases]
    at_rest = layer.strengths(rest)
    assert not at_rest.any()
    beyond = rest.copy()
    beyond[ARKIT_INDEX["mouthUpperUpRight"]] = 0.8
    assert layer.strengths(beyond)[names.index("nasolabial right")] == pytest.approx(0.3)
    assert layer.strengths(beyond)[names.index("nasolabial left")] == 0.0
    assert between(6, between(6, 197, 0.5), 0.5) == {6: 0.75, 197: 0.25}
