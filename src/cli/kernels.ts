// The CLI prints the one-line notice when the fast WebAssembly kernels are missing and the slower TypeScript
// reference runs instead, at start (the library prints it at its first kernel use; once per process either way).
import { printFastKernelsNotice } from '../engine/kernels/kernels.js';

export function setupKernels(): void {
  printFastKernelsNotice();
}
