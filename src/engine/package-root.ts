// Where the nablax package sits on disk: the directory holding its package.json, found by walking up from this
// module (src/engine under tsx, dist/src/engine after tsc). The kernels' build/, the lab's pages, the optional peer
// benchmarks and the code's version are all found from it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root, or null when no package.json is found above this module (a bundle without one).
 * @example
 *   join(packageRoot() ?? '.', 'build', 'kernels.wasm');
 */
export function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
