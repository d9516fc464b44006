// Builds a net in ConvNetJS itself from layer_defs, for comparing shapes and imports.
//
//   node convnetjs_make.js LAYER_DEFS.json OUT.json
//
// Writes the freshly initialised net's toJSON() to OUT.json and prints, for every layer
// ConvNetJS made (after its own desugaring), a JSON list of
// {"type", "out_sx", "out_sy", "out_depth", "params"}.
"use strict";
const fs = require("fs");
const convnetjs = require("convnetjs");

const [defsPath, outPath] = process.argv.slice(2);
if (!defsPath || !outPath) {
  console.error("usage: node convnetjs_make.js LAYER_DEFS.json OUT.json");
  process.exit(2);
}
const net = new convnetjs.Net();
net.makeLayers(JSON.parse(fs.readFileSync(defsPath, "utf8")));
fs.writeFileSync(outPath, JSON.stringify(net.toJSON()));
const layers = net.layers.map((L) => ({
  type: L.layer_type,
  out_sx: L.out_sx,
  out_sy: L.out_sy,
  out_depth: L.out_depth,
  params: L.getParamsAndGrads().reduce((n, pg) => n + pg.params.length, 0),
}));
process.stdout.write(JSON.stringify(layers));
