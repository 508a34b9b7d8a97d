// Every layer passes a float64 finite-difference check for its input and each parameter; modes and specs behave.
import { describe, expect, it, vi } from 'vitest';
import { gradcheck } from '../../src/engine/gradcheck.js';
import { setPoolDw, setPoolDx } from '../../src/engine/kernels/wasm.js';
import { Rng } from '../../src/engine/random.js';
import { convOps } from '../../src/engine/ops/conv.js';
import { softmaxCrossEntropy } from '../../src/engine/ops/loss.js';
import { normOps } from '../../src/engine/ops/norm.js';
import { grad, noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { Flatten, Maxout, ReLU, Sigmoid, Tanh } from '../../src/layers/activations.js';
import { BatchNorm, enableAuxBatchNorm, withAuxBatchNorm } from '../../src/layers/batchnorm.js';
import { Conv2D } from '../../src/layers/conv2d.js';
import { Dense } from '../../src/layers/dense.js';
import { Dropout } from '../../src/layers/dropout.js';
import type { Layer } from '../../src/layers/layer.js';
import { allLayers, isLayerType, layerTypeOf, type LayerSpec, type LayerTypeName } from '../../src/layers/layer-types.js';
import { AvgPool2D, MaxPool2D } from '../../src/layers/pool.js';
import { Sequential } from '../../src/layers/sequential.js';
import { buildLayer, buildModel } from '../../src/layers/spec.js';
import { zooNames, zooSpec } from '../../src/layers/zoo.js';
import { distinct, rand } from '../helpers.js';

const f64 = { dtype: 'float64' as const };

function checkLayer(layer: Layer, x: Tensor) {
  const params = layer.parameters().map(([, t]) => t);
  const r = gradcheck(([xi]) => layer.forward(xi), [x, ...params]);
  r.maxRelError.forEach((e, i) => expect(e, i === 0 ? 'input' : layer.parameters()[i - 1][0]).toBeLessThan(1e-6));
}

describe('every layer passes a float64 finite-difference check (input and parameters)', () => {
  const bn2 = () => {
    const b = new BatchNorm(3, 2, 0.1, 1e-5, 'float64');
    b.weight = rand([3], 5, 0.5, 1.5).requireGrad();
    b.bias = rand([3], 6).requireGrad();
    return b;
  };
  const dropout = () => {
    const d = new Dropout(0.5, new Rng(3));
    d.fixedMask = Float64Array.from({ length: 12 }, (_, i) => (i % 2 ? 2 : 0));
    return d;
  };
  // Typed by the record of layer types: a new entry in allLayers does not compile until it has a case here.
  const cases: Record<LayerTypeName, [string, () => Layer, () => Tensor][]> = {
    dense: [['Dense', () => new Dense(6, 4, { rng: new Rng(1), ...f64 }), () => rand([3, 6], 1)]],
    conv2d: [['Conv2D stride 2 padding 1', () => new Conv2D(2, 3, 3, { stride: 2, padding: 1, rng: new Rng(2), ...f64 }), () => rand([2, 2, 7, 7], 2)]],
    maxpool2d: [['MaxPool2D', () => new MaxPool2D(2), () => distinct([2, 2, 6, 6], 3)]],
    avgpool2d: [['AvgPool2D', () => new AvgPool2D(3, 2, 1), () => rand([2, 2, 7, 7], 4)]],
    relu: [['ReLU', () => new ReLU(), () => distinct([3, 5], 5)]],
    tanh: [['Tanh', () => new Tanh(), () => rand([3, 5], 6)]],
    sigmoid: [['Sigmoid', () => new Sigmoid(), () => rand([3, 5], 7)]],
    maxout: [['Maxout', () => new Maxout(4), () => distinct([3, 8], 8)]],
    dropout: [['Dropout with a fixed mask', dropout, () => rand([3, 4], 13)]],
    batchnorm1d: [['BatchNorm1d training', () => { const b = new BatchNorm(4, 1, 0.1, 1e-5, 'float64'); b.weight = rand([4], 3, 0.5, 1.5).requireGrad(); return b; }, () => rand([5, 4], 10)]],
    batchnorm2d: [
      ['BatchNorm2d training', bn2, () => rand([2, 3, 3, 3], 11)],
      ['BatchNorm2d evaluation', () => { const b = bn2().eval(); b.runningMean = rand([3], 7); b.runningVar = rand([3], 8, 0.5, 2); return b; }, () => rand([2, 3, 3, 3], 12)],
    ],
    flatten: [['Flatten', () => new Flatten(), () => rand([2, 3, 2, 2], 9)]],
  };
  for (const [type, list] of Object.entries(cases)) {
    for (const [name, make, input] of list) {
      it(name, () => {
        const layer = make();
        expect(layer.spec().type, 'the case checks a layer of its own type').toBe(type);
        checkLayer(layer, input());
      });
    }
  }

  it('a Sequential stack (conv, batch-norm, pool, flatten, dense)', () => {
    const m = buildModel(
      { input: [1, 8, 8], layers: [
        { type: 'conv2d', in: 1, out: 2, kernel: 3, padding: 1 }, { type: 'batchnorm2d', features: 2 }, { type: 'tanh' },
        { type: 'avgpool2d', kernel: 2 }, { type: 'flatten' }, { type: 'dense', in: 32, out: 3 },
      ] },
      { seed: 4, dtype: 'float64' },
    );
    const params = m.parameters().map(([, t]) => t);
    const r = gradcheck(([x]) => m.forward(x), [rand([3, 1, 8, 8], 14, 0, 1), ...params]);
    r.maxRelError.forEach((e) => expect(e).toBeLessThan(1e-6));
  });
});

describe('Sequential fuses Conv2D → ReLU → MaxPool2D(2) into one op', () => {
  /** Logits and the gradient of a loss with respect to the input and every parameter. */
  function run(m: Sequential, x: Tensor) {
    const xi = x.detach().requireGrad();
    const logits = m.forward(xi);
    const params = m.parameters().map(([, t]) => t);
    const gs = grad(softmaxCrossEntropy(logits, [3, 1, 4, 1, 5]), [xi, ...params]);
    return [logits, ...gs].map((t) => Array.from(t.data));
  }

  it('the cnn gives the same logits and gradients fused and unfused (float32 wasm kernels, float64 reference)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const routed of [false, true]) {
        const prev = [setPoolDx(routed), setPoolDw(routed)];
        try {
          const m = buildModel(zooSpec('cnn'), { seed: 6, dtype });
          const x = Tensor.uniform([5, 1, 28, 28], 0, 1, new Rng(16), dtype);
          const fwd = vi.spyOn(convOps.conv2dReluMaxPool, 'forward');
          const fused = run(m, x);
          expect(fwd).toHaveBeenCalledTimes(2); // both conv blocks of the cnn
          fwd.mockRestore();
          m.fuse = false;
          const plain = run(m, x);
          // logits [0], then ∇x [1], conv1.weight [2], conv1.bias [3], conv2's and the dense layers' gradients
          fused.forEach((a, i) => {
            const what = `${dtype} output ${i}, conv_pool_dx and conv_pool_dw ${routed}`;
            // in float32 the fused blocks' dX, dW and dB from their routes add the same products in another order: ∇x
            // and both blocks' gradients agree within rounding
            if (dtype === 'float32' && routed && i >= 1 && i <= 5) {
              const scale = Math.max(...plain[i].map(Math.abs));
              expect(Math.max(...a.map((v, j) => Math.abs(v - plain[i][j]))), what).toBeLessThan(1e-5 * scale);
            } else expect(a, what).toEqual(plain[i]);
          });
        } finally {
          setPoolDx(prev[0]);
          setPoolDw(prev[1]);
        }
      }
    }
  });

  it('folds cnn-bn\'s batch-norms into its blocks in evaluation mode: logits and every gradient as the layers one by one, up to rounding', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const m = buildModel(zooSpec('cnn-bn'), { seed: 7, dtype });
      const x = Tensor.uniform([5, 1, 28, 28], 0, 1, new Rng(17), dtype);
      run(m, x); // one training step's statistics: running means and variances away from 0 and 1
      const bns = m.layers.filter((l): l is BatchNorm => l instanceof BatchNorm);
      for (const bn of bns) bn.weight.data.forEach((_, c, a) => { a[c] = 0.5 + c / 10; });
      expect(bns[0].runningMean.data.some((v) => Math.abs(v) > 1e-3)).toBe(true);
      m.eval();
      const fwd = vi.spyOn(convOps.conv2dReluMaxPool, 'forward');
      const fused = run(m, x);
      expect(fwd).toHaveBeenCalledTimes(2); // both blocks, each with its batch-norm folded in
      fwd.mockRestore();
      m.fuse = false;
      const plain = run(m, x);
      fused.forEach((a, i) => {
        const scale = Math.max(...plain[i].map(Math.abs));
        expect(Math.max(...a.map((v, j) => Math.abs(v - plain[i][j]))), `${dtype} output ${i}`).toBeLessThan((dtype === 'float32' ? 1e-5 : 1e-12) * scale);
      });
      // routed through AdvProp's auxiliary set, the fold takes that set
      m.fuse = true;
      enableAuxBatchNorm(m);
      for (const bn of bns) bn.aux!.runningMean.data.forEach((_, c, a) => { a[c] = 0.1 * c; });
      const auxFused = withAuxBatchNorm(m, () => run(m, x));
      m.fuse = false;
      const auxPlain = withAuxBatchNorm(m, () => run(m, x));
      expect(Math.max(...auxFused[0].map((v, j) => Math.abs(v - auxPlain[0][j]))), `${dtype} auxiliary logits`).toBeLessThan(1e-5 * Math.max(...auxPlain[0].map(Math.abs)));
      expect(auxFused[0]).not.toEqual(fused[0]);
      // in training mode the batch's statistics normalise: nothing to fold, nothing fused
      m.fuse = true;
      m.train();
      const trainFwd = vi.spyOn(convOps.conv2dReluMaxPool, 'forward');
      run(m, x);
      expect(trainFwd).not.toHaveBeenCalled();
      trainFwd.mockRestore();
    }
  });

  it("runs cnn-bn's BatchNorm2d → ReLU → MaxPool2D(2) as one op in training mode: the same logits, gradients and running statistics", () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const aux of [false, true]) {
        const stats = (m: Sequential) => m.buffers().map(([, t]) => Array.from(t.data));
        const x = Tensor.uniform([5, 1, 28, 28], 0, 1, new Rng(19), dtype);
        const fusedModel = buildModel(zooSpec('cnn-bn'), { seed: 9, dtype }), plainModel = buildModel(zooSpec('cnn-bn'), { seed: 9, dtype });
        plainModel.fuse = false;
        if (aux) for (const m of [fusedModel, plainModel]) enableAuxBatchNorm(m);
        const fwd = vi.spyOn(normOps.batchNormReluMaxPool, 'forward');
        const fused = aux ? withAuxBatchNorm(fusedModel, () => run(fusedModel, x)) : run(fusedModel, x);
        expect(fwd).toHaveBeenCalledTimes(2); // both blocks' batch-norms
        fwd.mockRestore();
        const plain = aux ? withAuxBatchNorm(plainModel, () => run(plainModel, x)) : run(plainModel, x);
        // the wasm kernels fused and one by one do the same operations (float32); so does the reference (float64)
        fused.forEach((a, i) => expect(a, `${dtype} output ${i}${aux ? ', auxiliary set' : ''}`).toEqual(plain[i]));
        expect(stats(fusedModel)).toEqual(stats(plainModel));
        const fresh = buildModel(zooSpec('cnn-bn'), { seed: 9, dtype });
        if (aux) enableAuxBatchNorm(fresh);
        expect(stats(fusedModel)).not.toEqual(stats(fresh)); // the step moved them (the auxiliary set's, when routed there)
      }
    }
  });

  it('BatchNorm.forwardReluPool refuses a BatchNorm1d and a map of another width, one line each', () => {
    expect(() => new BatchNorm(4, 1).forwardReluPool(Tensor.zeros([2, 4]))).toThrow(/BatchNorm1d.forwardReluPool: x must be \[N, 4, H, W\] of a BatchNorm2d, got \[2, 4\]/);
    expect(() => new BatchNorm(4, 2).forwardReluPool(Tensor.zeros([2, 3, 4, 4]))).toThrow(/BatchNorm2d.forwardReluPool: x must be \[N, 4, H, W\]/);
    expect(() => new BatchNorm(4, 2).forwardReluPool(Tensor.zeros([2, 4, 1, 4]))).toThrow(/batchNormReluMaxPool: 1×4 maps are too small for 2×2 pooling/);
  });

  it('BatchNorm.foldInto refuses training mode and a convolution of another width, one line each', () => {
    const bn = new BatchNorm(4, 2);
    const w = Tensor.zeros([4, 1, 3, 3]), b = Tensor.zeros([4]);
    expect(() => bn.foldInto(w, b)).toThrow(/foldInto: only in evaluation mode/);
    bn.eval();
    expect(() => bn.foldInto(Tensor.zeros([3, 1, 3, 3]), Tensor.zeros([3]))).toThrow(/foldInto: a convolution of 4 outputs, got weight \[3, 1, 3, 3\]/);
    const { weight, bias } = bn.foldInto(w, b);
    expect(weight.shape).toEqual([4, 1, 3, 3]);
    expect(bias.shape).toEqual([4]);
  });

  it('runs a convolution and ReLU without 2×2 pooling as conv2dRelu: the same logits and gradients as the layers one by one', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const m = buildModel(zooSpec('smallcnn'), { seed: 8, dtype });
      m.eval(); // dropout off: the same function both ways
      const x = Tensor.uniform([5, 1, 28, 28], 0, 1, new Rng(18), dtype);
      const relu = vi.spyOn(convOps.conv2dRelu, 'forward'), pool = vi.spyOn(convOps.conv2dReluMaxPool, 'forward');
      const fused = run(m, x);
      expect(relu).toHaveBeenCalledTimes(2); // smallcnn's first and third convolutions
      expect(pool).toHaveBeenCalledTimes(2); // its second and fourth, each with the pooling after it
      relu.mockRestore();
      pool.mockRestore();
      m.fuse = false;
      const plain = run(m, x);
      fused.forEach((a, i) => expect(a, `${dtype} output ${i}`).toEqual(plain[i]));
    }
  });

  it('leaves other runs alone: 3×3 pooling, or a layer between the convolution and the ReLU', () => {
    const fwd = vi.spyOn(convOps.conv2dReluMaxPool, 'forward');
    for (const layers of [
      [{ type: 'conv2d', in: 1, out: 2, kernel: 3 }, { type: 'relu' }, { type: 'maxpool2d', kernel: 3 }],
      [{ type: 'conv2d', in: 1, out: 2, kernel: 3 }, { type: 'batchnorm2d', features: 2 }, { type: 'relu' }, { type: 'maxpool2d', kernel: 2 }],
    ] as LayerSpec[][]) {
      buildModel({ input: [1, 9, 9], layers }, { seed: 7 }).forward(Tensor.uniform([2, 1, 9, 9], 0, 1, new Rng(17)));
    }
    expect(fwd).not.toHaveBeenCalled();
    fwd.mockRestore();
  });
});

