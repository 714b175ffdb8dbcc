/** The upload memory budget: FIFO reservations, a bounded wait, 503 with Retry-After, 413 for what can never fit. */
import { describe, expect, it } from 'vitest';
import { LarderError } from '../core/errors.js';
import { UploadBudget } from './upload-budget.js';

describe('UploadBudget', () => {
  it('grants reservations up to the total and queues the rest in order until released', async () => {
    const budget = new UploadBudget(100, 5_000);
    const a = await budget.acquire(60);
    const b = await budget.acquire(40);
    expect(budget.inUse).toBe(100);
    const order: string[] = [];
    const c = budget.acquire(50).then((r) => (order.push('c'), r));
    const d = budget.acquire(10).then((r) => (order.push('d'), r));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    a();
    a(); // releasing twice gives back once
    const [rc, rd] = await Promise.all([c, d]);
    expect(order).toEqual(['c', 'd']);
    expect(budget.inUse).toBe(100);
    b();
    rc();
    rd();
    expect(budget.inUse).toBe(0);
  });

  it('refuses with 503 and Retry-After after waiting its bound, and gives nothing away', async () => {
    const budget = new UploadBudget(100, 50);
    const held = await budget.acquire(90);
    const err = await budget.acquire(20).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LarderError);
    expect(err).toMatchObject({ code: 'UPLOAD_BUDGET_EXHAUSTED', status: 503, headers: { 'retry-after': '1' } });
    expect((err as Error).message).toContain('uploads.memory');
    expect(budget.inUse).toBe(90);
    held();
    expect(budget.inUse).toBe(0);
  });

  it('refuses at once, with 413, an upload larger than the whole budget', async () => {
    const budget = new UploadBudget(100, 10_000);
    await expect(budget.acquire(101)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', status: 413 });
    expect(budget.inUse).toBe(0);
  });
});
