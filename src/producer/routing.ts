/**
 * Which route meets a job's `deadline` at the least cost (docs/cost.md): the Message Batches API
 * (half price, but answers only within its turnaround, at most 24 hours) or a live call.
 *
 * - `route: live` runs live; `route: batch` goes through a batch; `auto` (the default when a
 *   deadline is given) takes a batch when the deadline leaves the batch's turnaround plus the
 *   live lead (the time kept to run the job live should its batch be late), live otherwise.
 * - The turnaround is this account's: the longest of its last batches (store/batch-store.ts
 *   `loadTurnarounds`) times `routing.turnaroundSafety`, never over the API's 24-hour ceiling;
 *   until a batch has been measured, `routing.batchTurnaroundSeconds` (the ceiling by default).
 * - A deadline no route can meet is refused at enqueue, naming `deadline`: one already passed, or
 *   closer than the live lead; with `route: batch`, closer than the turnaround.
 */
import type { FieldProblem, JobRequest } from '../core/job.js';
import type { RoutingConfig } from '../core/settings.js';
import { loadTurnarounds } from '../store/batch-store.js';
import type { RedisConnection } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';

/** The settings a route is chosen by. */
type RouteSettings = Pick<RoutingConfig, 'batchTurnaroundSeconds' | 'turnaroundSafety' | 'liveLeadSeconds'>;

/** A duration as people say it: `45 s`, `12 min`, `6 h`, `1.5 d`. */
function formatDuration(ms: number): string {
  const round = (n: number) => String(Math.round(n * 10) / 10);
  if (ms < 120_000) return `${round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${round(ms / 3_600_000)} h`;
  return `${round(ms / 86_400_000)} d`;
}

/** The Message Batches API's ceiling: a batch not ended by then expires. */
export const batchCeilingMs = 24 * 3_600_000;

/** What a batch is expected to take on this account, and whether that was measured. */
export interface Turnaround {
  ms: number;
  measured: boolean;
}

/** This account's batch turnaround (see the file comment). */
export async function batchTurnaround(
  redis: RedisConnection,
  keys: Keyspace,
  routing: RouteSettings,
): Promise<Turnaround> {
  const samples = await loadTurnarounds(redis, keys);
  if (samples.length === 0) return { ms: routing.batchTurnaroundSeconds * 1000, measured: false };
  const ms = Math.min(batchCeilingMs, Math.ceil(Math.max(...samples) * routing.turnaroundSafety));
  return { ms, measured: true };
}

/** The route a job takes, or why its deadline cannot be met. */
export function chooseRoute(
  request: Pick<JobRequest, 'deadline' | 'route'>,
  now: number,
  turnaround: Turnaround,
  routing: RouteSettings,
): { route: 'live' | 'batch' } | { problem: FieldProblem } {
  const choice = request.route ?? (request.deadline === undefined ? 'live' : 'auto');
  if (request.deadline === undefined) return { route: choice === 'batch' ? 'batch' : 'live' };
  const left = Date.parse(request.deadline) - now;
  const lead = routing.liveLeadSeconds * 1000;
  const at = `${request.deadline} is ${left <= 0 ? `${formatDuration(-left)} ago` : `in ${formatDuration(left)}`}`;
  if (left <= 0) return { problem: { field: 'deadline', message: `has already passed (${at})` } };
  if (left < lead) {
    const message = `cannot be met: ${at}, less than the ${formatDuration(lead)} a live call is given (routing.liveLeadSeconds)`;
    return { problem: { field: 'deadline', message } };
  }
  const batchFits = left >= turnaround.ms;
  if (choice === 'batch' && !batchFits) {
    const source = turnaround.measured
      ? "measured on this account's last batches"
      : 'assumed until a batch has been measured (routing.batchTurnaroundSeconds)';
    const message = `cannot be met by route "batch": ${at}, and a Message Batch takes up to ${formatDuration(turnaround.ms)} (${source}); give a later deadline or route "auto"`;
    return { problem: { field: 'deadline', message } };
  }
  if (choice === 'live') return { route: 'live' };
  if (choice === 'batch') return { route: 'batch' };
  return { route: left >= turnaround.ms + lead ? 'batch' : 'live' };
}

/**
 * For each job routed `batch`, when it must turn live should no batch have answered it: its
 * deadline − the live lead (without a deadline, the 24-hour ceiling plus the lead, from now);
 * `undefined` for a job that runs live or whose deadline no route meets (refused at enqueue).
 */
export async function batchDues(
  redis: RedisConnection,
  keys: Keyspace,
  routing: RouteSettings,
  jobs: ReadonlyArray<{ request: Pick<JobRequest, 'deadline' | 'route'> }>,
  now: number,
): Promise<Array<number | undefined>> {
  if (!jobs.some((j) => j.request.deadline !== undefined || j.request.route === 'batch'))
    return jobs.map(() => undefined);
  const turnaround = await batchTurnaround(redis, keys, routing);
  const lead = routing.liveLeadSeconds * 1000;
  return jobs.map(({ request }) => {
    const r = chooseRoute(request, now, turnaround, routing);
    if (!('route' in r) || r.route !== 'batch') return undefined;
    const d = request.deadline;
    return (d === undefined ? now + batchCeilingMs + lead : Date.parse(d)) - lead;
  });
}
