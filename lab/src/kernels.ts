// The lab's kernels: the WebAssembly SIMD kernels of src/engine/kernels/wasm.ts, instantiated from fetched bytes
// on the page's own thread, else the TypeScript reference kernels. The fused build (kernels-fma.wasm) needs relaxed
// SIMD; where it does not validate, the portable build/kernels.wasm. The kernels keep their linear memory in a
// shared WebAssembly.Memory, which a browser grants only to a cross-origin-isolated page (`nablax lab` sends the
// headers); elsewhere (a plain static host) the page runs the TypeScript kernels. `?kernels=portable` or
// `?kernels=typescript` in the URL picks one.
import { kernels, useKernels } from '../../src/engine/kernels/kernels.js';
import { instantiateKernels } from '../../src/engine/kernels/wasm.js';

/**
 * Fetch, compile and switch to the fastest kernels this browser runs; returns their name and why others were not.
 * @example
 *   const { name, note } = await setupBrowserKernels('auto');   // 'wasm-simd-fma' | 'wasm-simd' | 'typescript'
 */
export async function setupBrowserKernels(choice: string): Promise<{ name: string; note: string }> {
  if (choice === 'typescript') return { name: kernels().name, note: 'asked for in the URL' };
  if (typeof WebAssembly !== 'object') return { name: kernels().name, note: 'no WebAssembly here' };
  const files = choice === 'portable' ? ['kernels.wasm'] : ['kernels-fma.wasm', 'kernels.wasm'];
  const notes: string[] = [];
  for (const file of files) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      const res = await fetch(file);
      if (!res.ok) { notes.push(`${file}: HTTP ${res.status}`); continue; }
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      notes.push(`${file}: ${(e as Error).message}`);
      continue;
    }
    if (!WebAssembly.validate(bytes)) { notes.push(`${file}: not valid here (${file.includes('fma') ? 'no relaxed SIMD' : 'no WebAssembly SIMD'})`); continue; }
    const k = instantiateKernels(await WebAssembly.compile(bytes), { threads: 1 });
    if (k) {
      useKernels(k);
      return { name: k.name, note: notes.join('; ') };
    }
    notes.push(`${file}: did not instantiate${globalThis.crossOriginIsolated ? '' : ' (page not cross-origin isolated: no shared memory)'}`);
  }
  return { name: kernels().name, note: notes.join('; ') };
}
