// `nablax grad`: ∇x of chosen test images, drawn as a PNG of each digit beside its gradient heat maps.
import type { Command } from 'commander';
import { inputGradient } from '../attacks/input-gradient.js';
import { softmax } from '../engine/ops/loss.js';
import { loadModelOption } from './model-option.js';
import { writeFileAtomic } from '../io/atomic.js';
import { renderGradientFigure } from '../report/gradient-figure.js';
import { loadDataset } from '../data/datasets.js';
import { argmax, outputClasses } from '../layers/predict.js';
import type { GradJson } from '../report/json-types.js';
import { dataOption, indexOption, jsonOption, outOption } from './options.js';
import { claimOutputs, int, letInterruptIn, pickImages, printJson, result, say, UsageError } from './util.js';

export function registerGrad(program: Command): void {
  const cmd = program
    .command('grad')
    .description('∇x of chosen test images, saved as a PNG of each digit beside its gradient heat maps')
    .requiredOption('--model-file <path>', 'model file (.safetensors)')
    .option('--target <class>', 'differentiate the loss toward this class instead of the true label', int('--target', 0));
  indexOption(cmd, [0, 1, 2, 3, 4, 5, 6, 7]);
  dataOption(cmd, 'mnist', 'test data');
  outOption(cmd, 'file', 'PNG to write', 'runs/grad.png');
  jsonOption(cmd).action(async (o) => {
      claimOutputs([{ path: o.out, kind: 'file', flag: '--out' }]);
      const { model } = loadModelOption(o);
      const ds = loadDataset(o.data, 'test', outputClasses(model));
      const { x, y } = pickImages(ds, o.index);
      const classes = ds.numClasses;
      if (o.target !== undefined && o.target >= classes) throw new UsageError(`--target ${o.target} is not a class in 0..${classes - 1}`);
      const targets = o.target !== undefined ? Array.from(y, () => o.target as number) : undefined;
      const g = inputGradient(model, x, y, { targets });
      await letInterruptIn(); // a Ctrl-C during the gradient stops here
      const p = softmax(g.logits);
      const pred = argmax(g.logits);
      const per = x.size / x.shape[0];
      const [, , H, W] = x.shape;
      const C = p.shape[1];
      const images = o.index.map((index: number, n: number) => {
        const dx = g.dx.data.subarray(n * per, (n + 1) * per);
        let l1 = 0, l2 = 0, li = 0;
        for (const v of dx) {
          l1 += Math.abs(v);
          l2 += v * v;
          li = Math.max(li, Math.abs(v));
        }
        return { index, label: y[n], predicted: pred[n], confidence: p.data[n * C + pred[n]], loss: g.losses[n], gradL1: l1, gradL2: Math.sqrt(l2), gradLinf: li };
      });
      const rows = images.map((im: (typeof images)[number], n: number) => ({
        image: x.data.subarray(n * per, n * per + H * W),
        dx: g.dx.data.subarray(n * per, n * per + H * W),
        h: H,
        w: W,
        caption: `#${im.index} y=${im.label} pred ${im.predicted} (${im.confidence.toFixed(2)})`,
      }));
      const png = renderGradientFigure(rows, o.target !== undefined ? `∇x J(x, t=${o.target})` : '∇x J(x, y)').toPng();
      await letInterruptIn(); // and here, after the drawing (many images take a while): nothing written yet
      writeFileAtomic(o.out, png);
      const doc: GradJson = { modelFile: o.modelFile, target: o.target ?? null, out: o.out, images };
      if (o.json) printJson(doc);
      else {
        for (const im of images) {
          result(`#${im.index} label ${im.label} predicted ${im.predicted} (${im.confidence.toFixed(2)}) loss ${im.loss.toFixed(4)}  ‖∇x J‖₁ ${im.gradL1.toPrecision(4)} ‖·‖₂ ${im.gradL2.toPrecision(4)} ‖·‖∞ ${im.gradLinf.toPrecision(4)}`);
        }
        say(`wrote ${o.out}`);
      }
    });
}
