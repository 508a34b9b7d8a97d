// Pick the kernels for the CLI: the fast WebAssembly ones when they were built, otherwise the TypeScript
// reference with a one-line notice. NABLAX_KERNELS=typescript forces the reference.
import { useKernels } from '../engine/kernels/kernels.js';

export function setupKernels(): void {
  // filled in when the WebAssembly kernels land
  void useKernels;
}
