// The score-based black-box attacks in one record: each takes a ScoreOracle (probabilities and a query counter,
// no gradient) instead of the model. one-pixel: L0, differential evolution (Su et al. 2019); square: L∞, random
// search (Andriushchenko et al. 2020); square-l2: its L2 version.
import { onePixel } from './one-pixel.js';
import { square } from './square.js';
import { squareL2 } from './square-l2.js';

/**
 * Every black-box attack by name, so callers (and tests) can loop over them.
 * @example
 *   const r = blackBoxAttacks.square.run(new ScoreOracle(model), x, y, { eps: 0.3, maxQueries: 1000 });
 *   for (const [name, attack] of Object.entries(blackBoxAttacks)) console.log(name, attack.norm);
 */
export const blackBoxAttacks = { 'one-pixel': onePixel, square, 'square-l2': squareL2 };

export { onePixel, type OnePixelOptions } from './one-pixel.js';
export { square, squareP, type SquareOptions } from './square.js';
export { squareL2, squareEta } from './square-l2.js';
export { ScoreOracle, type WindowedScores } from './oracle.js';
