// Class probabilities from ConvNetJS itself, the peer our ConvNetJS import is checked against.
//
//   node convnetjs_probs.js SNAPSHOT.json IMAGES.bin
//
// SNAPSHOT.json is a ConvNetJS net.toJSON() file. IMAGES.bin holds N images as raw uint8,
// each H*W*C bytes in (row, column, channel) order (HWC), H, W, C being the net's input
// size. Pixels are fed as x/255 - 0.5, as ConvNetJS's CIFAR-10 demo does. Prints a JSON
// list of N lists of class probabilities (float64, shortest round-trip form).
"use strict";
const fs = require("fs");
const convnetjs = require("convnetjs");

const [snapshotPath, imagesPath] = process.argv.slice(2);
if (!snapshotPath || !imagesPath) {
  console.error("usage: node convnetjs_probs.js SNAPSHOT.json IMAGES.bin");
  process.exit(2);
}
const net = new convnetjs.Net();
net.fromJSON(JSON.parse(fs.readFileSync(snapshotPath, "utf8")));
const input = net.layers[0];
const W = input.out_sx, H = input.out_sy, D = input.out_depth;
const bytes = fs.readFileSync(imagesPath);
const size = W * H * D;
if (bytes.length % size !== 0) {
  console.error("IMAGES.bin holds " + bytes.length + " bytes, not a multiple of " + size);
  process.exit(2);
}
const out = [];
for (let i = 0; i < bytes.length / size; i++) {
  const v = new convnetjs.Vol(W, H, D, 0.0);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let d = 0; d < D; d++) {
        v.set(x, y, d, bytes[i * size + (y * W + x) * D + d] / 255.0 - 0.5);
      }
    }
  }
  out.push(Array.from(net.forward(v, false).w));
}
process.stdout.write(JSON.stringify(out));
