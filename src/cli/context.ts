/**
 * What every command shares: the program it registers on, how it reports its exit code, and the
 * configuration it loads when it runs (never at registration, so `--help` needs no environment).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig, type PromptqConfig, urlCredentials } from '../core/config.js';
import { Logger } from '../core/log.js';
import { embeddedRedisUrl } from '../store/embedded-redis.js';

/** Handed to each command's `register…` function. */
export interface Cli {
  program: Command;
  /** Records the exit code of the command that ran. */
  exit(code: number): void;
}

/** The environment's configuration and a logger; the API key is redacted from logs from here on. */
export function loadContext(): { config: PromptqConfig; log: Logger } {
  const loaded = loadConfig();
  // The private Redis `promptq start` runs for this directory, with its password (embedded-redis.ts).
  const url = loaded.redis.mode === 'single' ? embeddedRedisUrl(loaded.redis.url) : loaded.redis.url;
  const config = url === loaded.redis.url ? loaded : { ...loaded, redis: { ...loaded.redis, url } };
  Logger.redact(config.anthropic.apiKey);
  Logger.redact(config.webhooks.secret);
  Logger.redact(config.webhooks.secretsKey);
  for (const url of [config.redis.url, config.anthropic.baseUrl])
    for (const secret of urlCredentials(url)) Logger.redact(secret);
  return { config, log: new Logger(config.log.level) };
}

/** The directory of promptq's package.json (src/cli in a checkout, dist/src/cli when built). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'promptq')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the promptq package root');
    dir = up;
  }
}

/** promptq's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
}
