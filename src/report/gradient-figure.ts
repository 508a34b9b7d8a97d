// The ∇x picture: each row is a digit, its input gradient in a diverging map (red raises the loss, blue lowers
// it, white is zero) and the gradient's magnitude in a "hot" map, each scaled to that row's largest value, with a
// labelled colour bar under each map giving that scale.
import { diverging, gray, heat, maxAbs, renderGrid, type Canvas, type GridCell } from './png.js';

export interface GradientRow {
  image: ArrayLike<number>;
  dx: ArrayLike<number>;
  h: number;
  w: number;
  caption: string;
}

/**
 * Render digits beside their ∇x heat maps.
 * @example
 *   renderGradientFigure([{ image, dx, h: 28, w: 28, caption: 'label 7, pred 7 (0.99)' }], 'gradient of the loss').save('grad.png');
 */
export function renderGradientFigure(rows: GradientRow[], title: string): Canvas {
  const cells: GridCell[][] = rows.map((r) => {
    const m = maxAbs(r.dx);
    const mag = Array.from(r.dx, Math.abs);
    return [
      { values: r.image, h: r.h, w: r.w, colorize: gray, caption: r.caption },
      { values: r.dx, h: r.h, w: r.w, colorize: diverging(m), colorBar: { lo: -m, hi: m } },
      { values: mag, h: r.h, w: r.w, colorize: heat(m), colorBar: { lo: 0, hi: m } },
    ];
  });
  return renderGrid(cells, { scale: 4, title, columnTitles: ['input x', '∇x J (signed)', '|∇x J|'] });
}
