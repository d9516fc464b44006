// The benchmark page's ConvNetJS side: trains ConvNetJS's own CIFAR-10 net on the images the
// page sends, with the same recipe as cp_worker.bench() (see bench.html), and posts images/s.
"use strict";
self.window = self;  // convnet-min.js exports itself as window.convnetjs
importScripts("convnet-min.js");

self.onmessage = (e) => {
  const { images, labels, n, batch, layer_defs } = e.data;
  try {
    const net = new convnetjs.Net();
    net.makeLayers(layer_defs);
    const trainer = new convnetjs.SGDTrainer(net, { method: "adadelta", batch_size: batch, l2_decay: 0.0001 });
    // ConvNetJS's Vol is (x, y, depth) with w[(sx * y + x) * depth + d]: the same order as our uint8 HWC.
    const vols = [];
    for (let i = 0; i < n; i++) {
      const v = new convnetjs.Vol(32, 32, 3, 0.0);
      for (let j = 0; j < 3072; j++) v.w[j] = images[i * 3072 + j] / 255.0 - 0.5;
      vols.push(v);
    }
    let first = 0;
    for (let i = 0; i < batch; i++) first += trainer.train(vols[i], labels[i]).cost_loss / batch;  // warm-up
    const t0 = performance.now();
    let last = 0;
    for (let i = 0; i < n; i++) last = trainer.train(vols[i], labels[i]).cost_loss;
    const seconds = (performance.now() - t0) / 1000;
    self.postMessage({ images_per_s: n / seconds, seconds, n, batch, loss_first: first, loss_last: last });
  } catch (err) {
    self.postMessage({ error: String(err && err.message || err) });
  }
};
