/**
 * Refreshes src/providers/anthropic/prices.json from Anthropic's public price list.
 *
 *   npx tsx scripts/refresh-prices.ts SOURCE [--out FILE] [--date YYYY-MM-DD]
 *
 * SOURCE is a URL or a file: the pricing page (its Markdown or HTML, e.g. a saved copy of
 * https://docs.claude.com/en/docs/about-claude/pricing.md), or a price list already in the shape of
 * prices.json. From the page, the model table's rows (`| Claude Sonnet 4.5 | $3 / MTok | … | $15 /
 * MTok |`) give each model's base input and output price (and its cache prices from a full row); aliases, long-context tiers and the
 * multipliers are kept from the current file (the page states them in prose). The model list
 * becomes exactly what the source prices: a model it drops becomes unpriced, never guessed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Entry = { input: number; output: number; [k: string]: unknown };
export interface PriceList {
  source: string;
  retrieved: string;
  models: Record<string, Entry>;
  [k: string]: unknown;
}

/** "Claude Sonnet 4.5" → `claude-sonnet-4-5`; "Claude Haiku 3.5" → `claude-3-5-haiku` (the 3.x naming). */
export function modelId(name: string): string | null {
  const m = /Claude\s+(Opus|Sonnet|Haiku|Fable|Mythos)\s+(\d+)(?:\.(\d+))?/i.exec(name);
  if (!m) return null;
  const family = (m[1] as string).toLowerCase();
  const major = Number(m[2]);
  const version = m[3] === undefined ? `${major}` : `${major}-${m[3]}`;
  return major < 4 ? `claude-${version}-${family}` : `claude-${family}-${version === '4' ? '4-0' : version}`;
}

type PagePrice = {
  input: number;
  output: number;
  cache_write?: number;
  cache_write_1h?: number;
  cache_read?: number;
};

/**
 * Model rows of the pricing page's table: the first and the last `$N / MTok` are input and output;
 * a full row (input, 5m write, 1h write, cache hits, output) gives the model's cache prices too, as
 * some models' differ from the multipliers (Opus 5.5's cache hits are 0.05x input).
 */
export function parsePricingPage(text: string): Record<string, PagePrice> {
  const out: Record<string, PagePrice> = {};
  const plain = text.replace(/<\/t[dh]>\s*<t[dh][^>]*>/g, ' | ').replace(/<[^>]+>/g, ' ');
  for (const line of plain.split(/\r?\n|<\/tr>/)) {
    const id = modelId(line);
    if (!id) continue;
    const prices = [...line.matchAll(/\$\s*([\d.]+)\s*\/\s*MTok/gi)].map((p) => Number(p[1]));
    if (prices.length < 2 || id in out) continue;
    const [input, write5m, write1h, read] = prices as [number, number, number, number];
    out[id] = { input, output: prices[prices.length - 1] as number };
    if (prices.length === 5)
      Object.assign(out[id], { cache_write: write5m, cache_write_1h: write1h, cache_read: read });
  }
  return out;
}

/** The new list: prices from the source, everything else of a model kept from the current list. */
export function refresh(current: PriceList, sourceText: string, source: string, date: string): PriceList {
  let models: Record<string, Entry>;
  try {
    const parsed = JSON.parse(sourceText) as PriceList;
    models = parsed.models;
  } catch {
    models = parsePricingPage(sourceText);
  }
  if (Object.keys(models).length === 0) throw new Error(`no model prices found in ${source}`);
  const merged: Record<string, Entry> = {};
  for (const [id, p] of Object.entries(models)) merged[id] = { ...current.models[id], ...p };
  return { ...current, source: `Anthropic's public price list, ${source}`, retrieved: date, models: merged };
}

async function main(argv: string[]): Promise<void> {
  const source = argv[0];
  if (!source || source.startsWith('--')) {
    process.stderr.write('usage: refresh-prices SOURCE (URL or file) [--out FILE] [--date YYYY-MM-DD]\n');
    process.exit(2);
  }
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out =
    flag('--out') ?? fileURLToPath(new URL('../src/providers/anthropic/prices.json', import.meta.url));
  const date = flag('--date') ?? new Date().toISOString().slice(0, 10);
  const text = /^https?:\/\//.test(source)
    ? await (await fetch(source)).text()
    : readFileSync(source, 'utf8');
  const current = JSON.parse(readFileSync(out, 'utf8')) as PriceList;
  const next = refresh(current, text, source, date);
  writeFileSync(out, `${JSON.stringify(next, null, 2)}\n`);
  const before = new Set(Object.keys(current.models));
  const after = new Set(Object.keys(next.models));
  process.stdout.write(
    `${out}: ${after.size} models (added: ${[...after].filter((m) => !before.has(m)).join(', ') || 'none'}; dropped: ${[...before].filter((m) => !after.has(m)).join(', ') || 'none'})\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`refresh-prices: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
