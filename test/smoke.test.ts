import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';

describe('ManualClock', () => {
  it('advances only when told', () => {
    const c = new ManualClock();
    expect(c.now()).toBe(0);
    c.advance(30_000);
    expect(c.now()).toBe(30_000);
  });
});