describe('the gradient at the data: every zoo model, input gradient by finite differences', () => {
  // the big models (float64 runs on the TypeScript kernels) check fewer input pixels, at the same tolerance
  const sample: Record<string, number> = { 'cnn-w2': 60, 'cnn-w4': 30, madry: 30, smallcnn: 30 };
  for (const name of zooNames) {
    it(name, () => {
      const m = buildModel(zooSpec(name), { seed: 5, dtype: 'float64' }).eval();
      const x = rand([2, 1, 28, 28], 15, 0, 1);
      const params = m.parameters().map(([, t]) => t);
      const r = gradcheck(([xi]) => m.forward(xi), [x, ...params], { check: [true, ...params.map(() => false)], sample: sample[name] ?? 200 });
      expect(r.maxRelError[0]).toBeLessThan(1e-6);
      expect(r.analytic[0].data.some((v) => v !== 0)).toBe(true);
    });
  }
});

describe('modes, names and specs', () => {
  it('zoo state_dict names and shapes follow torch.nn.Sequential', () => {
    const cnn = buildModel(zooSpec('cnn'));
    expect(cnn.stateDict().map(([n, t]) => `${n} ${t.shape.join('x')}`)).toEqual([
      '0.weight 16x1x5x5', '0.bias 16', '3.weight 32x16x5x5', '3.bias 32', '7.weight 128x512', '7.bias 128', '9.weight 10x128', '9.bias 10',
    ]);
    expect(cnn.numParameters()).toBe(80202);
    expect(buildModel(zooSpec('softmax')).stateDict().map(([n]) => n)).toEqual(['1.weight', '1.bias']);
    expect(buildModel(zooSpec('maxout')).numParameters()).toBe(784 * 1200 + 1200 + 240 * 1200 + 1200 + 2410);
  });

  it('madry, smallcnn and the wide cnns are named and shaped as their torch.nn.Sequential', () => {
    const names = (name: string) => buildModel(zooSpec(name)).stateDict().map(([n, t]) => `${n} ${t.shape.join('x')}`);
    expect(names('madry')).toEqual([
      '0.weight 32x1x5x5', '0.bias 32', '3.weight 64x32x5x5', '3.bias 64', '7.weight 1024x3136', '7.bias 1024', '9.weight 10x1024', '9.bias 10',
    ]);
    // Madry et al.'s MNIST challenge model: 3,274,634 parameters
    expect(buildModel(zooSpec('madry')).numParameters()).toBe(3274634);
    expect(names('smallcnn')).toEqual([
      '0.weight 32x1x3x3', '0.bias 32', '2.weight 32x32x3x3', '2.bias 32', '5.weight 64x32x3x3', '5.bias 64',
      '7.weight 64x64x3x3', '7.bias 64', '11.weight 200x1024', '11.bias 200', '14.weight 200x200', '14.bias 200', '16.weight 10x200', '16.bias 10',
    ]);
    const small = buildModel(zooSpec('smallcnn'));
    // TRADES' SmallCNN: 312,202 parameters (the ~312 k of Croce & Hein's table), dropout 0.5 after fc1's ReLU
    expect(small.numParameters()).toBe(312202);
    expect(small.spec().layers[13]).toEqual({ type: 'dropout', p: 0.5 });
    expect(names('cnn-w2')).toEqual([
      '0.weight 32x1x5x5', '0.bias 32', '3.weight 64x32x5x5', '3.bias 64', '7.weight 256x1024', '7.bias 256', '9.weight 10x256', '9.bias 10',
    ]);
    expect(names('cnn-w4')).toEqual([
      '0.weight 64x1x5x5', '0.bias 64', '3.weight 128x64x5x5', '3.bias 128', '7.weight 512x2048', '7.bias 512', '9.weight 10x512', '9.bias 10',
    ]);
    // the madry model keeps 28×28 through its same-padded convolutions; each model maps a batch to 10 logits
    for (const name of ['madry', 'smallcnn', 'cnn-w2']) {
      expect(noGrad(() => buildModel(zooSpec(name)).eval().forward(Tensor.zeros([3, 1, 28, 28]))).shape).toEqual([3, 10]);
    }
  });

  it('cnn-bn is the cnn with BatchNorm2d after each conv, named as torch.nn.Sequential names it', () => {
    const m = buildModel(zooSpec('cnn-bn'));
    expect(m.stateDict().map(([n, t]) => `${n} ${t.shape.join('x')}`)).toEqual([
      '0.weight 16x1x5x5', '0.bias 16', '1.weight 16', '1.bias 16', '1.running_mean 16', '1.running_var 16',
      '4.weight 32x16x5x5', '4.bias 32', '5.weight 32', '5.bias 32', '5.running_mean 32', '5.running_var 32',
      '9.weight 128x512', '9.bias 128', '11.weight 10x128', '11.bias 10',
    ]);
    expect(m.spec().layers.map((l) => l.type)).toEqual(['conv2d', 'batchnorm2d', 'relu', 'maxpool2d', 'conv2d', 'batchnorm2d', 'relu', 'maxpool2d', 'flatten', 'dense', 'relu', 'dense']);
    expect(m.numParameters()).toBe(80202 + 2 * (16 + 32));
    expect(m.auxStateDict()).toEqual([]);
  });

  it('dropout is the identity in evaluation and drops about p in training', () => {
    const d = new Dropout(0.5, new Rng(1));
    const x = Tensor.full([1000], 1);
    const y = d.forward(x);
    const kept = y.toArray().filter((v) => v !== 0);
    expect(kept.length).toBeGreaterThan(400);
    expect(kept.length).toBeLessThan(600);
    expect(kept.every((v) => v === 2)).toBe(true);
    expect(d.eval().forward(x)).toBe(x);
  });

  it('batch-norm updates running statistics only in training, and uses them in evaluation', () => {
    const bn = new BatchNorm(2, 1);
    const x = Tensor.from([1, 10, 3, 20, 5, 30], [3, 2]);
    noGrad(() => bn.forward(x));
    expect(bn.runningMean.data[0]).toBeCloseTo(0.1 * 3, 6);
    expect(bn.runningVar.data[1]).toBeCloseTo(0.9 + 0.1 * 100, 4); // unbiased var of 10, 20, 30 is 100
    bn.eval();
    const before = bn.runningMean.toArray();
    const y = noGrad(() => bn.forward(x));
    expect(bn.runningMean.toArray()).toEqual(before);
    expect(y.data[0]).toBeCloseTo((1 - 0.3) / Math.sqrt(bn.runningVar.data[0] + 1e-5), 5);
  });

  it('rejects a wrong input shape and NaN inputs with a clear message', () => {
    const m = buildModel(zooSpec('cnn'));
    expect(() => m.forward(Tensor.zeros([2, 28, 28]))).toThrow(/Sequential.forward: x must be \[N, 1, 28, 28\], got \[2, 28, 28\]/);
    const x = Tensor.zeros([1, 1, 28, 28]);
    x.data[5] = NaN;
    expect(() => m.forward(x)).toThrow(/input contains NaN at flat index 5/);
  });

  it('rejects bad specs naming the layer', () => {
    expect(() => zooSpec('resnet')).toThrow(/unknown model 'resnet'/);
    expect(() => buildModel({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'dense', in: 100, out: 10 }] })).toThrow(
      /layer 1 \(dense\) does not fit: Dense.forward: x must be \[N, 100\], got \[2, 784\]/,
    );
    expect(() => buildModel({ input: [1, 28, 28], layers: [{ type: 'conv' } as never] })).toThrow(/unknown layer type "conv"/);
    expect(() => buildModel({ input: [1, 28, 28], layers: [{ type: 'dropout', p: 1.5 }] })).toThrow(/'p' must be in \[0, 1\)/);
  });

  it('the same seed gives the same weights; another seed different ones', () => {
    const a = buildModel(zooSpec('mlp'), { seed: 7 }).parameters()[0][1];
    const b = buildModel(zooSpec('mlp'), { seed: 7 }).parameters()[0][1];
    const c = buildModel(zooSpec('mlp'), { seed: 8 }).parameters()[0][1];
    expect(a.data).toEqual(b.data);
    expect(a.data).not.toEqual(c.data);
  });
});

