"""The studio web app (Gradio): `build_app(StudioSettings(...)).launch()`; `python app.py` runs it.

One module per tab (`talking_face_tab`, `rig_tab`, `synthetic_tab`, `analyze_tab`), the page and its
server settings in `app`, the shared models in `models`, and request plumbing (workspace, progress,
cancellation, one-line errors) in `jobs`. The tabs only call the pipelines the CLI calls.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # never send usage data, whatever the environment says

from studio.web.app import StudioBlocks, build_app  # noqa: E402
from studio.web.context import DEFAULT_HOST, DEFAULT_PORT, StudioSettings  # noqa: E402

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "StudioBlocks", "StudioSettings", "build_app"]
