/**
 * The OpenTelemetry Node SDK, configured from the standard `OTEL_*` variables: OTLP traces and
 * metrics over the protocol `OTEL_EXPORTER_OTLP_PROTOCOL` names (`http/protobuf` by default,
 * `http/json`, `grpc`), W3C Trace Context propagation, AsyncLocalStorage context. Loaded only by
 * `startTelemetry` when an endpoint is set.
 */
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { Logger } from '../../core/log.js';
import type { EventSource } from '../../events/types.js';
import { type GenAiMetricsOptions, subscribeGenAiMetrics } from './genai-metrics.js';

/** A running OpenTelemetry SDK (its module is loaded only when telemetry is on: telemetry.ts). */
export interface Telemetry {
  /** Subscribe the GenAI metrics to a worker's events. */
  observe(events: EventSource, opts?: GenAiMetricsOptions): void;
  /** Flush what is buffered and stop exporting. */
  shutdown(): Promise<void>;
}

export function startSdk(log: Logger): Telemetry {
  const sdk = new NodeSDK({
    // `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` override this default name (the SDK merges
    // the resource it detects from the environment over this one).
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'promptq' })),
    // promptq instruments itself (core/trace.ts, worker/tracing.ts); no monkey-patching.
    instrumentations: [],
  });
  sdk.start();
  log.info('OpenTelemetry export on', {
    endpoint:
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT ??
      process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
      process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    protocol: process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
  });
  let stopping: Promise<void> | undefined;
  return {
    observe: (events, opts) => subscribeGenAiMetrics(events, opts),
    shutdown() {
      stopping ??= boundedShutdown(sdk, log);
      return stopping;
    },
  };
}

/**
 * The last flush may not wait on a collector that is down: a refused one is retried, a blackholed
 * one never answers, each up to the exporter's timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by
 * default), and a process that has drained its jobs would wait that long to exit. Past
 * {@link flushBudgetMs} what is still unexported is dropped, with one line saying so.
 */
export const flushBudgetMs = 2000;

async function boundedShutdown(sdk: NodeSDK, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), flushBudgetMs);
    timer.unref();
  });
  try {
    const done = await Promise.race([sdk.shutdown().then(() => 'done' as const), late]);
    if (done === 'late') {
      log.warn('OpenTelemetry: the collector did not take the last export in time; dropped', {
        waited_ms: flushBudgetMs,
      });
    }
  } catch (err) {
    log.warn('OpenTelemetry shutdown failed', { error: err instanceof Error ? err.message : String(err) });
  } finally {
    clearTimeout(timer);
  }
}
