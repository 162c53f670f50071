/**
 * `npm run lab [-- FLAGS]`: the limiter lab (docs/limiter-lab.md). Runs the fixed-seed matrix, a
 * matrix of a fresh seed (printed, for replay) and the named conditions on the real limiter in
 * virtual time, and prints the distribution and the worst conditions. `--check` exits 1 on a
 * missed target.
 */
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import type { ClientKind, SlotsKind } from './client.js';
import { drawCondition, FIXED_SEED, namedConditions } from './conditions.js';
import { describe, missedFloors, missedTargets, summary } from './report.js';
import { runParallel } from './runner.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('a whole number');
  return n;
};

const program = new Command('lab')
  .description('The limiter lab: the real limiter against a model of the API, in virtual time')
  .option('--check', 'exit 1 when a target is missed (issue 22)')
  .option('--check-floor', 'exit 1 when the run falls below a floor (a regression; the CI step)')
  .option('--condition <id...>', 'run only these conditions (SEED:K or a name), each line printed')
  .option('--limit <n>', 'only the first n conditions of each seed', int)
  .option('--conditions <n>', 'conditions of the fixed seed', int, 1000)
  .option('--fresh <n>', 'conditions of the fresh seed', int, 100)
  .option('--fresh-seed <seed>', 'the fresh seed (default: a new one, printed)', int)
  .option('--jobs <n>', 'conditions run at once (child processes)', int, availableParallelism())
  .option('--client <kind>', 'promptq, or none (a control that never waits)', 'promptq')
  .option(
    '--slots <kind>',
    "ample (demand never binds), or tuner (the worker's own concurrency tuner)",
    'ample',
  )
  .option('--verbose', 'print every condition')
  .option('--json <file>', "write every condition's result to this file");

program.parse();
const opts = program.opts<{
  check?: boolean;
  checkFloor?: boolean;
  condition?: string[];
  limit?: number;
  conditions: number;
  fresh: number;
  freshSeed?: number;
  jobs: number;
  client: ClientKind;
  slots: SlotsKind;
  verbose?: boolean;
  json?: string;
}>();

if (opts.slots !== 'ample' && opts.slots !== 'tuner') {
  console.error(`lab: --slots: ample or tuner, got "${opts.slots}"`);
  process.exit(2);
}

function ids(): string[] {
  if (opts.condition) return opts.condition;
  const freshSeed = opts.freshSeed ?? randomInt(1, 2 ** 31 - 1);
  const fixed = Math.min(opts.conditions, opts.limit ?? Number.POSITIVE_INFINITY);
  const fresh = Math.min(opts.fresh, opts.limit ?? Number.POSITIVE_INFINITY);
  console.log(
    `fixed seed ${FIXED_SEED} (${fixed} conditions), fresh seed ${freshSeed} (${fresh}; replay: --fresh-seed ${freshSeed}), ` +
      `${namedConditions().length} named; ${opts.jobs} at once; client ${opts.client}; slots ${opts.slots}`,
  );
  const out: string[] = [];
  for (let k = 0; k < fixed; k++) out.push(drawCondition(FIXED_SEED, k).id);
  for (let k = 0; k < fresh; k++) out.push(drawCondition(freshSeed, k).id);
  return [...out, ...namedConditions().map((c) => c.id)];
}

const started = performance.now();
const list = ids();
const verbose = opts.verbose === true || opts.condition !== undefined;
let done = 0;
const results = await runParallel(list, { client: opts.client, slots: opts.slots }, opts.jobs, (r) => {
  done += 1;
  if (verbose) console.log(describe(r));
  else if (done % 100 === 0) console.log(`  ${done}/${list.length} …`);
});
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 1)}\n`);
console.log(summary(results));
console.log(`lab: ${results.length} conditions in ${((performance.now() - started) / 1000).toFixed(1)} s`);
const missed = missedTargets(results);
if (missed.length > 0) console.log(`missed targets:\n${missed.map((m) => `  - ${m}`).join('\n')}`);
else console.log('all targets met');
const belowFloor = missedFloors(results);
if (belowFloor.length > 0) console.log(`below floors:\n${belowFloor.map((m) => `  - ${m}`).join('\n')}`);
else console.log('all floors held (floors, not targets: docs/limiter-lab.md)');
const fail =
  (opts.check === true && missed.length > 0) || (opts.checkFloor === true && belowFloor.length > 0);
process.exit(fail ? 1 : 0);
