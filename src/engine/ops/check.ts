// Boundary checks shared by the ops: each names the op, the argument, what was expected and what came.
import { shapeStr, type Tensor } from '../tensor.js';

export function expectRank(op: string, arg: string, t: Tensor, rank: number, layout: string): void {
  if (t.shape.length !== rank) throw new Error(`${op}: ${arg} must be ${layout}, got ${shapeStr(t.shape)}`);
}

export function expectSameDtype(op: string, ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== ts[0].dtype) throw new Error(`${op}: mixed dtypes ${ts[0].dtype} and ${t.dtype}`);
  }
}

export function expect(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}
