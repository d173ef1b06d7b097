"""The studio web app: one Gradio Blocks page with a tab per job, served from loopback by default.

    demo = build_app(StudioSettings(port=7860))
    demo.launch()                 # http://127.0.0.1:7860, no share link, the app's limits and theme

`StudioBlocks.launch` fills in what the app needs whoever launches it (`app.py`, tests, a notebook): the
loopback host, no public link, the upload size limit, `allowed_paths` = the app's own workspace and
nothing else, the theme. Long jobs of every tab share one queue group ("cpu") whose concurrency limit
is `StudioSettings.workers` (2 on this project's 2-core machine); the rest wait in the queue.
"""

from __future__ import annotations

import logging
import threading

import gradio as gr  # (the package's __init__ has switched Gradio's analytics off)

from studio.web import analyze_tab, rig_tab, synthetic_tab, talking_face_tab
from studio.web.context import StudioContext, StudioSettings

log = logging.getLogger(__name__)

TITLE = "Affect Studio"
THEME = gr.themes.Soft(
    primary_hue="indigo",
    secondary_hue="amber",
    neutral_hue="slate",
    font=[gr.themes.Font("Inter"), gr.themes.Font("system-ui"), "sans-serif"],  # local fonts: no downloads
    font_mono=[gr.themes.Font("ui-monospace"), "monospace"],
)
CSS = """
.gradio-container { max-width: 1440px !important; }
#studio-header h1 { margin-bottom: 0.1em; }
#studio-header p { margin-top: 0; opacity: 0.8; }
footer { opacity: 0.6; }
"""
HEADER = f"""# {TITLE}
Emotion-aware talking faces, rig curves, synthetic expression data and face/speech analysis — offline, on
this computer's CPU. Nothing you upload leaves this machine."""


class StudioBlocks(gr.Blocks):
    """`gr.Blocks` that launches with the studio's server settings unless told otherwise, and deletes
    its workspace on `close()`."""

    studio: StudioContext

    def launch(self, *args, **kwargs):
        settings = self.studio.settings
        kwargs.setdefault("server_name", settings.host)
        kwargs.setdefault("server_port", settings.port)
        kwargs.setdefault("share", settings.share)
        kwargs.setdefault("max_file_size", f"{settings.max_upload_mb:g}mb")
        kwargs.setdefault("show_error", True)
        kwargs.setdefault("ssr_mode", False)
        kwargs.setdefault("theme", THEME)
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("footer_links", ["api", "settings"])
        # The app serves its own workspace (outputs, sample copies) and Gradio's upload cache; nothing else.
        kwargs["allowed_paths"] = [str(self.studio.workspace.root)]
        return super().launch(*args, **kwargs)

    def close(self, verbose: bool = True) -> None:
        super().close(verbose)
        self.studio.workspace.close()


def build_app(settings: StudioSettings | None = None, warm_up: bool = True) -> StudioBlocks:
    """The whole app; `launch()` it. With `warm_up`, models load in a background thread right away, so
    the first request does not wait for them."""
    settings = settings or StudioSettings()
    ctx = StudioContext(settings)
    with StudioBlocks(
        title=TITLE, analytics_enabled=False, delete_cache=(900, int(settings.keep_minutes * 60))
    ) as demo:
        demo.studio = ctx
        gr.Markdown(HEADER, elem_id="studio-header")
        with gr.Tabs():
            with gr.Tab("Talking Face", id="talk"):
                talking_face_tab.build(ctx)
            with gr.Tab("Rig Curves", id="rig"):
                rig_tab.build(ctx)
            with gr.Tab("Synthetic Data", id="synthetic"):
                synthetic_tab.build(ctx)
            with gr.Tab("Analyze", id="analyze"):
                analyze_tab.build(ctx)
    demo.queue(default_concurrency_limit=1, max_size=settings.queue_size)
    if warm_up:
        threading.Thread(target=_warm_up, args=(ctx,), name="affect-studio-warm-up", daemon=True).start()
    return demo


def _warm_up(ctx: StudioContext) -> None:
    try:
        ctx.models.warm_up()
    except Exception:  # a broken model shows up again, with its message, on the first request that needs it
        log.exception("warming up the models failed")
