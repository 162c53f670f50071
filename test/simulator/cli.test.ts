import { describe, expect, it } from 'vitest';
import { parseSimulateArgs, runSimulateCommand } from '../../packages/anthropic-simulator/src/index.js';

describe('promptq simulate', () => {
  it('parses flags into options', () => {
    expect(
      parseSimulateArgs(['--port', '0', '--rpm=50', '--itpm', '30000', '--fault-529', '0.1', '--seed', '-3']),
    ).toMatchObject({ port: 0, limits: { rpm: 50, itpm: 30_000 }, faults: { overloaded: 0.1 }, seed: -3 });
    expect(parseSimulateArgs(['--help'])).toBeNull();
  });

  it('bad flags: one-line reason on stderr and exit code 2', async () => {
    for (const argv of [['--rpm', 'lots'], ['--fault-drop', '2'], ['--bogus'], ['--port']]) {
      const errors: string[] = [];
      const code = await runSimulateCommand(argv, { stderr: (l) => errors.push(l), stdout: () => {} });
      expect(code, argv.join(' ')).toBe(2);
      expect(errors).toHaveLength(1);
      expect(errors[0]).not.toContain('\n');
      expect(errors[0]).toContain((argv[0] ?? '').replace(/=.*/, ''));
    }
  });

  it('--help prints usage and returns 0', async () => {
    const out: string[] = [];
    expect(await runSimulateCommand(['--help'], { stdout: (l) => out.push(l) })).toBe(0);
    expect(out.join('\n')).toContain('--short-interval');
  });

  it('prints the URL, serves until stopped, then returns 0', async () => {
    const out: string[] = [];
    const stop = new AbortController();
    let announce: (line: string) => void = () => {};
    const announced = new Promise<string>((resolve) => {
      announce = resolve;
    });
    const done = runSimulateCommand(['--port', '0', '--rpm', '7', '--ttft-ms', '0'], {
      stdout: (line) => {
        out.push(line);
        announce(line);
      },
      signal: stop.signal,
    });
    const line = await announced;
    const url = /(http:\/\/\S+)/.exec(line)?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const stats = (await (await fetch(`${url}/__stats`)).json()) as { defaultLimits: { rpm: number } };
    expect(stats.defaultLimits.rpm).toBe(7);
    stop.abort();
    expect(await done).toBe(0);
    expect(out).toHaveLength(1);
  });

  it('--no-rate-limit-headers: limits enforced, no anthropic-ratelimit-* headers (control: the default sends them)', async () => {
    expect(parseSimulateArgs(['--no-rate-limit-headers'])).toMatchObject({ rateLimitHeaders: false });
    expect(parseSimulateArgs([])).not.toHaveProperty('rateLimitHeaders');
    expect(() => parseSimulateArgs(['--no-rate-limit-headers=1'])).toThrow(/takes no value/);

    const headersOf = async (extra: string[]) => {
      const stop = new AbortController();
      let announce: (line: string) => void = () => {};
      const announced = new Promise<string>((resolve) => {
        announce = resolve;
      });
      const done = runSimulateCommand(['--port', '0', '--rpm', '1', '--ttft-ms', '0', ...extra], {
        stdout: announce,
        signal: stop.signal,
      });
      const url = /(http:\/\/\S+)/.exec(await announced)?.[1];
      const call = () =>
        fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: {
            'x-api-key': 'k',
            'anthropic-version': '2023-06-01',
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            model: 'claude-haiku-4-5',
            max_tokens: 8,
            messages: [{ role: 'user', content: 'hi' }],
          }),
        });
      const first = await call();
      await first.text();
      const second = await call(); // 1 RPM: refused
      await second.text();
      stop.abort();
      await done;
      const named = (r: Response) =>
        [...r.headers.keys()].filter((k) => k.startsWith('anthropic-ratelimit-'));
      return {
        first: first.status,
        second: second.status,
        retryAfter: second.headers.get('retry-after'),
        names: named(first),
      };
    };

    const without = await headersOf(['--no-rate-limit-headers']);
    expect(without).toMatchObject({ first: 200, second: 429, names: [] });
    expect(Number(without.retryAfter)).toBeGreaterThan(0);
    const control = await headersOf([]);
    expect(control).toMatchObject({ first: 200, second: 429 });
    expect(control.names).toContain('anthropic-ratelimit-requests-limit');
  });
});
