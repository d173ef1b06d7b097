// Reference detections of the ORIGINAL face-api SSD MobileNetV1 face detector (TF.js, pure-JS
// "cpu" backend) for tests/test_faceapi_ssd.py, which checks recognition/nets/faceapi_ssd.py.
//
//   cd scripts/faceapi_reference && npm ci --ignore-scripts
//   node ssd_reference.mjs [--ref-dir ../../assets/models/reference] [--models DIR]
//
// Inputs (exact uint8 pixels, fed as tf tensors, so no canvas is involved; face-api itself pads
// them to a square and resizes to 512):
//   portrait: assets/samples/portrait.png (512 x 512, one face)
//   group:    <ref-dir>/group_small_faces.png, built here deterministically (see GROUP below and
//             buildGroup): the portrait's face crop pasted at 4 sizes on a 960 x 640 grey canvas.
// For each input it records face-api's ssdMobilenetv1.locateFaces() detections (the public
// detectAllFaces() result) at minConfidence 0.5 (default) and 0.2, and the raw decoded boxes and
// scores of the TOP_ANCHORS highest-scoring anchors (forwardInput, before NMS).
// Writes <ref-dir>/group_small_faces.png and <ref-dir>/faceapi_ssd_reference.json.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// The node-wasm build needs only pure-JS @tensorflow/tfjs (+ tfjs-backend-wasm), not tfjs-node.
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { PNG } = require('pngjs');

const { tf } = faceapi;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const refDir = path.resolve(arg('--ref-dir', path.join(root, 'assets', 'models', 'reference')));
const modelDir = path.resolve(arg('--models', path.join(here, 'node_modules', '@vladmandic', 'face-api', 'model')));

const PORTRAIT = 'assets/samples/portrait.png'; // relative to the repository root
const GROUP_FILE = 'group_small_faces.png'; // in refDir
const GROUP = {
  width: 960,
  height: 640,
  background: [128, 128, 128],
  source: PORTRAIT,
  crop: { left: 150, top: 40, width: 180, height: 200 }, // x 150..330, y 40..240 of the portrait
  // paste height = Math.round(width * 200 / 180)
  pastes: [
    { left: 60, top: 80, width: 180 },
    { left: 340, top: 330, width: 120 },
    { left: 580, top: 110, width: 80 },
    { left: 800, top: 420, width: 56 },
  ],
  resize: 'area average (box filter with fractional pixel coverage), float64, Math.round, clamped to 0..255',
};
const RUNS = [{ minConfidence: 0.5, maxResults: 100 }, { minConfidence: 0.2, maxResults: 100 }];
const TOP_ANCHORS = 20;

function readPng(file) {
  const png = PNG.sync.read(fs.readFileSync(file)); // always decoded to 8-bit RGBA
  const px = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) {
    px[3 * i] = png.data[4 * i];
    px[3 * i + 1] = png.data[4 * i + 1];
    px[3 * i + 2] = png.data[4 * i + 2];
  }
  return { pixels: px, height: png.height, width: png.width };
}

function writePng(file, { pixels, height, width }) {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[4 * i] = pixels[3 * i];
    png.data[4 * i + 1] = pixels[3 * i + 1];
    png.data[4 * i + 2] = pixels[3 * i + 2];
    png.data[4 * i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 2 })); // 8-bit RGB
}

const sha256 = ({ pixels }) => crypto.createHash('sha256').update(pixels).digest('hex');

function crop({ pixels, width }, { left, top, width: w, height: h }) {
  const px = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) px[3 * (y * w + x) + c] = pixels[3 * ((top + y) * width + (left + x)) + c];
    }
  }
  return { pixels: px, height: h, width: w };
}

// Per output index: the source indices it covers and their coverage (sum = inSize / outSize).
function areaWeights(inSize, outSize) {
  const s = inSize / outSize;
  const out = [];
  for (let o = 0; o < outSize; o++) {
    const start = o * s;
    const end = (o + 1) * s;
    const taps = [];
    for (let k = Math.floor(start); k < Math.min(inSize, Math.ceil(end)); k++) {
      const w = Math.min(end, k + 1) - Math.max(start, k);
      if (w > 0) taps.push([k, w]);
    }
    out.push(taps);
  }
  return out;
}

function resizeArea(img, outW, outH) {
  const wx = areaWeights(img.width, outW);
  const wy = areaWeights(img.height, outH);
  const norm = (img.width / outW) * (img.height / outH);
  const px = new Uint8Array(outW * outH * 3);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (const [sy, vy] of wy[y]) {
          let row = 0;
          for (const [sx, vx] of wx[x]) row += vx * img.pixels[3 * (sy * img.width + sx) + c];
          sum += vy * row;
        }
        px[3 * (y * outW + x) + c] = Math.min(255, Math.max(0, Math.round(sum / norm)));
      }
    }
  }
  return { pixels: px, height: outH, width: outW };
}

