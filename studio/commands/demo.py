"""`affect-studio demo`: the main job on the bundled sample portrait and speech, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from studio.cli import app, console

SAMPLE_PORTRAIT = "portrait.png"
SAMPLE_SPEECH = "speech.wav"
SAMPLE_TRANSCRIPT = "speech.txt"


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo"), "--out", "-o", help="Folder for everything the demo writes."),
    emotion: str = typer.Option("happy:0.7", "--emotion", help="The emotion the portrait speaks with."),
) -> None:
    """Run the studio on the bundled sample portrait and speech; write everything to OUT.

    - `talking_face.mp4`: the portrait speaking the sample line (H.264 + AAC), with its score card
      (`talking_face.score.json`, `talking_face.score.png`, and printed);
    - `curves/`: the same animation for engines: Live Link Face CSV, MetaHuman CSV, glTF, JSON, Rhubarb
      mouth cues, and a curve plot;
    - `portrait_analysis.json`, `portrait_annotated.png`: what recognition sees in the portrait.
    """
    from generation.talking_face.pipeline import TalkingFacePipeline
    from recognition.analysis import FaceAnalysisPipeline
    from recognition.audio import load_audio
    from recognition.identity import IdentityEncoder
    from recognition.image_io import load_image
    from rigs.assets import sample_path
    from rigs.atomic import check_writable
    from rigs.export import ExportInput, export_all
    from studio.annotate import annotate
    from studio.commands.analyze import save_png
    from studio.commands.talk import print_timings
    from studio.plots import plot_motion_curves
    from studio.report import faces_table
    from studio.scoring import score_talking_face

    check_writable(out / "talking_face.mp4")
    portrait_path = sample_path(SAMPLE_PORTRAIT)
    speech = load_audio(sample_path(SAMPLE_SPEECH))
    transcript = sample_path(SAMPLE_TRANSCRIPT).read_text()
    pipeline = TalkingFacePipeline(scorer=score_talking_face)

    console.rule("talking face")
    with console.status("rendering the sample portrait speaking, then scoring the video"):
        result = pipeline(
            portrait_path, audio=speech, text=transcript, emotion=emotion, output=out / "talking_face.mp4"
        )
    print_timings(result)
    console.print(result.score.table())
    result.score.save_json(out / "talking_face.score.json")
    result.score.plot(out / "talking_face.score.png")

    console.rule("rig curves")
    curves = result.curves
    files = export_all(ExportInput(result.motion, curves.mouth_cues, speech.source, emotion, "speech"), out / "curves")
    files["plot"] = plot_motion_curves(
        result.motion,
        out / "curves" / "speech_curves.png",
        curves.speech.timeline,
        f"sample speech, {emotion}: rig curves ({result.motion.fps:g} fps)",
    )
    for name, path in files.items():
        console.print(f"{name:>13}: {path}")

    console.rule("portrait analysis")
    portrait = load_image(portrait_path)
    analysis = FaceAnalysisPipeline(pipeline.analyzer, identity=IdentityEncoder()).image(portrait, str(portrait_path))
    console.print(faces_table(analysis.faces, f"sample portrait ({portrait_path.name})"))
    analysis.save_json(out / "portrait_analysis.json")
    save_png(annotate(portrait, analysis.faces), out / "portrait_annotated.png")
    console.print(
        f"\nwrote {out}/: talking_face.mp4 (+ .score.json, .score.png), curves/, portrait_analysis.json, "
        "portrait_annotated.png"
    )
