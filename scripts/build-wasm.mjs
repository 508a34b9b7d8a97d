// Assembles the hand-written WebAssembly kernels (src/engine/kernels/wasm/gemm.wat) into build/kernels.wasm
// with wabt's JS port, so the engine needs no native toolchain. SIMD is enabled; relaxed-simd is not (the
// kernels use plain f32x4 mul+add so results do not depend on the CPU). Usage: node scripts/build-wasm.mjs
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'engine', 'kernels', 'wasm', 'gemm.wat');
const outDir = join(root, 'build');
const out = join(outDir, 'kernels.wasm');

async function main() {
  const require = createRequire(import.meta.url);
  const wabt = await require('wabt')();
  const text = readFileSync(source, 'utf8');
  let mod;
  try {
    mod = wabt.parseWat('gemm.wat', text, { simd: true });
    mod.validate();
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
