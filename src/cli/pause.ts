/** `promptq pause | resume`: stop or restart every worker taking jobs from the queue. */
import { type PromptqConfig, topologyOf } from '../core/config.js';
import { type Cli, loadContext } from './context.js';

async function pauseResume(command: 'pause' | 'resume', config: PromptqConfig): Promise<number> {
  const [{ PromptQueue }, { connectOrFail }] = await Promise.all([
    import('../producer/queue.js'),
    import('../store/connection.js'),
  ]);
  const connection = await connectOrFail(topologyOf(config), { timeoutMs: 3000 });
  const q = new PromptQueue({ ...config, connection });
  try {
    if (command === 'pause') await q.queue.pause();
    else await q.queue.resume();
    process.stdout.write(`queue "${config.queue}" ${command === 'pause' ? 'paused' : 'resumed'}\n`);
    return 0;
  } finally {
    await q.close();
    connection.disconnect();
  }
}

export function registerPauseResume(cli: Cli): void {
  const describe = {
    pause: 'stop every worker taking jobs (a spend-limit 429 pauses the queue too)',
    resume: 'restart every worker taking jobs',
  } as const;
  for (const command of ['pause', 'resume'] as const) {
    cli.program
      .command(command)
      .description(describe[command])
      .action(async () => {
        const { config } = loadContext();
        cli.exit(await pauseResume(command, config));
      });
  }
}
