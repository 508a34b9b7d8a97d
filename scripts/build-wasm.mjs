// Assembles the hand-written WebAssembly kernels: one module over one shared linear memory, whose functions are the
// families of src/engine/kernels/wasm/*.wat (the list below) spliced in order, twice:
// - build/kernels-fma.wasm as written: the GEMM's multiply-adds are relaxed-simd f32x4.relaxed_madd (one fused
//   multiply-add on CPUs with FMA3). Written only when this Node's V8 runs relaxed-simd (natively, or after
//   --experimental-wasm-relaxed-simd, which Node 20 needs and src/engine/kernels/wasm-node.ts sets the same way).
// - build/kernels.wasm, the portable build: every f32x4.relaxed_madd(a, b, c) becomes f32x4.add(c, f32x4.mul(a, b)),
//   so results are the same bits on every CPU and the module needs only SIMD and threads.
// Uses wabt's JS port, so the engine needs no native toolchain. Usage: node scripts/build-wasm.mjs
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasmDir = join(root, 'src', 'engine', 'kernels', 'wasm');
/** The kernel families, one .wat file each (functions only), in the order they are spliced into the module. */
const families = ['memory', 'gemm', 'im2col', 'conv', 'conv-relu-pool', 'pool-relu', 'norm', 'peak', 'optim', 'fab-step'];
const outDir = join(root, 'build');

/**
 * The module around the families. Its memory is shared between the main thread and the kernel worker threads (each
 * instantiates the module over it) and grown by the host (memory.grow from JS) to fit each problem; bytes [0, 256)
 * are the main thread's scratch (src/engine/kernels/wasm-memory.ts).
 */
const moduleText = (functions) => `(module\n  (import "env" "memory" (memory 1 65536 shared))\n\n${functions}\n)\n`;

const MADD = /\(f32x4\.relaxed_madd (\(local\.get \$\w+\)) (\(local\.get \$\w+\)) (\(local\.get \$\w+\))\)/g;

/** The portable text: each relaxed_madd(a, b, c) as add(c, mul(a, b)); its operands must be plain local.gets. */
function unfuse(text) {
  const out = text.replace(MADD, '(f32x4.add $3 (f32x4.mul $1 $2))');
  if (/\(\w+\.relaxed_/.test(out)) throw new Error('a relaxed-simd instruction other than relaxed_madd of three local.gets');
  return out;
}

/** True when this V8 accepts the module, turning relaxed-simd on first if it needs it (Node 20). */
function v8Accepts(buffer) {
  if (WebAssembly.validate(buffer)) return true;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(buffer);
}

/** Assemble one text into a module binary, type-checked by wabt (with line numbers). */
function assemble(wabt, text) {
  const features = { simd: true, threads: true, relaxed_simd: true };
  let mod;
  try {
    mod = wabt.parseWat('kernels.wat', text, features);
    // wabt's validate() ignores the features given to parseWat and rejects a shared memory, so the type check
    // runs on a copy whose memory is not shared; V8 validates the real module after.
    const check = wabt.parseWat('kernels.wat', text.replace(/\(memory 1 65536 shared\)/, '(memory 1 65536)'), features);
    try {
      check.validate();
    } finally {
      check.destroy();
    }
    return mod.toBinary({}).buffer;
  } finally {
    mod?.destroy();
  }
}

/** Write then rename: a concurrent reader (a test worker) never sees a half-written file. */
function writeAtomic(path, buffer) {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, buffer);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

async function main() {
  const require = createRequire(import.meta.url);
  const wabt = await require('wabt')();
  const text = moduleText(families.map((f) => readFileSync(join(wasmDir, `${f}.wat`), 'utf8')).join('\n'));
  mkdirSync(outDir, { recursive: true });

  const portable = assemble(wabt, unfuse(text));
  // Validate with the engine that will run it, so a feature V8 lacks fails here and not at load time.
  if (!WebAssembly.validate(portable)) throw new Error('V8 rejects the assembled module');
  writeAtomic(join(outDir, 'kernels.wasm'), portable);
  console.log(`build-wasm: wrote ${join(outDir, 'kernels.wasm')}`);

  const fma = join(outDir, 'kernels-fma.wasm');
  const fused = assemble(wabt, text);
  if (v8Accepts(fused)) {
    writeAtomic(fma, fused);
    console.log(`build-wasm: wrote ${fma}`);
  } else {
    rmSync(fma, { force: true }); // never leave a stale one beside a fresh portable build
    console.log('build-wasm: this Node cannot run relaxed-simd; only the portable kernels were built');
  }
}

main().catch((e) => {
  // wabt lists every error with source excerpts; the first error line is the one that matters.
  const lines = String(e instanceof Error ? e.message : e).split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines.find((l) => /error/i.test(l) && l !== 'parseWat failed:') ?? lines[0] ?? 'unknown error';
  console.error(`build-wasm: cannot assemble the kernels of ${relative(process.cwd(), wasmDir)}: ${first}`);
  process.exit(1);
});
