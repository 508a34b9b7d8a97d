// The part of opentype.js (MIT, no bundled types) that src/report/font.ts uses: parse a font, map a character to
// its glyph, get the glyph's outline as path commands in pixels (y down, origin at the baseline).
declare module 'opentype.js' {
  namespace opentype {
    type PathCommand =
      | { type: 'M' | 'L'; x: number; y: number }
      | { type: 'Q'; x1: number; y1: number; x: number; y: number }
      | { type: 'C'; x1: number; y1: number; x2: number; y2: number; x: number; y: number }
      | { type: 'Z' };
    interface Path {
      commands: PathCommand[];
    }
    interface Glyph {
      index: number;
      name: string;
      advanceWidth?: number;
      getPath(x: number, y: number, fontSize: number): Path;
    }
    interface Font {
      unitsPerEm: number;
      ascender: number;
      descender: number;
      charToGlyph(ch: string): Glyph;
    }
    function parse(buffer: ArrayBuffer): Font;
  }
  export default opentype;
}
