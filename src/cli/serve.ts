/**
 * `promptq start | worker | api`: the long-running commands. Each runs until SIGTERM/SIGINT: the
 * first signal drains (no new jobs, in-flight jobs finish), a second forces.
 */
import type { PromptqConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { ServiceParts } from '../ops/service.js';
import { type Cli, loadContext } from './context.js';
import { serviceEnvHelp } from './env-help.js';

/** Run a long-lived service until SIGTERM/SIGINT: the first signal drains, a second forces. */
async function serve(config: PromptqConfig, parts: ServiceParts, log: Logger): Promise<number> {
  // Loaded here: the service (express, Bull Board, the SDK, …) is what the short commands do without.
  const { runService } = await import('../ops/service.js');
  const svc = await runService(config, parts, log);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        log.info('shutting down: no new jobs; waiting for in-flight jobs (send the signal again to force)', {
          signal: sig,
          timeout_ms: config.worker.shutdownTimeoutMs,
        });
        // Bounded whatever Redis and the API do: a drain that cannot reach Redis would wait for ever.
        const bound = config.worker.shutdownTimeoutMs + config.worker.shutdownGraceMs;
        setTimeout(() => {
          log.error(
            'shutdown did not finish in time: exiting; unfinished jobs return to the queue when their lock expires',
            {
              timeout_ms: config.worker.shutdownTimeoutMs,
              grace_ms: config.worker.shutdownGraceMs,
            },
          );
          resolve(1);
        }, bound);
        svc.close().then(
          () => {
            log.info('stopped');
            resolve(0);
          },
          (err: Error) => {
            log.error('shutdown failed', { error: err.message });
            resolve(1);
          },
        );
      } else {
        log.warn('forced shutdown: in-flight jobs will be picked up again by another worker', {
          signal: sig,
        });
        // Bounded: a forced stop must not hang on an unreachable Redis.
        const bound = setTimeout(() => resolve(1), 3000);
        void svc.close(true).finally(() => {
          clearTimeout(bound);
          resolve(1);
        });
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

const commands: Array<{ name: string; description: string; parts: ServiceParts }> = [
  {
    name: 'start',
    description: 'HTTP API + Bull Board + /metrics + a worker, in one process',
    parts: { api: true, worker: true, embedRedis: true },
  },
  {
    name: 'worker',
    description: 'a worker only (run many, on many machines, against one Redis)',
    parts: { api: false, worker: true, embedRedis: false },
  },
  {
    name: 'api',
    description: 'HTTP API + Bull Board + /metrics only',
    parts: { api: true, worker: false, embedRedis: false },
  },
];

export function registerServe(cli: Cli): void {
  for (const c of commands) {
    cli.program
      .command(c.name)
      .description(c.description)
      .addHelpText('after', serviceEnvHelp())
      .action(async () => {
        const { config, log } = loadContext();
        cli.exit(await serve(config, c.parts, log));
      });
  }
}
