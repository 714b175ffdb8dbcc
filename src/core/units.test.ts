import { describe, expect, it } from 'vitest';
import { formatSize, parseDuration, parseSize } from './units.js';

describe('parseSize', () => {
  it('reads binary and decimal units and plain numbers', () => {
    expect(parseSize('10MiB')).toBe(10 * 1024 * 1024);
    expect(parseSize('10MB')).toBe(10_000_000);
    expect(parseSize('512KiB')).toBe(512 * 1024);
    expect(parseSize('1GiB')).toBe(1024 ** 3);
    expect(parseSize('1024')).toBe(1024);
    expect(parseSize(1024)).toBe(1024);
    expect(parseSize('1.5 KiB')).toBe(1536);
    expect(parseSize('20b')).toBe(20);
    expect(parseSize('2mib')).toBe(2 * 1024 * 1024);
  });

  it('rejects what is not a size, saying what it expected', () => {
    for (const bad of ['', 'MiB', '10XB', '10 megs', '-1', '1e6']) {
      expect(() => parseSize(bad)).toThrow(/^invalid size .*expected a number of bytes/);
    }
    expect(() => parseSize(-5)).toThrow('invalid size -5');
    expect(() => parseSize(1.5)).toThrow('invalid size 1.5');
    expect(() => parseSize(true as unknown as number)).toThrow('invalid size true');
  });
});

describe('parseDuration', () => {
  it('reads single and combined units', () => {
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('15m')).toBe(15 * 60_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
  });

  it('rejects bad input', () => {
    for (const bad of ['', '30', 'd', '3y', '1 h', '-1s']) {
      expect(() => parseDuration(bad)).toThrow(/^invalid duration/);
    }
  });
});

describe('formatSize', () => {
  it('uses the largest binary unit that fits', () => {
    expect(formatSize(10485760)).toBe('10 MiB');
    expect(formatSize(1536)).toBe('1.5 KiB');
    expect(formatSize(100)).toBe('100 B');
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(1024 ** 3)).toBe('1 GiB');
  });

  it('round-trips through parseSize', () => {
    expect(parseSize(formatSize(512 * 1024 * 1024).replace(' ', ''))).toBe(512 * 1024 * 1024);
  });
});
