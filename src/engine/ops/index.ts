// Every op in one record (so a test can loop over all of them), and the functions that apply them.
import { convOps } from './conv.js';
import { elementwiseOps } from './elementwise.js';
import { lossOps } from './loss.js';
import { matmulOps } from './matmul.js';
import { normOps } from './norm.js';
import { poolOps } from './pool.js';
import { reduceOps } from './reduce.js';
import { shapeOps } from './shape.js';

export const allOps = { ...elementwiseOps, ...reduceOps, ...matmulOps, ...convOps, ...poolOps, ...shapeOps, ...lossOps, ...normOps };

export * from './conv.js';
export * from './elementwise.js';
export * from './loss.js';
export * from './matmul.js';
export * from './norm.js';
export * from './pool.js';
export * from './reduce.js';
export * from './shape.js';
