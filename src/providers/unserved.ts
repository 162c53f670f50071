/**
 * The provider of a call that no account may serve: the job names accounts that do not exist or
 * do not serve its model. Its call fails at once with {@link UnservedModelError}, a client error
 * that names the model and the accounts, without reaching any API.
 */
import { type Provider, UnservedModelError } from './provider.js';

export function unservedProvider(
  model: string,
  accounts: readonly string[] | undefined,
  why?: string,
): Provider {
  const where = accounts === undefined ? 'any configured account' : `the account(s) ${accounts.join(', ')}`;
  const error = new UnservedModelError(model, where, why);
  return {
    name: 'none',
    account: 'none',
    accountName: 'none',
    endpoint: 'none',
    prices: { priceCall: () => null, worstCase: () => null },
    modelId: () => undefined,
    stream: () => Promise.reject(error),
    classify: () => error.decision(),
    rateLimitSignals: () => ({}),
    close: async () => {},
  };
}
