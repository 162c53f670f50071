/**
 * Where the worker keeps job records: a port, so that the worker core runs against Redis in
 * production and against a map in its unit tests.
 *
 * A record is often written after the API has answered (and been paid). Redis may refuse that write
 * for a while (out of memory, a read-only replica after a failover, loading): {@link retryRefusedWrites}
 * keeps the write — and the record with it — in memory and tries again until Redis takes it, for at
 * most `worker.writeRetryMs`. Memory stays bounded: each pending write belongs to a job the worker
 * is running, so there are at most `concurrency` of them.
 */

import type { JobRecord } from '../core/record.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';
import { loadRecord, saveFinalRecord, saveRecord } from '../store/record-store.js';
import { redisRefusal } from '../store/redis-deadline.js';

export interface RecordPort {
  load(jobId: string): Promise<JobRecord | null>;
  /** Save while the job runs (a record of a job that was removed meanwhile is dropped). */
  save(jobId: string, record: JobRecord): Promise<void>;
  /**
   * The finishing write, only while `token` still holds the job's lock: throws `LockLostError`
   * (store/record-store.ts) when another worker has taken the job over. The job's tenant is counted
   * down for fairness (core/fairness.ts) in the same step.
   */
  saveFinal(jobId: string, record: JobRecord, token: string | undefined): Promise<void>;
}

/** Records in the job's own Redis hash (store/record-store.ts). */
export function redisRecords(connection: Redis, keys: Keyspace): RecordPort {
  const key = (id: string) => keys.job(id);
  const pending = keys.tenantPending;
  return {
    load: (id) => loadRecord(connection, key(id)),
    save: async (id, record) => {
      await saveRecord(connection, key(id), record);
    },
    saveFinal: async (id, record, token) => {
      await saveFinalRecord(connection, key(id), pending, record, token, id);
    },
  };
}

/** Told of each refused write that will be tried again (the first of a run is worth a log line). */
export type OnRefusedWrite = (what: string, code: string, attempt: number) => void;

/**
 * `write()`, again and again while Redis refuses it for a passing reason (`OOM`, `READONLY`,
 * `LOADING`, …: store/redis-deadline.ts), backing off from 50 ms to 2 s, for at most `maxMs`; any
 * other error, or the last refusal past `maxMs`, is thrown.
 */
export async function retryRefused<T>(
  what: string,
  write: () => Promise<T>,
  maxMs: number,
  onRefused?: OnRefusedWrite,
): Promise<T> {
  const deadline = Date.now() + maxMs;
  for (let attempt = 1, delay = 50; ; attempt++, delay = Math.min(delay * 2, 2000)) {
    try {
      return await write();
    } catch (err) {
      const code = redisRefusal(err);
      if (code === undefined || Date.now() + delay > deadline) throw err;
      onRefused?.(what, code, attempt);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The port's writes, each tried again while Redis refuses it ({@link retryRefused}). */
export function retryRefusedWrites(port: RecordPort, maxMs: number, onRefused?: OnRefusedWrite): RecordPort {
  return {
    load: (id) => port.load(id),
    save: (id, record) => retryRefused('record', () => port.save(id, record), maxMs, onRefused),
    saveFinal: (id, record, token) =>
      retryRefused('final record', () => port.saveFinal(id, record, token), maxMs, onRefused),
  };
}
