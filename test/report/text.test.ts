import { describe, expect, it } from 'vitest';
import { duration, pct, plural } from '../../src/report/text.js';

describe('report text helpers', () => {
  it('plural groups the number and picks the noun', () => {
    expect(plural(1, 'epoch')).toBe('1 epoch');
    expect(plural(10000, 'image')).toBe('10,000 images');
    expect(plural(2, 'child', 'children')).toBe('2 children');
  });

  it('pct gives one decimal', () => {
    expect(pct(0.9876)).toBe('98.8%');
    expect(pct(0.5)).toBe('50.0%');
  });

  it('duration keeps a decimal under 10 s and adds minutes from 100 s', () => {
    expect(duration(0.42)).toBe('0.4 s');
    expect(duration(9.96)).toBe('10.0 s');
    expect(duration(42.4)).toBe('42 s');
    expect(duration(99.4)).toBe('99 s');
    expect(duration(3585)).toBe('3,585 s (59.8 min)');
  });
});
