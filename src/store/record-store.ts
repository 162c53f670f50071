/**
 * The job record lives in the job's own Redis hash (field `record`), so it goes wherever the job
 * goes and is removed with it. Writes go through Lua that only touches an existing job (a late
 * write for a job just removed must not leave an orphan hash behind); the final write also checks
 * the job's lock and counts the tenant down for fairness (lua/save-final-record-3.lua).
 */

import { PromptqError } from '../core/errors.js';
import type { JobRecord } from '../core/record.js';
import type { RedisConnection as Redis } from './connection.js';
import { bullJobId, jobLockKey, type Keyspace } from './keys.js';
import { script } from './scripts.js';

const saveRecordScript = script('save-record-1.lua', ['job'], ['record'], Number);
const saveFinalRecordScript = script(
  'save-final-record-3.lua',
  ['job', 'lock', 'pending'],
  ['record', 'token', 'tenant'],
  Number,
);

/** Raised when a worker tries to finish a job whose lock another worker now holds. */
export class LockLostError extends PromptqError {
  override readonly name = 'LockLostError';
  constructor(readonly jobId: string) {
    super(`lost the lock of job ${jobId}: another worker owns it now`, { code: 'lock_lost' });
  }
}

/**
 * Save the record of a job this worker is finishing, only while it still holds the job's lock
 * (BullMQ's lock key is `<job key>:lock`), and count the job's tenant down in the queue's
 * tenant-pending hash (`pendingKey`) in the same step. Throws {@link LockLostError} when another
 * worker holds the lock. A job processed without a token (manual processing) has no lock to check.
 */
export async function saveFinalRecord(
  redis: Redis,
  key: string,
  pendingKey: string,
  record: JobRecord,
  token: string | undefined,
  jobId: string,
): Promise<boolean> {
  const r = await saveFinalRecordScript(
    redis,
    { job: key, lock: jobLockKey(key), pending: pendingKey },
    { record: JSON.stringify(record), token: token ?? '', tenant: record.tenant_id ?? '' },
  );
  if (r === -1) throw new LockLostError(jobId);
  return r === 1;
}

export async function saveRecord(redis: Redis, key: string, record: JobRecord): Promise<boolean> {
  return (await saveRecordScript(redis, { job: key }, { record: JSON.stringify(record) })) === 1;
}

export async function loadRecord(redis: Redis, key: string): Promise<JobRecord | null> {
  const raw = await redis.hget(key, 'record');
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as JobRecord;
  } catch {
    return null;
  }
}

/**
 * Some fields of many jobs' hashes (BullMQ's `finishedOn`, `returnvalue`, …, and `record`) in one
 * round trip, by the ids promptq was given; `null` for a field or a job that is not there.
 */
export async function readJobFields<F extends readonly string[]>(
  redis: Redis,
  keys: Keyspace,
  ids: readonly string[],
  fields: F,
): Promise<Array<Array<string | null>>> {
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hmget(keys.job(bullJobId(id)), ...fields);
  const rows = (await pipe.exec()) ?? [];
  return ids.map((_, i) => {
    const [err, row] = rows[i] ?? [new Error('no reply'), null];
    if (err) throw err;
    return row as Array<string | null>;
  });
}
