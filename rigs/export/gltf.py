"""glTF 2.0 binary (`.glb`): the canonical face mesh with 52 ARKit morph targets and the motion as animation.

What is in the file:
- one mesh, the canonical face (`rigs.face_mesh.CanonicalFace`): POSITION, NORMAL (of the neutral face),
  TEXCOORD_0 (`CanonicalFace.uvs` as stored; glTF puts (0, 0) at the image's top-left), indices; 52 morph
  targets, one per ARKit blendshape in ARKit order, each a POSITION displacement; their names in
  `mesh.extras.targetNames`, the convention three.js (`morphTargetDictionary`) and Blender's importer (shape
  key names) read;
- node "Head" (rotation animated) with child node "Face" (the mesh, weights animated);
- one animation: a LINEAR "weights" sampler (52 weights per frame, clipped to [0, 1]) and a LINEAR
  "rotation" sampler for the head, keyed at every frame, times in seconds (`frame / fps`).

Axes and units: glTF is right-handed, metres, +Y up, and a model faces +Z. The canonical mesh is in
centimetres with x to the viewer's right, y up and z toward the viewer, so its positions are scaled by 0.01
and need no rotation; the face looks down +Z at a default glTF camera. The head rotates about the mesh's
origin. Its rotation is `FaceMotion.head` (degrees) composed as `R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`, the
same decomposition `recognition.face.HeadPose` reads from the landmarker: yaw about +Y turns the face toward
+X (the subject's left), pitch about +X tips the chin down, roll about +Z tilts the head counter-clockwise as
the viewer sees it. Eye rotations have no node here (the mesh has no eyeballs); gaze is in the
eyeLook* morph weights.
"""

from __future__ import annotations

import numpy as np

from rigs.arkit import ARKIT_NAMES
from rigs.errors import AffectStudioError
from rigs.export.base import Exporter, ExportInput, register
from rigs.face_mesh import CanonicalFace, load_canonical_face

CM_TO_M = 0.01

# glTF enums
_FLOAT, _UNSIGNED_SHORT, _UNSIGNED_INT = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_TRIANGLES = 4


def head_quaternions(head_degrees: np.ndarray) -> np.ndarray:
    """`(frames, 3)` yaw/pitch/roll degrees -> `(frames, 4) float32` unit quaternions, glTF order (x, y, z, w),
    for `R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`; consecutive quaternions are kept in the same hemisphere so
    interpolation takes the short way round."""
    yaw, pitch, roll = (np.radians(np.asarray(head_degrees, dtype=np.float64)[:, i]) / 2 for i in range(3))
    qx = np.stack([np.sin(pitch), 0 * pitch, 0 * pitch, np.cos(pitch)], axis=1)
    qy = np.stack([0 * yaw, np.sin(yaw), 0 * yaw, np.cos(yaw)], axis=1)
    qz = np.stack([0 * roll, 0 * roll, np.sin(roll), np.cos(roll)], axis=1)
    q = _quat_multiply(_quat_multiply(qz, qy), qx)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    for i in range(1, len(q)):
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    return q.astype(np.float32)


