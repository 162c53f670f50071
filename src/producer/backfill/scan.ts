/**
 * The validation pass: read every line before anything is enqueued, report bad lines by number,
 * and gather what the cost estimate needs (jobs, estimated input tokens and `max_tokens` per model).
 */

import type { FieldProblem } from '../../core/job.js';
import { estimateInputTokens } from '../../core/tokens.js';
import { callerJobId } from '../../store/keys.js';
import { heapBounder } from './bounded-heap.js';
import { type LineDefaults, type ParsedLine, parseLine } from './parse.js';
import { readLines } from './reader.js';

/** A bad line and why. */
export interface LineProblem {
  line: number;
  problems: FieldProblem[];
}

/** Totals for one model. */
export interface ModelTotals {
  jobs: number;
  /** Local estimate (about 4 characters per token). */
  inputTokens: number;
  /** Sum of `max_tokens`: the most output the jobs can produce. */
  maxOutputTokens: number;
}

export interface ScanResult {
  /** Non-blank lines. */
  lines: number;
  jobs: number;
  invalid: number;
  /** The first {@link ScanOptions.maxReported} bad lines. */
  problems: LineProblem[];
  byModel: Map<string, ModelTotals>;
  /** The same totals per tenant (lines with a `tenant_id`), for the budget check of a dry run. */
  byTenant: Map<string, Map<string, ModelTotals>>;
}

export interface ScanOptions {
  /** How many bad lines to keep for the report (all are counted). @defaultValue `100` */
  maxReported?: number;
  /** Called every few thousand lines with the number of non-blank lines read. */
  onProgress?: (linesRead: number) => void;
}

/**
 * Every non-blank line of `path`, parsed, in order. A repeated explicit id (`id`/`custom_id`) makes
 * the later line invalid: it would otherwise silently share the first line's job. Only explicit ids
 * are remembered (hashed ids contain the line number and cannot repeat).
 */
export async function* parsedLines(path: string, lineDefaults: LineDefaults): AsyncGenerator<ParsedLine> {
  const explicitIds = new Map<string, number>();
  for await (const { line, text } of readLines(path)) {
    const parsed = parseLine(text, line, lineDefaults);
    if (parsed === null) continue;
    if (parsed.kind === 'job' && parsed.customId !== null) {
      const first = explicitIds.get(parsed.id);
      if (first !== undefined) {
        yield {
          kind: 'invalid',
          line,
          customId: parsed.customId,
          problems: [
            {
              field: 'custom_id',
              message: `duplicate of line ${first} (job id "${callerJobId(parsed.id)}")`,
            },
          ],
        };
        continue;
      }
      explicitIds.set(parsed.id, line);
    }
    yield parsed;
  }
}

export async function scanFile(
  path: string,
  lineDefaults: LineDefaults,
  opts: ScanOptions = {},
): Promise<ScanResult> {
  const maxReported = opts.maxReported ?? 100;
  const r: ScanResult = {
    lines: 0,
    jobs: 0,
    invalid: 0,
    problems: [],
    byModel: new Map(),
    byTenant: new Map(),
  };
  const bound = heapBounder(20_000);
  for await (const parsed of parsedLines(path, lineDefaults)) {
    r.lines += 1;
    bound();
    if (r.lines % 5000 === 0) opts.onProgress?.(r.lines);
    if (parsed.kind === 'invalid') {
      r.invalid += 1;
      if (r.problems.length < maxReported) r.problems.push({ line: parsed.line, problems: parsed.problems });
      continue;
    }
    r.jobs += 1;
    const input = estimateInputTokens(parsed.request);
    const tenant = parsed.request.tenant_id;
    const tally = [r.byModel];
    if (tenant !== undefined) {
      if (!r.byTenant.has(tenant)) r.byTenant.set(tenant, new Map());
      tally.push(r.byTenant.get(tenant)!);
    }
    for (const byModel of tally) {
      const m = byModel.get(parsed.request.model) ?? { jobs: 0, inputTokens: 0, maxOutputTokens: 0 };
      m.jobs += 1;
      m.inputTokens += input;
      m.maxOutputTokens += parsed.request.max_tokens;
      byModel.set(parsed.request.model, m);
    }
  }
  return r;
}

/** The report of bad lines: one line each, `line N: field: message`. */
export function formatProblems(r: ScanResult): string {
  const out = r.problems.map(
    (p) => `line ${p.line}: ${p.problems.map((x) => `${x.field}: ${x.message}`).join('; ')}`,
  );
  if (r.invalid > r.problems.length) out.push(`… and ${r.invalid - r.problems.length} more bad lines`);
  return out.join('\n');
}
