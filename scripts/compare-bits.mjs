// compare-bits.mjs BASE_DIR HEAD_DIR: compares two result folders of scripts/compare-bits.sh, file by file.
//   *.safetensors: byte for byte (sha256). Where the bytes differ, a file may still be the same when only timings in
//           its header's __metadata__ differ (checkpoints keep the run's history, with seconds): then the tensor bytes
//           must be identical and the header equal after parsing each JSON-valued metadata entry and dropping the
//           timing fields as below; the line says so.
//   *.json: parsed and compared key by key after (1) dropping the timing fields, whose names match DROPPED
//           (seen today: seconds, trainSeconds, attackSeconds, imagesPerSecond, trainImagesPerSecond,
//           attackImagesPerSecond: wall-clock time and the rates derived from it; and `timings`, reproduce's object of
//           stage durations in seconds), and (2) replacing each side's
//           own folder path in strings by <run> (paths differ between the two folders, nothing else may).
//           Numbers are compared exactly (JSON text of a float64 round-trips).
//   *.exit: the command's exit code, as text.
// Prints one line per artefact file (same / DIFFERENT + the first differing key / only in one side), then the dropped
// field names with their counts; exits 1 on any difference, 0 when all are the same, 2 on bad usage.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const DROPPED = /(^s|S)econds$|PerSecond$|^timings$/;
const COMPARED = /\.(safetensors|json|exit)$/;

const [baseDir, headDir] = process.argv.slice(2).map((d) => d && resolve(d));
if (!baseDir || !headDir || !existsSync(baseDir) || !existsSync(headDir)) {
  process.stderr.write('usage: node scripts/compare-bits.mjs BASE_DIR HEAD_DIR (two existing result folders)\n');
  process.exit(2);
}

function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (COMPARED.test(e)) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

const dropped = new Map();
function normalise(v, dir, count) {
  if (typeof v === 'string') return v.split(dir).join('<run>');
  if (Array.isArray(v)) return v.map((x) => normalise(x, dir, count));
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) {
      if (DROPPED.test(k)) {
        if (count) dropped.set(k, (dropped.get(k) ?? 0) + 1);
      } else o[k] = normalise(x, dir, count);
    }
    return o;
  }
  return v;
}

/** The path of the first difference between a and b, or null when they are equal. */
function firstDiff(a, b, path = '$') {
  if (Object.is(a, b)) return null;
  const ta = Array.isArray(a) ? 'array' : a === null ? 'null' : typeof a;
  const tb = Array.isArray(b) ? 'array' : b === null ? 'null' : typeof b;
  if (ta !== tb) return `${path} (${ta} vs ${tb})`;
  if (ta === 'array') {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = firstDiff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return a.length === b.length ? null : `${path} (length ${a.length} vs ${b.length})`;
  }
  if (ta === 'object') {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      if (!(k in a) || !(k in b)) return `${path}.${k} (only in ${k in a ? 'base' : 'head'})`;
      const d = firstDiff(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  const show = (v) => JSON.stringify(v).slice(0, 60);
  return `${path} (${show(a)} vs ${show(b)})`;
}

function readJson(p) {
  const text = readFileSync(p, 'utf8');
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: `not JSON (${text.trim().split('\n')[0]?.slice(0, 60) || 'empty'})` };
  }
}

/** A safetensors file's header (JSON-valued __metadata__ entries parsed) and the sha256 of its tensor bytes. */
function splitSafetensors(p) {
  const buf = readFileSync(p);
  if (buf.length < 8) return { error: `${p}: shorter than 8 bytes` };
  const n = Number(buf.readBigUInt64LE(0));
  try {
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    for (const [k, v] of Object.entries(header.__metadata__ ?? {})) {
      try {
        header.__metadata__[k] = JSON.parse(v);
      } catch {
        // a plain string stays as it is
      }
    }
    return { header, dataSha: createHash('sha256').update(buf.subarray(8 + n)).digest('hex') };
  } catch (e) {
    return { error: `${p}: ${e.message}` };
  }
}

const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
const all = [...new Set([...files(baseDir), ...files(headDir)])].sort();
let differences = 0;
for (const f of all) {
  const a = join(baseDir, f), b = join(headDir, f);
  let verdict;
  if (!existsSync(a) || !existsSync(b)) verdict = `DIFFERENT (only in ${existsSync(a) ? 'base' : 'head'})`;
  else if (f.endsWith('.safetensors')) {
    const [ha, hb] = [sha(a), sha(b)];
    if (ha === hb) verdict = `same (sha256 ${ha.slice(0, 12)})`;
    else {
      const [sa, sb] = [splitSafetensors(a), splitSafetensors(b)];
      const d = sa.error || sb.error ? `unreadable header (${sa.error ?? sb.error})`
        : sa.dataSha !== sb.dataSha ? `tensor bytes (sha256 ${sa.dataSha.slice(0, 12)} vs ${sb.dataSha.slice(0, 12)})`
        : firstDiff(normalise(sa.header, baseDir, true), normalise(sb.header, headDir, false), 'header');
      verdict = d ? `DIFFERENT at ${d}` : `same tensors (sha256 ${sa.dataSha.slice(0, 12)}); header same but for timing fields`;
    }
  } else if (f.endsWith('.exit')) {
    const [ea, eb] = [readFileSync(a, 'utf8').trim(), readFileSync(b, 'utf8').trim()];
    verdict = ea === eb ? (ea === '0' ? 'same (exit 0)' : `FAILED on both sides (exit ${ea})`) : `DIFFERENT (exit ${ea} vs ${eb})`;
    if (ea !== '0') differences++; // a command that fails on both sides compares nothing
  } else {
    const [ja, jb] = [readJson(a), readJson(b)];
    if (ja.error || jb.error) verdict = ja.error && jb.error && readFileSync(a, 'utf8') === readFileSync(b, 'utf8') ? `same text, ${ja.error}` : `DIFFERENT (base ${ja.error ?? 'JSON'}, head ${jb.error ?? 'JSON'})`;
    else {
      const d = firstDiff(normalise(ja.value, baseDir, true), normalise(jb.value, headDir, false));
      verdict = d ? `DIFFERENT at ${d}` : 'same';
    }
  }
  if (verdict.startsWith('DIFFERENT')) differences++;
  console.log(`${f.padEnd(56)} ${verdict}`);
}
console.log(`dropped timing fields (base side's count): ${[...dropped].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`);
console.log(differences ? `compare-bits: ${differences} of ${all.length} artefacts differ` : `compare-bits: all ${all.length} artefacts are the same`);
process.exit(differences ? 1 : 0);
