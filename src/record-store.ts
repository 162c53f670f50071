/**
 * The job record lives in the job's own Redis hash (field `record`), so it goes wherever the job
 * goes and is removed with it. The write is a Lua script that only touches an existing job: a
 * late write for a job that was just removed must not leave an orphan hash behind.
 */
import type { Redis } from 'ioredis';
import type { JobRecord } from './job.js';

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

export function jobKey(prefix: string, queue: string, id: string): string {
  return `${prefix}:${queue}:${id}`;
}

type WithSaveRecord = Redis & { promptqSaveRecord(key: string, json: string): Promise<number> };

function withScript(redis: Redis): WithSaveRecord {
  const r = redis as WithSaveRecord;
  if (typeof r.promptqSaveRecord !== 'function') {
    redis.defineCommand('promptqSaveRecord', { numberOfKeys: 1, lua: saveRecordLua });
  }
  return r;
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
