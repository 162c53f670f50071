import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { WorkerEvents } from '../../src/worker/events.js';

const finished = {
  jobId: 'j',
  status: 'completed' as const,
  record: newRecord({ model: 'm', max_tokens: 1, messages: [] }, 0),
};

describe('WorkerEvents', () => {
  it('runs listeners in the order added, awaiting each before the next and before emit resolves', async () => {
    const order: string[] = [];
    const events = new WorkerEvents()
      .on('finished', async () => {
        await new Promise((r) => setTimeout(r, 20));
        order.push('slow');
      })
      .on('finished', () => {
        order.push('sync');
      });
    await events.emit('finished', finished);
    expect(order).toEqual(['slow', 'sync']);
  });

  it('reports a failing listener and goes on with the others', async () => {
    const errors: string[] = [];
    const order: string[] = [];
    const events = new WorkerEvents((event, err, payload) =>
      errors.push(`${event}/${payload.jobId}: ${err.message}`),
    )
      .on('finished', async () => {
        throw new Error('rejected');
      })
      .on('finished', () => {
        throw new Error('thrown');
      })
      .on('finished', () => {
        order.push('ran');
      });
    await events.emit('finished', finished);
    expect(errors).toEqual(['finished/j: rejected', 'finished/j: thrown']);
    expect(order).toEqual(['ran']);
  });

  it('off removes a listener; other events are not called', async () => {
    const calls: string[] = [];
    const l = () => {
      calls.push('finished');
    };
    const events = new WorkerEvents().on('finished', l).on('returned', () => {
      calls.push('returned');
    });
    events.off('finished', l);
    await events.emit('finished', finished);
    expect(calls).toEqual([]);
  });
});
