// shown(): how argument checks print a rejected value, whatever its type.
import { describe, expect, it } from 'vitest';
import { shown } from '../../src/engine/shown.js';

describe('shown', () => {
  it('prints primitives as themselves, arrays by kind and length, objects as short JSON', () => {
    expect([-1, 'abc', true, null, undefined, NaN].map(shown)).toEqual(['-1', 'abc', 'true', 'null', 'undefined', 'NaN']);
    expect(shown(new Float32Array(3))).toBe('Float32Array(3)');
    expect(shown([1, 2])).toBe('an array of 2');
    expect(shown({ h: 2 })).toBe('{"h":2}');
    expect(shown({ long: 'x'.repeat(200) })).toHaveLength(80);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(shown(cyclic)).toBe('an object that cannot be shown');
    expect(shown(() => 1)).toBe('a function');
  });
});