function buildGroup(portrait) {
  const { width, height, background } = GROUP;
  const px = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(background, 3 * i);
  const face = crop(portrait, GROUP.crop);
  const placed = [];
  for (const p of GROUP.pastes) {
    const h = Math.round((p.width * GROUP.crop.height) / GROUP.crop.width);
    const patch = p.width === face.width && h === face.height ? face : resizeArea(face, p.width, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < p.width; x++) {
        for (let c = 0; c < 3; c++) px[3 * ((p.top + y) * width + (p.left + x)) + c] = patch.pixels[3 * (y * p.width + x) + c];
      }
    }
    placed.push({ left: p.left, top: p.top, width: p.width, height: h });
  }
  return { image: { pixels: px, height, width }, placed };
}

// (H, W, 3) float32 tensor of the exact uint8 values; face-api's NetInput accepts Tensor3D.
const toTensor = ({ pixels, height, width }) => tf.tensor3d(Float32Array.from(pixels), [height, width, 3], 'float32');

async function runSsd(img) {
  const net = faceapi.nets.ssdMobilenetv1;
  const x = toTensor(img);
  const runs = [];
  for (const opts of RUNS) {
    const dets = await net.locateFaces(x, opts);
    runs.push({
      min_confidence: opts.minConfidence,
      max_results: opts.maxResults,
      // box: pixels of the input image (face-api FaceDetection.box: x, y, width, height)
      detections: dets.map((d) => ({ score: d.score, box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height } })),
    });
  }
  // raw net output: decoded boxes (ymin, xmin, ymax, xmax; [0, 1] of the padded 512 input) + scores
  const netInput = await faceapi.toNetInput(x);
  const { boxes, scores } = net.forwardInput(netInput);
  const b = boxes[0].arraySync();
  const s = Array.from(scores[0].dataSync());
  boxes.forEach((t) => t.dispose());
  scores.forEach((t) => t.dispose());
  x.dispose();
  const order = s.map((v, i) => i).sort((i, j) => s[j] - s[i] || i - j).slice(0, TOP_ANCHORS);
  return {
    height: img.height,
    width: img.width,
    rgb_sha256: sha256(img),
    runs,
    num_anchors: s.length,
    top_anchors: order.map((i) => ({ index: i, score: s[i], box: b[i] })),
  };
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);

  const portrait = readPng(path.join(root, PORTRAIT));
  const { image: group, placed } = buildGroup(portrait);
  const groupFile = path.join(refDir, GROUP_FILE);
  writePng(groupFile, group);
  const reread = readPng(groupFile);
  if (sha256(reread) !== sha256(group)) throw new Error('group PNG does not round-trip');

  const result = {
    generator: 'scripts/faceapi_reference/ssd_reference.mjs',
    versions: {
      'face-api': faceapi.version,
      tfjs: tf.version.tfjs,
      'tfjs-core': tf.version['tfjs-core'],
      'tfjs-backend-cpu': tf.version['tfjs-backend-cpu'],
      node: process.version,
    },
    backend: tf.getBackend(),
    model: 'ssd_mobilenetv1_model',
    api: 'faceapi.nets.ssdMobilenetv1.locateFaces(tf.tensor3d(uint8 pixels as float32), { minConfidence, maxResults }); '
      + 'NMS IoU threshold fixed at 0.5',
    group_image: { file: GROUP_FILE, ...GROUP, pastes: placed },
    cases: {
      portrait: { input: PORTRAIT, ...(await runSsd(portrait)) },
      group: { input: `assets/models/reference/${GROUP_FILE}`, ...(await runSsd(group)) },
    },
  };

  const outFile = path.join(refDir, 'faceapi_ssd_reference.json');
  fs.writeFileSync(outFile, `${JSON.stringify(result, null, 1)}\n`);
  console.log(`wrote ${groupFile}\nwrote ${outFile}`);
  for (const [name, c] of Object.entries(result.cases)) {
    for (const r of c.runs) {
      const list = r.detections.map((d) => `${d.score.toFixed(3)}@(${d.box.x.toFixed(1)},${d.box.y.toFixed(1)},${d.box.width.toFixed(1)}x${d.box.height.toFixed(1)})`);
      console.log(`${name} minConfidence=${r.min_confidence}: ${r.detections.length} faces ${list.join(' ')}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
