"""The optional diffusers mouth refiner, wired end to end on a tiny inpainting pipeline this test builds
from configs (random weights, no download): it loads from a folder, repaints only around the mouth, is
deterministic, and a talking-face video renders through it."""

from __future__ import annotations

import json

import numpy as np
import pytest

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from generation.talking_face.pipeline import TalkingFaceConfig, TalkingFacePipeline  # noqa: E402
from generation.talking_face.refiner import MouthRefiner, MouthRefinerConfig, RefinedRenderer  # noqa: E402
from generation.talking_face.renderer import WarpRenderer  # noqa: E402
from recognition.audio import Audio  # noqa: E402
from rigs.arkit import ARKIT_INDEX  # noqa: E402
from rigs.assets import sample_path  # noqa: E402
from rigs.errors import InputFileError  # noqa: E402
from rigs.face_mesh import load_canonical_face  # noqa: E402
from rigs.face_topology import LIPS_OUTER_LOWER, LIPS_OUTER_UPPER  # noqa: E402

PATCH = 64  # the tiny pipeline repaints 64x64 patches


@pytest.fixture(scope="module")
def tiny_inpainting_dir(tmp_path_factory):
    """A 9-channel-UNet Stable Diffusion inpainting pipeline of a few thousand random weights, saved."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny_inpaint")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(16, 32), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
    )  # fmt: skip
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=64, hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1,
            max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1,
        )  # fmt: skip
    )
    vocab_dir = folder / "vocab"
    vocab_dir.mkdir()
    letters = [f"{c}</w>" for c in "abcdefghijklmnopqrstuvwxyz"] + list("abcdefghijklmnopqrstuvwxyz")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, **{t: i + 2 for i, t in enumerate(letters)}}
    (vocab_dir / "vocab.json").write_text(json.dumps(vocab))
    (vocab_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(vocab_dir / "vocab.json"), str(vocab_dir / "merges.txt"), model_max_length=77)
    pipe = StableDiffusionInpaintPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(num_train_timesteps=100, steps_offset=1), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(folder / "pipeline")
    return folder / "pipeline"


@pytest.fixture(scope="module")
def warp_renderer(portrait, face_analyzer):
    return WarpRenderer(portrait, face_analyzer(portrait)[0], load_canonical_face(), 256)


def _config(folder) -> MouthRefinerConfig:
    return MouthRefinerConfig(model_dir=folder, patch_size=PATCH, steps=4, strength=0.5, guidance_scale=1.0)


def test_refiner_repaints_only_the_mouth_and_is_deterministic(tiny_inpainting_dir, warp_renderer):
    weights = np.zeros(52, np.float32)
    weights[ARKIT_INDEX["jawOpen"]] = 0.5
    plain = warp_renderer.render(weights)
    first = RefinedRenderer(warp_renderer, MouthRefiner(_config(tiny_inpainting_dir))).render(weights)
    again = RefinedRenderer(warp_renderer, MouthRefiner(_config(tiny_inpainting_dir))).render(weights)
    assert first.shape == plain.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)  # same seeded noise -> same pixels
    changed = np.abs(first.astype(int) - plain.astype(int)).max(axis=2) > 2
    assert changed.any(), "the refiner changed nothing"
    rows, cols = np.nonzero(changed)
    points = warp_renderer.rig.points(weights, np.zeros(3))
    lips = points[np.r_[LIPS_OUTER_UPPER, LIPS_OUTER_LOWER]]
    width = np.ptp(lips[:, 0])
    assert np.all(np.abs(cols - lips[:, 0].mean()) <= width), "pixels changed away from the mouth"
    assert np.all(np.abs(rows - lips[:, 1].mean()) <= width)


def test_a_talking_face_renders_through_the_refiner(tiny_inpainting_dir, tmp_path, face_analyzer, monkeypatch):
    config = TalkingFaceConfig(resolution=256, refiner=_config(tiny_inpainting_dir))
    pipeline = TalkingFacePipeline(config, analyzer=face_analyzer)
    previous_patches = []
    refine = MouthRefiner.__call__

    def counting(self, crop, points, previous=None):
        previous_patches.append(previous)
        return refine(self, crop, points, previous)

    monkeypatch.setattr(MouthRefiner, "__call__", counting)
    rate = 16000
    t = np.arange(int(0.6 * rate)) / rate
    syllables = 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    speech = Audio(syllables.astype(np.float32), rate, "tone")
    result = pipeline(sample_path("portrait.png"), audio=speech, emotion="happy", output=tmp_path / "refined.mp4")
    assert result.video_path.stat().st_size > 1000
    assert len(previous_patches) == result.motion.num_frames  # every frame went through it
    assert previous_patches[0] is None and all(p is not None for p in previous_patches[1:])  # blended in time


def test_a_folder_that_is_not_a_pipeline_is_one_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="not a diffusers pipeline folder"):
        MouthRefiner(MouthRefinerConfig(model_dir=tmp_path))
