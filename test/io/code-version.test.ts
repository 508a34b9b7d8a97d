// codeVersion names the code that runs: the package's version, the checkout's commit (with '+' for uncommitted
// changes to tracked files) and the kernels in use.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernels } from '../../src/engine/kernels/kernels.js';
import { packageRoot } from '../../src/engine/package-root.js';
import { codeVersion } from '../../src/io/code-version.js';

describe('codeVersion', () => {
  it("names package.json's version, the checkout's commit and the kernels, the same on every call", () => {
    const root = packageRoot()!;
    const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string };
    const v = codeVersion();
    expect(v.startsWith(`nablax ${version}, `)).toBe(true);
    expect(v.endsWith(`, kernels ${kernels().name}`)).toBe(true);
    if (existsSync(`${root}/.git`)) {
      const head = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
      expect(v).toContain(`, git ${head.slice(0, 12)}${dirty ? '+' : ''}, `);
    }
    expect(codeVersion()).toBe(v);
  });
});
