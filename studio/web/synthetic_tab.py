"""The Synthetic Data tab: a dataset spec, as a form -> a live preview grid, and for small runs the whole
dataset as a zip; larger runs get the exact `affect-studio synth` command (and the spec to run it with).

It calls what `affect-studio synth` calls: `DatasetSpec` (built from the form; every field is checked
there, with one-line errors naming the field) and `SyntheticDatasetPipeline` (`jobs`, `render_job` for
the preview, `run` for the dataset). The portraits are the ones uploaded here or the bundled samples;
a spec never points at other folders of the server.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import gradio as gr

from recognition.image_io import IMAGE_SUFFIXES
from rigs.emotions import EMOTIONS
from rigs.errors import AffectStudioError
from studio.report import YIELD_COLUMNS, yield_table
from studio.web.context import StudioContext
from studio.web.jobs import Job, stream_job, table_rows, zip_files

SAMPLE_PORTRAITS = ("portrait.png", "hopper.jpg", "cameraman.png")
INTENSITIES = [0.3, 0.6, 1.0]
RESOLUTIONS = [128, 224, 256, 384, 512]
PREVIEW_IMAGES = 8
GRID_IMAGES = 24
# The bundled example spec's augmentations: what "photometric augmentations" switches on.
AUGMENT = {
    "crop_scale": (0.85, 1.0), "crop_shift": 0.04, "flip": 0.5, "brightness": 0.08, "contrast": 0.15,
    "saturation": 0.2, "hue": 4.0, "white_balance": 0.05, "lighting": 0.25, "blur": 0.8, "noise": 3.0,
    "jpeg_quality": (60, 95),
}  # fmt: skip
AU_TOKEN = re.compile(r"^(?:AU)?(\d+)(?::(\d*\.?\d+))?$", re.IGNORECASE)


def parse_action_units(text: str | None) -> list[dict[str, float]]:
    """`"AU25:0.5; AU12:0.8 AU6:0.5"` -> `[{}, {"AU25": 0.5}, {"AU12": 0.8, "AU6": 0.5}]`: the plain cell
    first, then one combination per `;`-separated group (AUs without a strength get 1.0). `DatasetSpec`
    checks the AU numbers and strengths."""
    combos: list[dict[str, float]] = [{}]
    for group in (text or "").split(";"):
        tokens = [t for t in re.split(r"[\s,]+", group.strip()) if t]
        if not tokens:
            continue
        combo = {}
        for token in tokens:
            match = AU_TOKEN.match(token)
            if not match:
                raise AffectStudioError(
                    f"action units: cannot read {token!r}; write combinations like 'AU25:0.5; AU12:0.8 AU6:0.5'"
                )
            combo[f"AU{int(match.group(1))}"] = float(match.group(2)) if match.group(2) else 1.0
        combos.append(combo)
    return combos


def identity_files(ctx: StudioContext, uploads: list[str] | None, folder: Path) -> list[Path]:
    """Copy the uploaded portraits (or, without uploads, the bundled samples) into the job's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    if uploads:
        sources = [ctx.check_image(path, "portrait") for path in uploads]
    else:
        sources = list(ctx.workspace.copy_samples(SAMPLE_PORTRAITS).values())
    copies = []
    for index, source in enumerate(sources):
        target = folder / f"{index:03d}_{source.name}"
        shutil.copyfile(source, target)
        copies.append(target)
    return copies


def build_spec(
    ctx: StudioContext, job: Job, uploads, emotions, intensities, action_units, images_per_cell, yaw, pitch, roll,
    augment, resolution, seed,
):  # fmt: skip
    """The form as a `DatasetSpec` over the portraits copied into `job.folder/identities`."""
    from generation.synthetic import DatasetSpec

    identities = identity_files(ctx, uploads, job.folder / "identities")
    return DatasetSpec(
        identities=[str(path) for path in identities],
        emotions=list(emotions or []),
        intensities=[float(v) for v in intensities or []],
        action_units=parse_action_units(action_units),
        images_per_cell=int(images_per_cell),
        head_pose={
            "yaw": (-float(yaw), float(yaw)),
            "pitch": (-float(pitch), float(pitch)),
            "roll": (-float(roll), float(roll)),
        },  # fmt: skip
        gaze={"yaw": (-8.0, 8.0), "pitch": (-5.0, 5.0)},
        augment=AUGMENT if augment else {},
        resolution=int(resolution),
        seed=int(seed or 0),
        name="affect-studio-web-synthetic-fer",
        description="Made in the Affect Studio web app.",
    )


