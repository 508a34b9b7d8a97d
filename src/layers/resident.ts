// A model's parameters in the WebAssembly kernels' linear memory, for training and inference pipelines that want every
// multiply-add they can get: the products then read the weights where they are and Adam updates them in place, with
// no copy into linear memory and out again per call (A/B: `mlp` training 1.08×, `maxout` 1.07×, `madry` 1.03×). The
// price is that the parameters' arrays become views of a SharedArrayBuffer, which is why this is a choice and not
// the default: structuredClone and postMessage share such a view instead of copying it, Web Crypto refuses it, its
// `.buffer` is the whole memory, and a block is freed when its view (the tensor's array) is collected, so a subarray
// kept after the model is dropped may later show another model's values. Copy what you keep (`copyOf`, `.slice()`).
import type { Data } from '../engine/nd.js';
import { lastingCopy } from '../engine/recycle.js';
import type { Sequential } from './sequential.js';

/**
 * Move the model's float32 parameters of 4,096 values or more into lasting blocks of the active kernels' linear memory
 * (engine/recycle.ts `lastingCopy`: only when the WebAssembly kernels run with shared memory, no recycling scope is
 * open and the 256 MiB of lasting blocks have room; otherwise a parameter stays where it is). The values, and every
 * result computed from them, stay the same bits. Call it before making the optimiser or after; returns the model.
 * @example
 *   const model = residentParameters(buildModel(zooSpec('mlp'), { seed: 0 }));
 */
export function residentParameters(model: Sequential): Sequential {
  for (const [, t] of model.parameters()) {
    const data: Data = t.data;
    if (data instanceof Float32Array) {
      const home = lastingCopy(data);
      if (home !== data) t.moveInto(home);
    }
  }
  return model;
}
