/**
 * The accounts file: JSON or YAML, checked by its schema; credentials only by environment-variable
 * name; a bad file is a configuration error (exit 2 from `promptq start`) naming the entry and field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { parseAccounts } from '../../src/providers/accounts.js';
import { spawnCli } from '../helpers/cli.js';

const env = { KEY_A: 'sk-ant-a', KEY_B: 'sk-ant-b', VERTEX_TOKEN: 'ya29.t' };

function refusal(text: string, where = 'accounts.json'): string {
  try {
    parseAccounts(text, where, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('the accounts file', () => {
  it('reads all four providers from YAML, with defaults left out', () => {
    const accounts = parseAccounts(
      `accounts:
  - { name: main, provider: anthropic, api_key_env: KEY_A }
  - { name: aws, provider: bedrock, region: us-east-1, inference_profile: us }
  - { name: gcp, provider: vertex, project: my-project, region: us-east5, access_token_env: VERTEX_TOKEN }
  - { name: proxy, provider: gateway, base_url: "https://llm.internal.example/anthropic", models: [claude-haiku-4-5] }
`,
      'accounts.yaml',
      env,
    );
    expect(accounts.map((a) => `${a.name}:${a.provider}`)).toEqual([
      'main:anthropic',
      'aws:bedrock',
      'gcp:vertex',
      'proxy:gateway',
    ]);
  });

  it('refuses an inline secret, naming the entry and the field, never echoing the value', () => {
    const message = refusal(
      JSON.stringify({
        accounts: [{ name: 'main', provider: 'anthropic', api_key: 'sk-ant-inline-secret' }],
      }),
    );
    expect(message).toContain('accounts[0] "main": api_key: an inline secret is refused; use api_key_env');
    expect(message).not.toContain('sk-ant-inline-secret');
  });

  it('refuses a key put where the variable name goes', () => {
    const message = refusal(
      JSON.stringify({
        accounts: [{ name: 'main', provider: 'anthropic', api_key_env: 'sk-ant-api03-abc' }],
      }),
    );
    expect(message).toContain('accounts[0] "main": api_key_env: must be the NAME of an environment variable');
    expect(message).not.toContain('sk-ant-api03-abc');
  });

  it('names a missing variable, an unknown provider, a missing field, a duplicate name', () => {
    expect(
      refusal(JSON.stringify({ accounts: [{ name: 'b', provider: 'anthropic', api_key_env: 'UNSET_KEY' }] })),
    ).toContain('accounts[0] "b": api_key_env: the environment variable UNSET_KEY is not set');
    expect(refusal(JSON.stringify({ accounts: [{ name: 'x', provider: 'azure' }] }))).toContain(
      'accounts[0] "x": provider:',
    );
    expect(refusal(JSON.stringify({ accounts: [{ name: 'aws', provider: 'bedrock' }] }))).toContain(
      'accounts[0] "aws": region:',
    );
    const twice = { name: 'a', provider: 'anthropic', api_key_env: 'KEY_A' };
    expect(refusal(JSON.stringify({ accounts: [twice, twice] }))).toContain(
      'accounts[1] "a": name: "a" is used twice',
    );
  });

  it('the variable set is accepted (the control of the missing-variable refusal)', () => {
    const ok = parseAccounts(
      JSON.stringify({ accounts: [{ name: 'b', provider: 'anthropic', api_key_env: 'KEY_B' }] }),
      'a.json',
      env,
    );
    expect(ok[0]?.name).toBe('b');
  });

  it('`promptq start` with a bad file exits 2 with one line naming the entry and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promptq-accounts-'));
    const file = join(dir, 'accounts.yaml');
    writeFileSync(
      file,
      'accounts:\n  - { name: gcp, provider: vertex, project: my-project, region: us-east5, token: abc }\n',
    );
    const cli = spawnCli(['start'], { PROMPTQ_ACCOUNTS: file, REDIS_URL: 'redis://127.0.0.1:1', PORT: '0' });
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toContain('accounts[0] "gcp": token: an inline secret is refused');
  }, 30_000);
});