def pipeline_for(ctx: StudioContext, spec):
    from generation.synthetic import SyntheticDatasetPipeline

    # the face finder (for the portraits), FER and identity nets are the app's shared ones; the read-back
    # scorer's landmarker is the pipeline's own
    models = ctx.models
    return SyntheticDatasetPipeline(
        spec, analyzer=models.face_analyzer(), expressions=models.expressions(), encoder=models.identity()
    )


def plan_text(ctx: StudioContext, uploads, emotions, intensities, action_units, images_per_cell) -> str:
    """What the form asks for, before anything runs (portraits are counted as usable)."""
    portraits = len(uploads) if uploads else len(SAMPLE_PORTRAITS)
    emotions = list(emotions or [])
    try:
        combos = len(parse_action_units(action_units))
    except AffectStudioError as error:
        return f"⚠ {error}"
    cells = sum(1 if e == "neutral" else len(intensities or []) for e in emotions) * combos
    total = portraits * cells * int(images_per_cell or 1)
    where = (
        "small enough to make here" if total <= ctx.settings.synthetic_max_images
        else f"more than the {ctx.settings.synthetic_max_images} made here: *Make dataset* gives the command to run"
    )  # fmt: skip
    source = f"{portraits} uploaded portrait(s)" if uploads else f"the {portraits} bundled sample portraits"
    return (
        f"**Up to {total} images** = {source} × {cells} cells (emotions × intensities × AU combinations) × "
        f"{int(images_per_cell or 1)} per cell — {where}. Portraits turned too far, too small or with the mouth "
        "covered are skipped."
    )


def _caption(sample) -> str:
    """`happy 1 ✓` (kept), `sad 0.6 → neutral` (relabelled to what the FER reads), `angry 1 ✗` (rejected)."""
    job, decision = sample.job, sample.decision
    asked = job.emotion if job.emotion == "neutral" else f"{job.emotion} {job.intensity:g}"
    return {"kept": f"{asked} ✓", "relabelled": f"{asked} → {decision.label}", "rejected": f"{asked} ✗"}[
        decision.decision
    ]


