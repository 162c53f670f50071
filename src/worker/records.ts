/**
 * Where the worker keeps job records: a port, so that the worker core runs against Redis in
 * production and against a map in its unit tests.
 */

import type { JobRecord } from '../core/record.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';
import { loadRecord, saveFinalRecord, saveRecord } from '../store/record-store.js';

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
