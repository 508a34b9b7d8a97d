// The CLI prints the one-line notice when the fast WebAssembly kernels are missing and the slower TypeScript
// reference runs instead (the library itself never prints).
import { fastKernelsNotice } from '../engine/kernels/kernels.js';

export function setupKernels(): void {
  if (fastKernelsNotice) process.stderr.write(fastKernelsNotice + '\n');
}
