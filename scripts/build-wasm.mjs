// Assembles the hand-written WebAssembly kernels into build/kernels.wasm: the module of
// src/engine/kernels/wasm/gemm.wat with the functions of nn.wat spliced in before its closing parenthesis (one
// module, one linear memory). Uses wabt's JS port, so the engine needs no native toolchain. SIMD and threads (a shared memory) are enabled; relaxed-simd is not (the
// kernels use plain f32x4 mul+add so results do not depend on the CPU). Usage: node scripts/build-wasm.mjs
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'engine', 'kernels', 'wasm', 'gemm.wat');
const functions = join(root, 'src', 'engine', 'kernels', 'wasm', 'nn.wat');
const outDir = join(root, 'build');
const out = join(outDir, 'kernels.wasm');

async function main() {
  const require = createRequire(import.meta.url);
  const wabt = await require('wabt')();
  const moduleText = readFileSync(source, 'utf8');
  const close = moduleText.lastIndexOf(')');
  if (close < 0) throw new Error('gemm.wat has no closing parenthesis');
  const text = `${moduleText.slice(0, close)}\n${readFileSync(functions, 'utf8')}\n)\n`;
  let mod;
  try {
    mod = wabt.parseWat('gemm.wat', text, { simd: true, threads: true });
    // wabt's validate() ignores the features given to parseWat and rejects a shared memory, so the type check
    // (with line numbers) runs on a copy whose memory is not shared; V8 validates the real module below.
    const check = wabt.parseWat('gemm.wat', text.replace(/\(memory 1 65536 shared\)/, '(memory 1 65536)'), { simd: true });
    try {
      check.validate();
    } finally {
      check.destroy();
    }
    const { buffer } = mod.toBinary({});
    // Validate with the engine that will run it, so a feature V8 lacks fails here and not at load time.
    if (!WebAssembly.validate(buffer)) throw new Error('V8 rejects the assembled module');
    mkdirSync(outDir, { recursive: true });
    // Write then rename: a concurrent reader (a test worker) never sees a half-written file.
    const tmp = `${out}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, buffer);
      renameSync(tmp, out);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  } finally {
    mod?.destroy();
  }
  console.log(`build-wasm: wrote ${out}`);
}

main().catch((e) => {
  // wabt lists every error with source excerpts; the first error line is the one that matters.
  const lines = String(e instanceof Error ? e.message : e).split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines.find((l) => /error/i.test(l) && l !== 'parseWat failed:') ?? lines[0] ?? 'unknown error';
  console.error(`build-wasm: cannot assemble ${relative(process.cwd(), source)}: ${first}`);
  process.exit(1);
});
