import { expect } from 'vitest';
import { LarderError } from '../../src/core/errors.js';

/** The LarderError `fn` throws (fails the test when it does not throw one). */
export function thrown(fn: () => unknown): LarderError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    return err as LarderError;
  }
  throw new Error('expected a LarderError');
}
