// Where a fused convolution → ReLU → 2×2 max-pool block sends each output's gradient: one byte per output, the
// position of the window's maximum, instead of an Int32 index and the output itself (which the backward would
// otherwise read to see whether ReLU passed the gradient). A quarter of the bytes to keep for the backward and to
// copy in and out of the WebAssembly kernels' memory.

/** The route of an output whose ReLU stops the gradient (out ≤ 0, or NaN). */
export const ROUTE_NONE = 255;

/**
 * The route of a window whose maximum sits at row dy, column dx of the 2×2 window (dy, dx ∈ {0, 1}).
 * @example
 *   poolRoute(1, 0); // 2: the window's bottom-left value won
 */
export const poolRoute = (dy: number, dx: number): number => 2 * dy + dx;
