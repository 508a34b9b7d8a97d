// dist/ and build/ as the command line and the package use them: rebuilt when missing or older than the sources
// (npm ci builds both; a test that runs `node dist/…` after an edit to src/ must not run stale code).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The newest modification time of the files under `dir` whose names end in `ext`. */
function newest(dir: string, ext: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(ext)) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** Build build/*.wasm and dist/ if they are missing or older than their sources. */
export function ensureBuilt(): void {
  const wasm = ['kernels.wasm', 'kernels-fma.wasm'].map((f) => join(repoRoot, 'build', f));
  if (!wasm.every(existsSync) || Math.min(...wasm.map((f) => statSync(f).mtimeMs)) < newest(join(repoRoot, 'src/engine/kernels/wasm'), '.wat')) {
    execFileSync(process.execPath, ['scripts/build-wasm.mjs'], { cwd: repoRoot, stdio: 'pipe' });
  }
  const sources = Math.max(newest(join(repoRoot, 'src'), '.ts'), newest(join(repoRoot, 'bench'), '.ts'));
  if (!existsSync(join(repoRoot, 'dist/src/cli/main.js')) || newest(join(repoRoot, 'dist'), '.js') < sources) {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'pipe' });
  }
}
