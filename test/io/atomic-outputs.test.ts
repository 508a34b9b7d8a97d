// Output paths before work (checkWritable, makeDir), output locks (lockOutput) and the temporaries of dead
// processes (cleanStaleTemps): each failure is said in words, nothing hangs under /proc, a live lock holds and a
// dead one is taken over.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkWritable, cleanStaleTemps, fsErrorWords, lockOutput, lockPath, makeDir, OutputLockedError, OutputPathError, pidAlive, writeFileAtomic,
} from '../../src/io/atomic.js';

const root = mkdtempSync(join(tmpdir(), 'nablax-atomic-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has exited (a finished child). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  expect(pidAlive(pid)).toBe(false);
  return pid;
}

describe('checkWritable and makeDir', () => {
  it('say what is wrong in words', () => {
    expect(fsErrorWords('EROFS')).toBe('read-only file system');
    expect(fsErrorWords('EACCES')).toBe('permission denied');
    expect(fsErrorWords('ENOTDIR')).toBe('not a directory');
  });

  it('a file where a folder is needed: "not a directory", nothing created', () => {
    const f = join(root, 'plain-file');
    writeFileSync(f, 'x');
    expect(() => checkWritable(join(f, 'sub', 'report'), 'dir')).toThrow(/plain-file is not a directory/);
    expect(() => checkWritable(f, 'dir')).toThrow(/not a directory/);
    expect(() => makeDir(join(f, 'sub'))).toThrow(OutputPathError);
    expect(readFileSync(f, 'utf8')).toBe('x');
  });

  it('a folder where a file is needed', () => {
    expect(() => checkWritable(root, 'file')).toThrow(/it is a directory/);
  });

  it('/proc fails at once, for the check and for the folder itself (Node\'s recursive mkdir spins there)', () => {
    expect(() => checkWritable('/proc/x/report', 'dir')).toThrow(/\/proc is a virtual file system/);
    expect(() => makeDir('/proc/x/report')).toThrow(/cannot create \/proc\/x\/report: \/proc is a virtual file system/);
    expect(() => writeFileAtomic('/proc/x/report/a.json', '{}')).toThrow(OutputPathError);
  });

  it('a writable path that does not exist yet passes and creates nothing', () => {
    const p = join(root, 'new', 'deeper', 'model.safetensors');
    checkWritable(p, 'file');
    expect(existsSync(join(root, 'new'))).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('probe'))).toEqual([]);
  });
});

describe('lockOutput', () => {
  it('a second holder gets a clear error naming the live pid; release frees it', () => {
    const out = join(root, 'locked.safetensors');
    const release = lockOutput(out, 'file');
    expect(readFileSync(lockPath(out, 'file'), 'utf8').trim()).toBe(String(process.pid));
    // another live process holds it: our parent (vitest's main process) is alive
    writeFileSync(lockPath(out, 'file'), `${process.ppid}\n`);
    expect(() => lockOutput(out, 'file')).toThrow(OutputLockedError);
    expect(() => lockOutput(out, 'file')).toThrow(new RegExp(`being written by another nablax run \\(pid ${process.ppid}\\)`));
    writeFileSync(lockPath(out, 'file'), `${process.pid}\n`);
    release();
    expect(existsSync(lockPath(out, 'file'))).toBe(false);
  });

  it('the lock of a dead process is taken over', () => {
    const dir = join(root, 'report-dir');
    makeDir(dir);
    writeFileSync(lockPath(dir, 'dir'), `${deadPid()}\n`);
    const release = lockOutput(dir, 'dir');
    expect(readFileSync(lockPath(dir, 'dir'), 'utf8').trim()).toBe(String(process.pid));
    release();
  });
});

describe('lockOutput inside the folder', () => {
  // A writable report folder in a read-only parent: the lock cannot go beside it (<dir>.lock), so it goes inside
  // (<dir>/.nablax.lock). Permission bits bind only a user other than root: as root the child runs as nobody.
  const atomic = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/io/atomic.ts');
  const script = join(root, 'lock-inside.mts');
  const parent = join(root, 'read-only-parent');
  const dir = join(parent, 'report');
  const inside = join(dir, '.nablax.lock');
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  /** lockOutput(dir) in another process: what it found while holding the lock, and after release. */
  const lockInChild = () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, dir], { cwd: dirname(atomic), encoding: 'utf8', ...asUser });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { pid: number; inside?: string; beside?: boolean; after?: boolean; error?: string; message?: string };
  };

  it('takes the lock inside, holds it against a live run, takes over a dead one, removes it on release', () => {
    writeFileSync(script, `import { existsSync, readFileSync } from 'node:fs';
import { lockOutput } from ${JSON.stringify(atomic)};
const dir = process.argv[2], inside = dir + '/.nablax.lock';
let out;
try {
  const release = lockOutput(dir, 'dir');
  out = { inside: readFileSync(inside, 'utf8').trim(), beside: existsSync(dir + '.lock') };
  release();
  out.after = existsSync(inside);
} catch (e) {
  out = { error: e.constructor.name, message: e.message };
}
process.stdout.write(JSON.stringify({ pid: process.pid, ...out }));
`);
    chmodSync(root, 0o755);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    chmodSync(parent, 0o555);
    const free = lockInChild();
    expect(free).toEqual({ pid: free.pid, inside: String(free.pid), beside: false, after: false });
    writeFileSync(inside, `${process.pid}\n`); // a live holder: this test process
    const held = lockInChild();
    expect(held.error).toBe('OutputLockedError');
    expect(held.message).toBe(`${dir} is being written by another nablax run (pid ${process.pid}); wait for it to end or choose another output (lock file ${inside})`);
    writeFileSync(inside, `${deadPid()}\n`);
    const takenOver = lockInChild();
    expect(takenOver).toEqual({ pid: takenOver.pid, inside: String(takenOver.pid), beside: false, after: false });
    expect(readdirSync(dir)).toEqual([]);
    chmodSync(parent, 0o755);
  });
});

describe('cleanStaleTemps', () => {
  it('removes the temporaries of dead processes on the next write, keeps those of live ones', () => {
    const dir = join(root, 'temps');
    makeDir(dir);
    const dead = `.m.safetensors.tmp-${deadPid()}-1700000000000`;
    const live = `.m.safetensors.tmp-${process.ppid}-1700000000000`;
    writeFileSync(join(dir, dead), 'half a model');
    writeFileSync(join(dir, live), 'being written');
    writeFileAtomic(join(dir, 'm.safetensors'), 'whole');
    expect(readdirSync(dir).sort()).toEqual([live, 'm.safetensors'].sort());
    expect(cleanStaleTemps(dir)).toEqual([]);
  });
});
