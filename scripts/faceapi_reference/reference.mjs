// Reference outputs of the ORIGINAL face-api nets (TF.js, pure-JS "cpu" backend) for
// tests/test_faceapi_nets.py, which checks the PyTorch ports in recognition/nets/faceapi_*.py.
//
//   cd scripts/faceapi_reference && npm ci --ignore-scripts
//   node reference.mjs [--ref-dir ../../assets/models/reference] [--models DIR] [--compare-wasm]
//
// Inputs (exact uint8 pixels, fed as tf tensors, so no canvas / resizing is involved):
//   face:     <ref-dir>/astronaut_face_112.png, <ref-dir>/astronaut_face_150.png
//   mirrored: the same PNG flipped left-right
//   pattern:  a formula image (see PATTERN_FORMULA)
//   plus one "preprocessing" case per net: a non-square slice of astronaut_face_150.png
//   passed through face-api's own input path (padToSquare centred + tf.image.resizeBilinear).
// Writes <ref-dir>/faceapi_reference.json.

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

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const refDir = path.resolve(arg('--ref-dir', path.join(here, '..', '..', 'assets', 'models', 'reference')));
const modelDir = path.resolve(arg('--models', path.join(here, 'node_modules', '@vladmandic', 'face-api', 'model')));
const compareWasm = process.argv.includes('--compare-wasm');

const PATTERN_FORMULA = 'S x S RGB uint8, x = column, y = row (0-based): R = floor(255*x/(S-1)), '
  + 'G = floor(255*y/(S-1)), B = (x*y + 37*x) % 256';
function pattern(size) {
  const px = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = 3 * (y * size + x);
      px[i] = Math.floor((255 * x) / (size - 1));
      px[i + 1] = Math.floor((255 * y) / (size - 1));
      px[i + 2] = (x * y + 37 * x) % 256;
    }
  }
  return { pixels: px, height: size, width: size };
}

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

function mirror({ pixels, height, width }) {
  const px = new Uint8Array(pixels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) px[3 * (y * width + x) + c] = pixels[3 * (y * width + (width - 1 - x)) + c];
    }
  }
  return { pixels: px, height, width };
}

function slice({ pixels, width }, top, left, h, w) {
  const px = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) px[3 * (y * w + x) + c] = pixels[3 * ((top + y) * width + (left + x)) + c];
    }
  }
  return { pixels: px, height: h, width: w };
}

// (H, W, 3) float32 tensor of the exact uint8 values; face-api's NetInput accepts Tensor3D.
const toTensor = ({ pixels, height, width }) => tf.tensor3d(Float32Array.from(pixels), [height, width, 3], 'float32');

async function runExpression(img) {
  const net = faceapi.nets.faceExpressionNet;
  const x = toTensor(img);
  const netInput = await faceapi.toNetInput(x);
  const logitsT = net.runNet(netInput); // pre-softmax logits (fc output)
  const logits = Array.from(await logitsT.data());
  logitsT.dispose();
  const expr = await net.predictExpressions(x); // public API: softmax probabilities
  x.dispose();
  return { logits, probabilities: faceapi.FACE_EXPRESSION_LABELS.map((k) => expr[k]) };
}

async function runRecognition(img) {
  const x = toTensor(img);
  const descriptor = Array.from(await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(x));
  x.dispose();
  return { descriptor };
}

async function runAll(cases) {
  const out = {};
  for (const c of cases) out[c.name] = { ...c.meta, ...(await c.run()) };
  return out;
}

