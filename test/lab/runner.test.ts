/**
 * The lab runner's order (scripts/lab/runner.ts): conditions are handed out costliest first (so the
 * run does not end on one slow condition while the other children idle), and the results come back
 * in the order the conditions were listed.
 */
import { describe, expect, it } from 'vitest';
import { type ConditionResult, stepBudget } from '../../scripts/lab/client.js';
import { conditionById, drawCondition, FIXED_SEED, namedConditions } from '../../scripts/lab/conditions.js';
import { costliestFirst, inOrderOf } from '../../scripts/lab/runner.js';

const listed = [
  ...Array.from({ length: 300 }, (_, k) => drawCondition(FIXED_SEED, k).id),
  ...namedConditions().map((c) => c.id),
];

describe('lab runner: the order of conditions', () => {
  it('hands out every listed condition once, by step budget from the largest down', () => {
    const order = costliestFirst(listed);
    expect([...order].sort()).toEqual([...listed].sort());
    const budgets = order.map((id) => stepBudget(conditionById(id)));
    for (let i = 1; i < budgets.length; i++) expect(budgets[i]).toBeLessThanOrEqual(budgets[i - 1]!);
    // The named conditions are listed last; the costliest of them is not handed out last.
    expect(order.indexOf('scale-4proc')).toBeLessThan(order.length - 100);
  });

  it('gives the results back in the order listed, whatever order they ended in', () => {
    const ids = ['22022:5', 'scale-4proc', '22022:1'];
    const result = (id: string) => ({ id }) as ConditionResult;
    const ended = [result('scale-4proc'), result('22022:1'), result('22022:5')];
    expect(inOrderOf(ids, ended).map((r) => r.id)).toEqual(ids);
  });
});
