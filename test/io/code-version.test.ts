// codeVersion names the code that runs: the package's version, the checkout's commit (with '+' for uncommitted
// changes to tracked files) and the kernels in use.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernels } from '../../src/engine/kernels/kernels.js';
import { packageRoot } from '../../src/engine/package-root.js';
import { codeVersion, gitCommit } from '../../src/io/code-version.js';

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
      expect(v).toMatch(new RegExp(`, git ${head.slice(0, 12)}${dirty ? '\\+[0-9a-f]{8}' : ''}, `));
    }
    expect(codeVersion()).toBe(v);
  });

  it('names two different sets of uncommitted changes on one commit differently, and a clean tree by its commit alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-code-version-'));
    try {
      const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { stdio: 'ignore' });
      git('init', '-q');
      writeFileSync(join(dir, 'a.txt'), 'one\n');
      git('add', 'a.txt');
      git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'one');
      const clean = gitCommit(dir);
      expect(clean).toMatch(/^[0-9a-f]{12}$/);
      writeFileSync(join(dir, 'a.txt'), 'two\n');
      const first = gitCommit(dir);
      writeFileSync(join(dir, 'a.txt'), 'three\n');
      const second = gitCommit(dir);
      expect(first).toMatch(new RegExp(`^${clean}\\+[0-9a-f]{8}$`));
      expect(second).toMatch(new RegExp(`^${clean}\\+[0-9a-f]{8}$`));
      expect(second).not.toBe(first);
      writeFileSync(join(dir, 'a.txt'), 'two\n');
      expect(gitCommit(dir)).toBe(first); // the same changes, the same name
      writeFileSync(join(dir, 'b.txt'), 'untracked\n');
      expect(gitCommit(dir)).toBe(first); // untracked files do not count
      writeFileSync(join(dir, 'a.txt'), 'one\n');
      expect(gitCommit(dir)).toBe(clean);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
