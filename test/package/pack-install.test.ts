// nablax as a dependency: `npm pack` the checkout, install the tarball offline in a temporary project (its
// dependencies come from npm's cache, through a lockfile derived from this checkout's), run the README's library
// example there and check that it uses the WebAssembly kernels; then remove the installed build/ and check that
// the library itself says, once, that it fell back to the TypeScript kernels. Also: what the tarball holds.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot as root } from '../docs/built.js';

const show = (r: SpawnSyncReturns<string>) => `exit ${r.status} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** The README's block that follows the heading `## Installing nablax as a dependency` and is fenced ```js. */
function readmeExample(): string {
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const at = md.indexOf('## Installing nablax as a dependency');
  expect(at, 'README section "Installing nablax as a dependency"').toBeGreaterThan(0);
  const m = /```js\n([\s\S]*?)```/.exec(md.slice(at));
  expect(m, 'a ```js block in that section').not.toBeNull();
  return m![1];
}

let work: string;
let project: string;
let files: string[];

beforeAll(() => {
  ensureBuilt(); // the tarball packs dist/ and build/ as they are
  work = mkdtempSync(join(tmpdir(), 'nablax-pack-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  ) as { filename: string; files: { path: string }[] }[];
  files = packed[0].files.map((f) => f.path);
  const tarball = packed[0].filename;

  // A project depending on the tarball, with a lockfile listing nablax's runtime dependencies exactly as this
  // checkout's lockfile resolves them, so that `npm ci --offline` takes every one from npm's cache.
  project = join(work, 'my-project');
  execFileSync('mkdir', [project]);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const spec = `file:../${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'my-project', version: '1.0.0', dependencies: { nablax: spec } },
    'node_modules/nablax': { version: pkg.version, resolved: spec, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-project', version: '1.0.0', private: true, type: 'module', dependencies: { nablax: spec } }, null, 2));
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: 'my-project', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, stdio: 'pipe', timeout: 120_000 });
  writeFileSync(join(project, 'example.mjs'), readmeExample());
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function runExample(): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['example.mjs'], { cwd: project, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NABLAX_KERNELS: '' } });
}

describe('npm pack, then install in another project', () => {
  it('the tarball holds the compiled library, its types, the CLI (with the benchmark `nablax bench` runs, now under dist/src) and the built WebAssembly, and no sources, tests or docs', () => {
    for (const f of ['package.json', 'README.md', 'build/kernels.wasm', 'build/kernels-fma.wasm', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/src/experiments/bench/throughput.js']) {
      expect(files, f).toContain(f);
    }
    const foreign = files.filter((f) => !/^(package\.json|README\.md|LICENSE|build\/[^/]+\.wasm|dist\/src\/.+\.(js|d\.ts))$/.test(f));
    expect(foreign).toEqual([]);
  });

  it("the README's library example runs there on the WebAssembly kernels, silently", () => {
    const r = runExample();
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout, show(r)).toMatch(/^kernels: wasm-simd(-fma)?; test accuracy \d+\.\d% on 1,000 digits; ∇x of digit 0 has shape \[1,1,28,28\]\n$/);
    const accuracy = Number(/accuracy (\d+\.\d)%/.exec(r.stdout)![1]);
    expect(accuracy, 'one epoch on 2,000 digits learns something').toBeGreaterThan(60);
    expect(r.stderr, show(r)).not.toMatch(/TypeScript kernels/);
  });

  it('the installed command line runs: npx nablax --version, and every command loads (--help)', () => {
    const r = spawnSync('npx', ['--offline', 'nablax', '--version'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    const help = spawnSync(process.execPath, ['node_modules/nablax/dist/src/cli/main.js', 'bench', '--help'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(help.status, show(help)).toBe(0);
    expect(help.stdout + help.stderr).toMatch(/Usage: nablax bench/);
  });

  it('without the built WebAssembly the library says so once on stderr, at its first kernel use, and still runs', () => {
    rmSync(join(project, 'node_modules/nablax/build'), { recursive: true });
    // a small script rather than the example (which trains): importing prints nothing, the first op does
    writeFileSync(
      join(project, 'small.mjs'),
      [
        "import { Tensor, linear, kernels } from 'nablax';",
        "console.log('imported');",
        'const y = linear(Tensor.from([1, 2], [1, 2]), Tensor.from([1, 0, 0, 1], [2, 2]), Tensor.from([0, 1], [2]));',
        'console.log(`kernels: ${kernels().name}; y = ${Array.from(y.data)}`);',
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, ['small.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout, show(r)).toBe('imported\nkernels: typescript; y = 1,3\n');
    const notices = r.stderr.split('\n').filter((l) => l.includes('TypeScript kernels'));
    expect(notices, show(r)).toEqual(['nablax: WebAssembly kernels not found (build/kernels.wasm; in a source checkout run `npm run build:wasm`); using the slower TypeScript kernels']);
  });
});
