/**
 * OpenTelemetry export, switched on by the standard variables and off by default. With no OTLP
 * endpoint variable set, nothing here loads the SDK: `./sdk.js` (and with it every
 * `@opentelemetry/sdk-*` and exporter module) is imported only when one is, and the spans and
 * instruments promptq creates through `@opentelemetry/api` stay no-ops.
 */
import type { Logger } from '../../core/log.js';
import type { Telemetry } from './sdk.js';

/** The variables any one of which switches OTLP export on. */
export const otlpEndpointVariables = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
] as const;

/** Whether `env` asks for OTLP export (an endpoint set, and `OTEL_SDK_DISABLED` not `true`). */
export function telemetryWanted(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return otlpEndpointVariables.some((name) => (env[name] ?? '').trim() !== '');
}

export type { Telemetry } from './sdk.js';

let shared: { users: number; started: Promise<Telemetry | undefined> } | undefined;

/**
 * Start the SDK when `env` asks for it, once per process (the tracer and meter providers are
 * process-wide): every caller shares it, and the last {@link Telemetry.shutdown} stops it. The SDK
 * reads the rest of the standard variables itself: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, the sampler, the export interval. `undefined` when telemetry is off.
 */
export async function startTelemetry(env: NodeJS.ProcessEnv, log: Logger): Promise<Telemetry | undefined> {
  if (!telemetryWanted(env)) return undefined;
  shared ??= { users: 0, started: import('./sdk.js').then(({ startSdk }) => startSdk(log)) };
  const mine = shared;
  mine.users += 1;
  const sdk = await mine.started;
  if (sdk === undefined) return undefined;
  let released = false;
  return {
    observe: (events, opts) => sdk.observe(events, opts),
    async shutdown() {
      if (released) return;
      released = true;
      mine.users -= 1;
      if (mine.users > 0) return;
      if (shared === mine) shared = undefined;
      await sdk.shutdown();
    },
  };
}
