import { describe, expect, it } from 'vitest';
import { formatCount, formatMs, formatPercent, formatUsd, textTable } from '../../src/core/format.js';
import { modelGroup } from '../../src/core/models.js';

describe('formatting', () => {
  it('writes money with the decimals the amount needs', () => {
    expect(formatUsd(0.5)).toBe('$0.5000');
    expect(formatUsd(0.000412)).toBe('$0.0004');
    expect(formatUsd(12.345)).toBe('$12.35');
    expect(formatUsd(1234.5)).toBe('$1235');
  });

  it('writes counts, shares and durations', () => {
    expect(formatCount(1234.4)).toBe('1,234');
    expect(formatPercent(0.1234)).toBe('12.3%');
    expect(formatPercent(0.5, 0)).toBe('50%');
    expect(formatPercent(null)).toBe('-');
    expect(formatMs(850)).toBe('850 ms');
    expect(formatMs(1250)).toBe('1.3 s');
    expect(formatMs(null)).toBe('-');
  });

  it('aligns a text table', () => {
    expect(textTable(['model', 'jobs'], [['haiku', 12]])).toBe('model  jobs\n-----  ----\nhaiku    12');
  });
});

describe('modelGroup', () => {
  it('is the family in the name, in any case, else the name', () => {
    expect(modelGroup('claude-sonnet-4-5-20250929')).toBe('sonnet');
    expect(modelGroup('claude-3-5-haiku-latest')).toBe('haiku');
    expect(modelGroup('Claude-Opus-5')).toBe('opus');
    expect(modelGroup('my-model')).toBe('other');
    expect(modelGroup('bogus-1')).toBe(modelGroup('bogus-2'));
  });
});
