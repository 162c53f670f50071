/**
 * The job record lives in the job's own Redis hash (field `record`), so it goes wherever the job
 * goes and is removed with it. The write is a Lua script that only touches an existing job: a
 * late write for a job that was just removed must not leave an orphan hash behind.
 */
import type { Redis } from 'ioredis';
import type { JobRecord } from '../core/job.js';

/**
 * KEYS[1] job hash key
 * ARGV[1] record JSON
 * returns 1 if written, 0 if the job no longer exists
 */
const saveRecordLua = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'record', ARGV[1])
  return 1
end
return 0
`;

/**
 * The final write of a finished job. Only the worker that still holds the job's lock may write it:
 * a worker that froze (GC pause, SIGSTOP, a laptop lid) past its lock may wake up after another
 * worker took the job over, and must not record the job a second time.
 *
 * KEYS[1] job hash key, KEYS[2] the job's lock key
 * ARGV[1] record JSON, ARGV[2] the lock token this worker holds
 * returns 1 if written, 0 if the job no longer exists, -1 if the lock is not ours
 */
const saveFinalRecordLua = `
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'record', ARGV[1])
  return 1
end
return 0
`;

export function jobKey(prefix: string, queue: string, id: string): string {
  return `${prefix}:${queue}:${id}`;
}

type WithSaveRecord = Redis & {
  promptqSaveRecord(key: string, json: string): Promise<number>;
  promptqSaveFinalRecord(key: string, lockKey: string, json: string, token: string): Promise<number>;
};

function withScript(redis: Redis): WithSaveRecord {
  const r = redis as WithSaveRecord;
  if (typeof r.promptqSaveRecord !== 'function') {
    redis.defineCommand('promptqSaveRecord', { numberOfKeys: 1, lua: saveRecordLua });
    redis.defineCommand('promptqSaveFinalRecord', { numberOfKeys: 2, lua: saveFinalRecordLua });
  }
  return r;
}

/** Raised when a worker tries to finish a job whose lock another worker now holds. */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
  constructor(readonly jobId: string) {
    super(`lost the lock of job ${jobId}: another worker owns it now`);
  }
}

/**
 * Save the record of a job this worker is finishing, only while it still holds the job's lock
 * (BullMQ's lock key is `<job key>:lock`). Throws {@link LockLostError} otherwise.
 */
export async function saveFinalRecord(
  redis: Redis,
  key: string,
  record: JobRecord,
  token: string | undefined,
  jobId: string,
): Promise<boolean> {
  // A job processed without a token (manual processing) has no lock to check.
  if (token === undefined) return saveRecord(redis, key, record);
  const r = await withScript(redis).promptqSaveFinalRecord(key, `${key}:lock`, JSON.stringify(record), token);
  if (r === -1) throw new LockLostError(jobId);
  return r === 1;
}

export async function saveRecord(redis: Redis, key: string, record: JobRecord): Promise<boolean> {
  return (await withScript(redis).promptqSaveRecord(key, JSON.stringify(record))) === 1;
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