def _quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of `(n, 4)` (x, y, z, w) quaternions: rotation `b` first, then `a`."""
    ax, ay, az, aw = a.T
    bx, by, bz, bw = b.T
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=1,
    )


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals `(V, 3) float32`; vertices on no triangle get +Z."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    face_normals = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    normals = np.zeros_like(v)
    for corner in range(3):
        np.add.at(normals, t[:, corner], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 1e-12, normals / np.maximum(length, 1e-12), [0.0, 0.0, 1.0])
    return normals.astype(np.float32)


def _check_face(face: CanonicalFace) -> None:
    v = np.asarray(face.vertices)
    n = len(v)
    problems = []
    if v.ndim != 2 or v.shape[1] != 3 or n == 0:
        problems.append(f"vertices shape {v.shape}")
    if np.asarray(face.uvs).shape != (n, 2):
        problems.append(f"uvs shape {np.asarray(face.uvs).shape}")
    t = np.asarray(face.triangles)
    if t.ndim != 2 or t.shape[1] != 3 or len(t) == 0 or t.min() < 0 or t.max() >= n:
        problems.append("triangles do not index the vertices")
    if np.asarray(face.basis).shape != (len(ARKIT_NAMES), n, 3):
        problems.append(f"basis shape {np.asarray(face.basis).shape}, expected (52, {n}, 3)")
    if problems:
        raise AffectStudioError(f"canonical face mesh is malformed: {'; '.join(problems)}")


class _BinaryBuilder:
    """Packs arrays into one binary buffer, each in its own 4-byte aligned bufferView with one accessor."""

    def __init__(self, gltf):
        self.gltf = gltf
        self.blob = bytearray()

    def add(self, array: np.ndarray, accessor_type: str, *, target: int | None = None, min_max: bool = False) -> int:
        import pygltflib

        array = np.ascontiguousarray(array)
        component = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint16): _UNSIGNED_SHORT,
                     np.dtype(np.uint32): _UNSIGNED_INT}[array.dtype]  # fmt: skip
        width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[accessor_type]
        count = array.size // width
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        offset = len(self.blob)
        self.blob.extend(array.tobytes())
        self.gltf.bufferViews.append(
            pygltflib.BufferView(buffer=0, byteOffset=offset, byteLength=array.nbytes, target=target)
        )
        accessor = pygltflib.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1,
            componentType=component,
            count=count,
            type=accessor_type,
        )
        if min_max:
            flat = array.reshape(count, width).astype(np.float64)
            cast = float if component == _FLOAT else int
            accessor.min = [cast(x) for x in flat.min(axis=0)]
            accessor.max = [cast(x) for x in flat.max(axis=0)]
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


def build_gltf(data: ExportInput, face: CanonicalFace):
    """The `pygltflib.GLTF2` document (with its binary blob set) for `data` on `face`."""
    try:
        import pygltflib
    except ImportError:
        raise AffectStudioError("the glTF exporter needs pygltflib: pip install pygltflib") from None
    _check_face(face)
    motion = data.motion
    gltf = pygltflib.GLTF2(
        asset=pygltflib.Asset(version="2.0", generator="Affect Studio (rigs.export.gltf)"),
        scene=0,
    )
    binary = _BinaryBuilder(gltf)

    vertices = np.asarray(face.vertices, dtype=np.float32) * np.float32(CM_TO_M)
    triangles = np.asarray(face.triangles)
    index_dtype = np.uint16 if len(vertices) < 65535 else np.uint32
    attributes = pygltflib.Attributes(
        POSITION=binary.add(vertices, "VEC3", target=_ARRAY_BUFFER, min_max=True),
        NORMAL=binary.add(vertex_normals(vertices, triangles), "VEC3", target=_ARRAY_BUFFER),
        TEXCOORD_0=binary.add(np.asarray(face.uvs, dtype=np.float32), "VEC2", target=_ARRAY_BUFFER),
    )
    indices = binary.add(triangles.astype(index_dtype).reshape(-1), "SCALAR", target=_ELEMENT_ARRAY_BUFFER)
    basis = np.asarray(face.basis, dtype=np.float32) * np.float32(CM_TO_M)
    targets = [
        pygltflib.Attributes(POSITION=binary.add(basis[k], "VEC3", target=_ARRAY_BUFFER, min_max=True))
        for k in range(len(ARKIT_NAMES))
    ]
    gltf.materials.append(
        pygltflib.Material(
            name="skin",
            pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
                baseColorFactor=[0.80, 0.64, 0.55, 1.0], metallicFactor=0.0, roughnessFactor=0.6
            ),
        )
    )
    gltf.meshes.append(
        pygltflib.Mesh(
            name="CanonicalFace",
            primitives=[
                pygltflib.Primitive(
                    attributes=attributes, indices=indices, material=0, mode=_TRIANGLES, targets=targets
                )
            ],
            weights=[0.0] * len(ARKIT_NAMES),
            extras={"targetNames": list(ARKIT_NAMES)},
        )
    )
    gltf.nodes.append(pygltflib.Node(name="Head", children=[1]))
    gltf.nodes.append(pygltflib.Node(name="Face", mesh=0))
    gltf.scenes.append(
        pygltflib.Scene(
            name=data.name,
            nodes=[0],
            extras={
                "fps": float(motion.fps),
                "frame_count": motion.num_frames,
                "source_audio": data.audio_path,
                "emotion": data.emotion,
            },
        )
    )

    times = (np.arange(motion.num_frames, dtype=np.float64) / motion.fps).astype(np.float32)
    time_accessor = binary.add(times, "SCALAR", min_max=True)
    weights = np.clip(motion.blendshapes, 0.0, 1.0).astype(np.float32).reshape(-1)
    weights_accessor = binary.add(weights, "SCALAR")
    rotation_accessor = binary.add(head_quaternions(motion.head), "VEC4")
    gltf.animations.append(
        pygltflib.Animation(
            name=data.name,
            samplers=[
                pygltflib.AnimationSampler(input=time_accessor, output=weights_accessor, interpolation="LINEAR"),
                pygltflib.AnimationSampler(input=time_accessor, output=rotation_accessor, interpolation="LINEAR"),
            ],
            channels=[
                pygltflib.AnimationChannel(sampler=0, target=pygltflib.AnimationChannelTarget(node=1, path="weights")),
                pygltflib.AnimationChannel(sampler=1, target=pygltflib.AnimationChannelTarget(node=0, path="rotation")),
            ],
        )
    )
    gltf.buffers.append(pygltflib.Buffer(byteLength=len(binary.blob)))
    gltf.set_binary_blob(bytes(binary.blob))
    return gltf


@register
class GltfExporter(Exporter):
    name = "gltf"
    suffix = ".glb"
    description = "glTF 2.0 binary: canonical face mesh, 52 ARKit morph targets, weights + head animation"

    def __init__(self, face: CanonicalFace | None = None):
        self.face = face  # None: the bundled canonical face, loaded when first needed

    def render(self, data: ExportInput) -> bytes:
        face = self.face if self.face is not None else load_canonical_face()
        return b"".join(build_gltf(data, face).save_to_bytes())


def animation_duration(gltf) -> float:
    """Seconds spanned by the first animation's keyframes (the max of its sampler input accessors)."""
    animation = gltf.animations[0]
    return max(float(gltf.accessors[s.input].max[0]) for s in animation.samplers) if animation.samplers else 0.0
