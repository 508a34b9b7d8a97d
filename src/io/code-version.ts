// Which code measured a result: the package's version, the git commit of a source checkout (and whether it had
// uncommitted changes), and the kernels in use. A resumable run records it with each piece it keeps, so that a
// report combining pieces measured on different days can say that they came from different code.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernels } from '../engine/kernels/kernels.js';
import { packageRoot } from '../engine/package-root.js';

let cached: string | null = null;

/**
 * The checkout's commit (12 hex digits); when tracked files have uncommitted changes, '+' and the first 8 hex digits
 * of the SHA-256 of those changes (`git diff HEAD --binary`), so two different sets of changes on one commit name
 * different code. Null outside a git checkout.
 * @example
 *   gitCommit('/path/to/nablax');   // '7a696af1c2d3', or '7a696af1c2d3+5e0c41aa' with uncommitted changes
 */
export function gitCommit(root: string): string | null {
  if (!existsSync(join(root, '.git'))) return null;
  try {
    const run = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000, maxBuffer: 1 << 30 });
    const commit = run('rev-parse', '--short=12', 'HEAD').toString('utf8').trim();
    if (run('status', '--porcelain', '--untracked-files=no').length === 0) return commit;
    return `${commit}+${createHash('sha256').update(run('diff', 'HEAD', '--binary')).digest('hex').slice(0, 8)}`;
  } catch {
    return null; // no git on PATH, or not a repository after all
  }
}

/**
 * A one-line name of the code that runs: `nablax <version>`, the git commit when run from a source checkout ('+' and
 * a hash of the uncommitted changes to tracked files, see gitCommit), and the kernels (`wasm-simd-fma`, `wasm-simd` or `typescript`, whose
 * results differ in the last bits). Computed once per process.
 * @example
 *   codeVersion();   // 'nablax 0.1.0, git 7a696af1c2d3, kernels wasm-simd-fma'
 */
export function codeVersion(): string {
  if (cached !== null) return cached;
  const root = packageRoot();
  let version = 'unknown';
  try {
    if (root) version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // an unreadable package.json leaves the version unknown
  }
  const commit = root ? gitCommit(root) : null;
  cached = `nablax ${version}${commit ? `, git ${commit}` : ''}, kernels ${kernels().name}`;
  return cached;
}
