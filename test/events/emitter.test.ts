import { describe, expect, it } from 'vitest';
import { Logger } from '../../src/core/log.js';
import { newRecord } from '../../src/core/record.js';
import { PromptqEvents } from '../../src/events/emitter.js';

const record = newRecord({ model: 'm', max_tokens: 1, messages: [] }, 0);
const finished = (jobId: string) => ({ jobId, status: 'completed' as const, record });

/** A promise and the function that resolves it. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Whether `p` has settled after the event loop had a few turns to settle it. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('PromptqEvents', () => {
  it('calls listeners in the order added; a synchronous one has run when emit resolves', async () => {
    const order: string[] = [];
    const events = new PromptqEvents()
      .on('finished', () => {
        order.push('first');
      })
      .on('finished', () => {
        order.push('second');
      });
    await events.emit('finished', finished('j'));
    expect(order).toEqual(['first', 'second']);
  });

  it('an asynchronous listener runs off the path: emit resolves while it is still busy (control: blocking waits)', async () => {
    const slow = gate();
    const events = new PromptqEvents().on('finished', () => slow.opened);
    expect(await settles(events.emit('finished', finished('j')))).toBe(true);
    expect(await settles(events.idle())).toBe(false);
    slow.open();
    await events.idle();

    // The control: the same listener, blocking, holds emit until it is done.
    const held = gate();
    const blocking = new PromptqEvents().on('finished', () => held.opened, { blocking: true });
    const emitted = blocking.emit('finished', finished('j'));
    expect(await settles(emitted)).toBe(false);
    held.open();
    expect(await settles(emitted)).toBe(true);
  });

  it("keeps one job's events in order, and lets other jobs' events pass", async () => {
    const seen: string[] = [];
    const first = gate();
    let calls = 0;
    const events = new PromptqEvents().on('finished', async (e) => {
      // Only the first call waits: a's second event, run early, would overtake it.
      calls += 1;
      if (calls === 1) await first.opened;
      seen.push(`${e.jobId}${e.record.attempts}`);
    });
    await events.emit('finished', finished('a'));
    await events.emit('finished', { ...finished('a'), record: { ...record, attempts: 2 } });
    await events.emit('finished', finished('b'));
    await settles(Promise.resolve());
    // b went by; a's second event waits for its first.
    expect(seen).toEqual(['b0']);
    first.open();
    await events.idle();
    expect(seen).toEqual(['b0', 'a0', 'a2']);
  });

  it('bounds what a listener may have pending: the event past capacity waits for room, the one at it does not', async () => {
    const held = gate();
    const events = new PromptqEvents({ queueCapacity: 3 }).on('finished', () => held.opened);
    // Exactly at capacity: taken at once.
    for (const id of ['a', 'b', 'c']) expect(await settles(events.emit('finished', finished(id)))).toBe(true);
    // One more: waits until an earlier one is done.
    const fourth = events.emit('finished', finished('d'));
    expect(await settles(fourth)).toBe(false);
    held.open();
    expect(await settles(fourth)).toBe(true);
    await events.idle();
  });

  it('a failing listener is logged (repeats collapsed) and reported, and the others still run', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = new Logger('debug', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    const reported: string[] = [];
    const ran: string[] = [];
    const events = new PromptqEvents({ log })
      .on('finished', () => {
        throw new Error('thrown');
      })
      .on('finished', async () => {
        throw new Error('rejected');
      })
      .on('finished', (e) => {
        ran.push(e.jobId);
      })
      .onListenerError((event, err) => reported.push(`${event}: ${err.message}`));
    await events.emit('finished', finished('j1'));
    await events.emit('finished', finished('j2'));
    await events.idle();
    expect(ran).toEqual(['j1', 'j2']);
    expect(reported).toEqual([
      'finished: thrown',
      'finished: rejected',
      'finished: thrown',
      'finished: rejected',
    ]);
    const failures = lines.filter((l) => l.msg === 'event listener failed');
    // One line per distinct failure; the second job's are counted for the summary.
    expect(failures.map((l) => [l.event, l.job_id, l.error])).toEqual([
      ['finished', 'j1', 'thrown'],
      ['finished', 'j1', 'rejected'],
    ]);
    events.close();
    const summaries = lines.filter((l) => l.msg === 'event listener failed (repeated)');
    expect(summaries.map((l) => [l.error, l.repeated])).toEqual([
      ['thrown', 1],
      ['rejected', 1],
    ]);
  });

  it('idle(timeoutMs) gives up on a listener that never finishes, and says so', async () => {
    const never = new Promise<void>(() => {});
    const events = new PromptqEvents().on('finished', () => never);
    await events.emit('finished', finished('j'));
    expect(await events.idle(20)).toBe(false);
    // The control: nothing pending, idle at once.
    expect(await new PromptqEvents().on('finished', () => never).idle(20)).toBe(true);
  });

  it('off removes a listener; other events are not called', async () => {
    const calls: string[] = [];
    const l = () => {
      calls.push('finished');
    };
    const events = new PromptqEvents().on('finished', l).on('returned', () => {
      calls.push('returned');
    });
    events.off('finished', l);
    await events.emit('finished', finished('j'));
    expect(calls).toEqual([]);
  });

  it('refuses a queue capacity that is not a whole number ≥ 1', () => {
    expect(() => new PromptqEvents({ queueCapacity: 0 })).toThrow(/queueCapacity/);
    expect(() => new PromptqEvents({ queueCapacity: 1.5 })).toThrow(/queueCapacity/);
    expect(() => new PromptqEvents({ queueCapacity: 1 })).not.toThrow();
  });
});