const maxAbsDiff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);

  const face112 = readPng(path.join(refDir, 'astronaut_face_112.png'));
  const face150 = readPng(path.join(refDir, 'astronaut_face_150.png'));
  // non-square slice (rows 5..144, cols 12..139 -> 140 x 128) of the 150 crop, through face-api's
  // own tensor input path: padToSquare(isCenter=true) + resizeBilinear(alignCorners=false, halfPixelCenters=false)
  const sliceSpec = { file: 'astronaut_face_150.png', top: 5, left: 12, height: 140, width: 128 };
  const nonSquare = slice(face150, sliceSpec.top, sliceSpec.left, sliceSpec.height, sliceSpec.width);

  const expressionCases = [
    { name: 'face', meta: { input: 'astronaut_face_112.png' }, run: () => runExpression(face112) },
    { name: 'face_mirrored', meta: { input: 'astronaut_face_112.png', transform: 'flip left-right' }, run: () => runExpression(mirror(face112)) },
    { name: 'pattern', meta: { input: 'pattern', size: 112 }, run: () => runExpression(pattern(112)) },
    { name: 'preprocess_non_square', meta: { input: sliceSpec.file, slice: sliceSpec, note: 'face-api resizes this 140x128 tensor to 112x112 itself' }, run: () => runExpression(nonSquare) },
  ];
  const recognitionCases = [
    { name: 'face', meta: { input: 'astronaut_face_150.png' }, run: () => runRecognition(face150) },
    { name: 'face_mirrored', meta: { input: 'astronaut_face_150.png', transform: 'flip left-right' }, run: () => runRecognition(mirror(face150)) },
    { name: 'pattern', meta: { input: 'pattern', size: 150 }, run: () => runRecognition(pattern(150)) },
    { name: 'preprocess_non_square', meta: { input: sliceSpec.file, slice: sliceSpec, note: 'face-api pads/resizes this 140x128 tensor to 150x150 itself' }, run: () => runRecognition(nonSquare) },
  ];

  const result = {
    generator: 'scripts/faceapi_reference/reference.mjs',
    versions: {
      'face-api': faceapi.version,
      tfjs: tf.version.tfjs,
      'tfjs-core': tf.version['tfjs-core'],
      'tfjs-backend-cpu': tf.version['tfjs-backend-cpu'],
      node: process.version,
    },
    backend: tf.getBackend(),
    models: ['face_expression_model', 'face_recognition_model'],
    pattern_formula: PATTERN_FORMULA,
    crop_source: 'skimage/data/astronaut.png from scikit-image 0.26.0 (512x512 RGB); box (left, top, right, bottom) = '
      + '(160, 65, 290, 195), PIL Image.crop then Image.resize((S, S), Image.BILINEAR), S = 112 and 150',
    expression: { labels: [...faceapi.FACE_EXPRESSION_LABELS], cases: await runAll(expressionCases) },
    recognition: { cases: await runAll(recognitionCases) },
  };

  if (compareWasm) {
    // Not stored as reference: the spread between two TF.js backends, for context only.
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${path.join(here, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist')}/`);
    await tf.setBackend('wasm');
    await tf.ready();
    const e = await runAll(expressionCases);
    const r = await runAll(recognitionCases);
    const diffs = {};
    for (const k of Object.keys(e)) {
      diffs[`expression.${k}.probabilities`] = maxAbsDiff(e[k].probabilities, result.expression.cases[k].probabilities);
      diffs[`expression.${k}.logits`] = maxAbsDiff(e[k].logits, result.expression.cases[k].logits);
    }
    for (const k of Object.keys(r)) diffs[`recognition.${k}.descriptor`] = maxAbsDiff(r[k].descriptor, result.recognition.cases[k].descriptor);
    console.error('wasm vs cpu max abs diff:', JSON.stringify(diffs, null, 1));
  }

  const outFile = path.join(refDir, 'faceapi_reference.json');
  fs.writeFileSync(outFile, `${JSON.stringify(result, null, 1)}\n`);
  console.log(`wrote ${outFile}`);
  for (const [k, v] of Object.entries(result.expression.cases)) {
    const top = result.expression.labels[v.probabilities.indexOf(Math.max(...v.probabilities))];
    console.log(`expression ${k}: top=${top} p=${Math.max(...v.probabilities).toFixed(4)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
