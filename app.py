"""Affect Studio in the browser: `python app.py` serves the studio at http://127.0.0.1:7860.

    python app.py                       # loopback only, port 7860
    python app.py --port 8080 --max-upload-mb 100
    python app.py --host 0.0.0.0        # reachable from the network: only on a network you trust
    python app.py --share               # a public gradio.live link: only when you mean it

Everything runs offline on this machine's CPU; the app itself lives in `studio/web/`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from studio.web.context import DEFAULT_HOST, DEFAULT_PORT  # studio.web switches Gradio's analytics off


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="app.py", description="Affect Studio web app: talking faces, rig curves, synthetic data, analysis."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to serve on (default {DEFAULT_HOST}: this "
                        "machine only; 0.0.0.0 opens it to the network)")  # fmt: skip
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload, in MB (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="long jobs run at once; the rest queue (default 2)")
    parser.add_argument("--workdir", default=None, help="folder for outputs (default: a temporary one, deleted "
                        "when the app stops)")  # fmt: skip
    parser.add_argument("--share", action="store_true", help="also make a public gradio.live link (off by default)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from rigs.errors import AffectStudioError
    from studio.web import StudioSettings, build_app

    try:
        settings = StudioSettings(
            host=args.host, port=args.port, share=args.share, max_upload_mb=args.max_upload_mb, workers=args.workers,
            workdir=args.workdir,
        )  # fmt: skip
    except AffectStudioError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    demo = build_app(settings)
    # `kill` (SIGTERM) stops the app like Ctrl-C: the server closes, the workspace and the phone-decoding
    # worker processes go with it (by default SIGTERM ends Python without any clean-up).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.launch()
    finally:
        demo.close()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # the phone decoders' worker processes re-import this file: keep the guard
    main()