describe('the record of layer types (allLayers)', () => {
  // One spec per type, typed by the record: a new layer type does not compile until it has one here.
  const specs: { [K in LayerTypeName]: Extract<LayerSpec, { type: K }> } = {
    dense: { type: 'dense', in: 6, out: 4 },
    conv2d: { type: 'conv2d', in: 2, out: 3, kernel: 3, stride: 2, padding: 1 },
    maxpool2d: { type: 'maxpool2d', kernel: 2, stride: 2, padding: 0 },
    avgpool2d: { type: 'avgpool2d', kernel: 3, stride: 2, padding: 1 },
    relu: { type: 'relu' },
    tanh: { type: 'tanh' },
    sigmoid: { type: 'sigmoid' },
    maxout: { type: 'maxout', pieces: 4 },
    dropout: { type: 'dropout', p: 0.25 },
    batchnorm1d: { type: 'batchnorm1d', features: 4, momentum: 0.2, eps: 1e-3 },
    batchnorm2d: { type: 'batchnorm2d', features: 3, momentum: 0.1, eps: 1e-5 },
    flatten: { type: 'flatten' },
  };
  const n = { zIn: 'z₇', zOut: 'z₈', up: '∂J/∂z₈', sub: '₇', inShape: [6, 4, 4] };

  it('every type builds from its spec and gives the same spec back; trace names it and writes its backward', () => {
    expect(Object.keys(specs).sort()).toEqual(Object.keys(allLayers).sort()); // any order: the compiler already asks for each
    for (const [type, spec] of Object.entries(specs)) {
      expect(buildLayer(spec, new Rng(1)).spec(), type).toEqual(spec);
      const entry = layerTypeOf(spec);
      expect(entry.name(spec, n).startsWith(type), type).toBe(true);
      expect(entry.derivative(spec, n), type).toContain('∂J/∂z₈');
    }
    expect(layerTypeOf(specs.dense).derivative(specs.dense, n)).toBe('∂J/∂z₈ · W₇');
    expect(layerTypeOf(specs.flatten).derivative(specs.flatten, n)).toBe('reshape(∂J/∂z₈, 6×4×4)');
  });

  it("buildLayer's error lists every type of the record, and only the record's own keys are types", () => {
    // the record's own keys, in its order: a new layer type needs no edit here
    const expected = `expected ${Object.keys(allLayers).join(', ')}`;
    expect(expected).toMatch(/^expected dense, conv2d, .*flatten/);
    expect(() => buildLayer({ type: 'lstm' } as never, new Rng(0))).toThrow(`layer: unknown layer type "lstm" (${expected})`);
    expect(() => buildLayer({ type: 'toString' } as never, new Rng(0))).toThrow(/unknown layer type "toString"/);
    expect(isLayerType('dense')).toBe(true);
    expect(isLayerType('constructor')).toBe(false);
    expect(() => layerTypeOf({ type: 'lstm' } as never)).toThrow(/layerTypeOf: spec.type must be one of dense, .*, got "lstm"/);
  });

  it('only dropout is stochastic; reseed gives it the generator its masks come from, and the others ignore it', () => {
    for (const [type, spec] of Object.entries(specs)) expect(buildLayer(spec, new Rng(1)).stochastic, type).toBe(type === 'dropout');
    const masks = (seed: number) => {
      const d = new Dropout(0.5, new Rng(99));
      d.reseed(new Rng(seed));
      d.forward(Tensor.full([64], 1));
      return Array.from(d.lastMask ?? []);
    };
    expect(masks(4)).toEqual(masks(4));
    expect(masks(4)).not.toEqual(masks(5));
    const relu = new ReLU();
    relu.reseed(new Rng(4));
    expect(relu.forward(Tensor.from([-1, 2], [2])).toArray()).toEqual([0, 2]);
  });
});
