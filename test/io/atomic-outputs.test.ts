// Output paths before work (checkWritable, makeDir), output locks (lockOutput) and the temporaries of dead
// processes (cleanStaleTemps): each failure is said in words, nothing hangs under /proc, a live lock holds and a
// dead one is taken over.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