def _preview_jobs(jobs: list, count: int) -> list:
    """Up to `count` jobs, one per cell first, spread over the job list (emotions vary fastest there)."""
    seen, picks = set(), []
    for job in jobs:
        key = (job.identity, job.emotion, job.intensity)
        if key not in seen and job.image == 0:
            seen.add(key)
            picks.append(job)
    step = max(1, len(picks) // count)
    return picks[::step][:count]


def preview(ctx: StudioContext, job: Job, show, *form):
    """Render and score a few jobs one by one, showing each as it is done (nothing is written)."""
    job.step(0.02, "finding the faces in the portraits")
    with pipeline_for(ctx, build_spec(ctx, job, *form)) as pipeline:
        jobs = pipeline.jobs()
        picks = _preview_jobs(jobs, PREVIEW_IMAGES)
        grid: list[tuple[str, str]] = []
        for index, picked in enumerate(picks):
            job.step(0.1 + 0.85 * index / len(picks), f"rendering and scoring preview {index + 1}/{len(picks)}")
            sample = pipeline.render_job(picked)
            path = job.folder / "preview" / f"{index:02d}_{picked.emotion}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sample.png())
            grid.append((str(path), _caption(sample)))
            show((list(grid), _identities_text(pipeline.identities(), len(jobs), f"preview {index + 1}/{len(picks)}")))
        what = f"preview of {len(picks)} cells (asked for → ✓ kept, → relabelled, ✗ rejected)"
        return list(grid), _identities_text(pipeline.identities(), len(jobs), what)


def _identities_text(found, jobs: int, what: str) -> str:
    text = f"**{jobs} images** in this spec from {len(found.identities)} usable portrait(s) · {what}"
    if found.skipped:
        text += " · skipped: " + "; ".join(f"{Path(s.path).name.split('_', 1)[-1]}: {s.reason}" for s in found.skipped)
    return text


def make_dataset(ctx: StudioContext, job: Job, show, *form):
    """Small runs: make the dataset here, with a growing grid of its images; larger ones: the command."""
    job.step(0.02, "finding the faces in the portraits")
    with pipeline_for(ctx, build_spec(ctx, job, *form)) as pipeline:
        jobs = pipeline.jobs()
        found = pipeline.identities()
        if len(jobs) > ctx.settings.synthetic_max_images:
            return _command_instead(ctx, job, pipeline.spec, found, len(jobs))
        out = job.folder / "dataset"
        last_grid = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last_grid
            job.frames("made image", 0.05, 0.92)(done, total)
            if time.monotonic() - last_grid > 1.0 or done == total:
                last_grid = time.monotonic()
                show((_grid(out), f"{done}/{total} images made…", gr.skip(), gr.skip()))

        result = pipeline.run(out, workers=1, executor="local", progress=progress)
    job.step(0.95, "packing the dataset")
    bundle = zip_files(sorted(p for p in out.rglob("*") if p.is_file() and ".synth" not in p.parts),
                       job.folder / "synthetic_dataset.zip", out)  # fmt: skip
    report = result.report
    speed = result.images_per_second
    summary = (
        f"**{report.final} images** ({report.relabelled} relabelled, {report.rejected} rejected) from "
        f"{result.done_jobs} jobs · {len(result.identities.identities)} portrait(s)"
        + (f" · {speed:.1f} images/s" if speed else "")
        + " · captions: label · split · Hugging Face `imagefolder` layout: "
        "`datasets.load_dataset('imagefolder', data_dir=...)`"
    )
    files = [str(bundle)] + [str(path) for key, path in result.files.items() if key == "card"]
    headers, rows = table_rows(yield_table(report))  # the CLI's table
    return _grid(out), summary, {"headers": headers, "data": rows}, files


def _grid(out: Path) -> list[tuple[str, str]]:
    images = sorted(out.glob("*/*/*.png"))[:GRID_IMAGES]
    return [(str(path), f"{path.parent.name} · {path.parent.parent.name}") for path in images]


def _command_instead(ctx: StudioContext, job: Job, spec, found, jobs: int):
    """Write the spec and its portraits as a folder the CLI runs as is, zipped, and the command to run."""
    import yaml

    bundle = job.folder / "synth_spec"
    (bundle / "identities").mkdir(parents=True, exist_ok=True)
    for path in spec.identity_paths():
        shutil.copyfile(path, bundle / "identities" / path.name)
    data = spec.to_dict()
    data["identities"] = ["identities"]  # relative to the spec file: the folder beside it
    (bundle / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    archive = zip_files(sorted(p for p in bundle.rglob("*") if p.is_file()), job.folder / "synth_spec.zip",
                        job.folder)  # fmt: skip
    command = "affect-studio synth synth_spec/spec.yaml -o out/synth --workers 2"
    summary = (
        f"**{jobs} images** is more than the {ctx.settings.synthetic_max_images} this page makes (it shares the "
        f"machine with everyone using it). Download `synth_spec.zip` (the spec and its {len(found.identities)} "
        f"portrait(s)), unzip it and run:\n\n```\nunzip synth_spec.zip\n{command} --dry-run   # time and disk "
        f"estimate\n{command}             # make it (resumable)\n```"
    )
    return [], summary, None, [str(archive)]


def build(ctx: StudioContext) -> None:
    """The tab's components and events (inside a `gr.Tab`)."""
    limit = ctx.settings.synthetic_max_images
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            uploads = gr.File(
                label="Portraits, one identity each (none: the bundled samples)", file_count="multiple",
                file_types=sorted(IMAGE_SUFFIXES), type="filepath", height=190,
            )  # fmt: skip
            emotions = gr.CheckboxGroup(list(EMOTIONS), value=list(EMOTIONS), label="Emotions")
            with gr.Row():
                intensities = gr.CheckboxGroup(INTENSITIES, value=[0.6, 1.0], label="Intensities", scale=2)
                per_cell = gr.Slider(1, 8, value=1, step=1, label="Images per cell", scale=2)
            action_units = gr.Textbox(
                value="", label="Extra action-unit combinations (each adds cells)",
                placeholder="e.g. AU25:0.5; AU12:0.8 AU6:0.5  (AU25 = lips part)",
            )  # fmt: skip
            with gr.Accordion("Variation and size", open=False):
                with gr.Row():
                    yaw = gr.Slider(0, 30, value=10, step=1, label="Head yaw ± (deg)")
                    pitch = gr.Slider(0, 20, value=6, step=1, label="Pitch ± (deg)")
                    roll = gr.Slider(0, 30, value=6, step=1, label="Roll ± (deg)")
                with gr.Row():
                    augment = gr.Checkbox(True, label="Photometric augmentations",
                                          info="Crop, flip, colour, lighting, blur, noise, JPEG")  # fmt: skip
                    resolution = gr.Radio(RESOLUTIONS, value=256, label="Image size (px)")
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0)
            plan = gr.Markdown(plan_text(ctx, None, EMOTIONS, [0.6, 1.0], "", 1), elem_id="synth-plan")
            with gr.Row():
                preview_button = gr.Button("Preview", variant="secondary", scale=2, min_width=90)
                run_button = gr.Button("Make dataset", variant="primary", scale=2, min_width=120)
                stop = gr.Button("Stop", variant="stop", scale=1, min_width=70)
            examples = gr.Examples(
                [[None, list(EMOTIONS), [0.6, 1.0], "", 1], [None, ["neutral", "happy", "sad"], [1.0], "AU25:0.5", 2],
                 [None, ["surprised", "fearful"], [0.3, 0.6, 1.0], "", 1]],
                [uploads, emotions, intensities, action_units, per_cell],
                label="One-click examples (bundled sample portraits, previewed)",
                example_labels=["All 7 emotions · 2 intensities", "Neutral, happy, sad · lips parted (AU25)",
                                "Surprised vs fearful · 3 intensities"],
            )  # fmt: skip
            gr.Markdown(
                f"*Preview* renders one image of a few cells and scores it (nothing is kept). *Make dataset* makes "
                f"runs of up to {limit} images here and gives a zip; larger runs show the command to run instead. "
                "Each image is re-analysed: kept, relabelled to what the expression model reads, or rejected."
            )
        with gr.Column(scale=7, min_width=360):
            summary = gr.Markdown("Previews and datasets appear here.")
            grid = gr.Gallery(
                label="Images",
                columns=4, height=520, object_fit="contain", preview=False,
            )  # fmt: skip
            table = gr.Dataframe(headers=list(YIELD_COLUMNS), label="Yield per class", interactive=False, visible=False)
            files = gr.File(label="Downloads", file_count="multiple", interactive=False)

    form = [uploads, emotions, intensities, action_units, per_cell, yaw, pitch, roll, augment, resolution, seed]
    counted = [uploads, emotions, intensities, action_units, per_cell]
    for control in counted:
        control.change(lambda *v: plan_text(ctx, *v), counted, plan, queue=False, show_progress="hidden",
                       api_visibility="private")  # fmt: skip

    def streamed(kind: str, work):
        """An event handler that runs `work(ctx, job, show, *form values)` as a streamed, cancellable job."""

        async def handler(
            uploads, emotions, intensities, action_units, images_per_cell, yaw, pitch, roll, augment, resolution,
            seed, progress=gr.Progress(),
        ):  # fmt: skip
            values = (uploads, emotions, intensities, action_units, images_per_cell, yaw, pitch, roll, augment,
                      resolution, seed)  # fmt: skip
            async for outputs in stream_job(ctx.workspace, kind, lambda job, show: work(ctx, job, show, *values),
                                            progress):  # fmt: skip
                yield outputs

        return handler

    synthetic_preview = streamed("synth-preview", preview)
    synthetic_run = streamed("synth", make_dataset)

    def show_table(rows):
        return gr.update(visible=rows is not None and len(rows) > 0)

    run = {"concurrency_id": "cpu", "concurrency_limit": ctx.settings.workers, "show_progress_on": grid}
    preview_event = preview_button.click(synthetic_preview, form, [grid, summary], api_name="synthetic_preview", **run)
    run_event = run_button.click(synthetic_run, form, [grid, summary, table, files], api_name="synthetic_run", **run)
    run_event.success(show_table, table, table, queue=False, show_progress="hidden", api_visibility="private")
    example_event = examples.load_input_event.then(synthetic_preview, form, [grid, summary], api_visibility="private",
                                                   **run)  # fmt: skip
    stop.click(None, cancels=[preview_event, run_event, example_event], api_visibility="private")
