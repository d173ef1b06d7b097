"""`affect-studio demo`: the main job on the bundled sample portrait, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from recognition.image_io import load_image
from rigs.assets import sample_path
from studio.annotate import annotate
from studio.cli import app, console
from studio.commands.analyze import save_png
from studio.report import faces_table

SAMPLE_PORTRAIT = "portrait.png"


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo"), "--out", "-o", help="Folder for everything the demo writes."),
) -> None:
    """Run the studio on the bundled sample portrait and write the results to OUT.

    Writes `portrait_analysis.json` (every landmark, blendshape, emotion and AU) and
    `portrait_annotated.png`, and prints the analysis table.
    """
    from recognition.analysis import FaceAnalysisPipeline
    from recognition.face import FaceAnalyzer
    from recognition.identity import IdentityEncoder

    portrait_path = sample_path(SAMPLE_PORTRAIT)
    portrait = load_image(portrait_path)
    with FaceAnalyzer() as analyzer:
        analysis = FaceAnalysisPipeline(analyzer, identity=IdentityEncoder()).image(portrait, str(portrait_path))
    console.print(faces_table(analysis.faces, f"sample portrait ({portrait_path.name})"))
    json_path = analysis.save_json(out / "portrait_analysis.json")
    png_path = save_png(annotate(portrait, analysis.faces), out / "portrait_annotated.png")
    console.print(f"wrote {json_path}\nwrote {png_path}")
