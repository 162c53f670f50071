import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isDocumentedSeries, promptqNames } from './documented-metrics.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');

type Dict = Record<string, unknown>;

interface Service {
  image?: string;
  build?: string | { context?: string };
  command?: string | string[];
  environment?: Dict | string[];
  ports?: (string | number | Dict)[];
  expose?: (string | number)[];
  volumes?: (string | Dict)[];
  profiles?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  deploy?: { replicas?: number };
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// `merge: true`: the file shares api/worker environment through a `<<: *promptq-env` merge key.
const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose;

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
}

const commandOf = (s: Service): string =>
  Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');

function envOf(s: Service): Dict {
  if (!Array.isArray(s.environment)) return s.environment ?? {};
  return Object.fromEntries(
    s.environment.map((kv) => {
      const i = kv.indexOf('=');
      return i < 0 ? [kv, null] : [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
}

interface Mount {
  type: 'bind' | 'volume';
  source: string;
  target: string;
}

function mountsOf(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = ''] = v.split(':');
      const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
      return { type: bind ? 'bind' : 'volume', source, target };
    }
    return {
      type: v.type === 'bind' ? 'bind' : 'volume',
      source: String(v.source ?? ''),
      target: String(v.target ?? ''),
    };
  });
}

/** Host ports a service publishes (`"3000:3000"`, `"127.0.0.1:3000:3000"`, `{published: 3000}`). */
function publishedPorts(s: Service): string[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return String(p.published ?? '');
    const parts = String(p).split(':');
    return parts.length >= 2 ? (parts[parts.length - 2] ?? '') : '';
  });
}

function containerPorts(s: Service): string[] {
  return (s.ports ?? []).map((p) =>
    typeof p === 'object' ? String(p.target ?? '') : (String(p).split(':').pop() ?? ''),
  );
}

describe('docker-compose.yml', () => {
  it('has the expected services and images', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['api', 'grafana', 'jaeger', 'otel-collector', 'prometheus', 'redis', 'simulator', 'worker'].sort(),
    );
    expect(service('redis').image).toBe('redis:7-alpine');
    expect(service('prometheus').image).toMatch(/^prom\/prometheus(:|$)/);
    expect(service('grafana').image).toMatch(/^grafana\/grafana(:|$)/);
    for (const name of ['api', 'worker', 'simulator']) {
      const build = service(name).build;
      expect(typeof build === 'string' ? build : build?.context, `${name} builds the repo`).toBe('.');
    }
  });

  it('runs redis with an append-only file, a named data volume and a health check', () => {
    const redis = service('redis');
    const cmd = commandOf(redis);
    expect(cmd).toMatch(/^redis-server\b/);
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--appendfsync everysec');
    const data = mountsOf(redis).find((m) => m.target === '/data');
    expect(data?.type).toBe('volume');
    expect(Object.keys(compose.volumes ?? {})).toContain(data?.source);
    expect(JSON.stringify((redis as Dict).healthcheck)).toContain('redis-cli');
  });

  it('runs the api on 0.0.0.0:3000 with an auth token, published on 3000', () => {
    const api = service('api');
    expect(commandOf(api)).toBe('api');
    const env = envOf(api);
    expect(env.HOST).toBe('0.0.0.0');
    expect(String(env.PORT)).toBe('3000');
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    // Required (the `:?` form fails `docker compose up` when unset): the API listens beyond loopback.
    expect(String(env.PROMPTQ_AUTH_TOKEN)).toMatch(/^\$\{PROMPTQ_AUTH_TOKEN:\?.+\}$/);
    expect(env).toHaveProperty('ANTHROPIC_API_KEY');
    expect(env).toHaveProperty('ANTHROPIC_BASE_URL');
    expect(publishedPorts(api)).toContain('3000');
    expect(containerPorts(api)).toContain('3000');
    expect(api.depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
  });

  it('runs at least two worker replicas with /metrics on 3001 and no host port', () => {
    const worker = service('worker');
    expect(commandOf(worker)).toBe('worker');
    const env = envOf(worker);
    expect(String(env.PORT)).toBe('3001');
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    expect(String(env.PROMPTQ_AUTH_TOKEN)).toMatch(/^\$\{PROMPTQ_AUTH_TOKEN:\?.+\}$/);
    expect(env).toHaveProperty('ANTHROPIC_API_KEY');
    expect(worker.ports ?? []).toEqual([]);
    expect(worker.deploy?.replicas ?? 1).toBeGreaterThanOrEqual(2);
    expect(worker.depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
  });

  it('publishes Prometheus on 9090 and Grafana on 3030', () => {
    expect(service('prometheus').ports).toContain('9090:9090');
    expect(service('grafana').ports).toContain('3030:3000');
  });

  it('keeps the simulator under the "sim" profile, listening on 0.0.0.0:4000', () => {
    const sim = service('simulator');
    expect(sim.profiles).toEqual(['sim']);
    expect(commandOf(sim)).toMatch(/^simulate\b/);
    expect(commandOf(sim)).toContain('--host 0.0.0.0');
    expect(commandOf(sim)).toContain('--port 4000');
    expect(containerPorts(sim)).toContain('4000');
    for (const name of ['redis', 'api', 'worker', 'prometheus', 'grafana']) {
      expect(service(name).profiles, `${name} runs without a profile`).toBeUndefined();
    }
    expect(read('docker-compose.yml')).toContain('ANTHROPIC_BASE_URL=http://simulator:4000');
  });

  it('keeps an OpenTelemetry Collector and Jaeger under the "otel" profile, Datadog when DD_API_KEY is set', () => {
    const collector = service('otel-collector');
    const jaeger = service('jaeger');
    expect(collector.profiles).toEqual(['otel']);
    expect(jaeger.profiles).toEqual(['otel']);
    expect(collector.image).toMatch(/^otel\/opentelemetry-collector-contrib(:|$)/);
    expect(jaeger.image).toMatch(/^jaegertracing\/jaeger(:|$)/);
    expect(publishedPorts(collector)).toEqual(expect.arrayContaining(['4318', '4317']));
    expect(publishedPorts(jaeger)).toContain('16686');
    // The Datadog overlay is added only when DD_API_KEY is non-empty (Compose's `${VAR:+word}`).
    const cmd = commandOf(collector);
    expect(cmd).toContain('--config=/etc/otelcol/collector.yaml');
    expect(cmd).toMatch(/\$\{DD_API_KEY:\+--config=\/etc\/otelcol\/datadog\.yaml\}/);
    expect(envOf(collector)).toHaveProperty('DD_API_KEY');
    const mount = mountsOf(collector).find((m) => m.target === '/etc/otelcol');
    expect(mount?.source).toBe('./deploy/otel');

    type Pipelines = Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
    type Collector = {
      receivers?: Dict;
      exporters?: Dict;
      connectors?: Dict;
      service: { pipelines: Pipelines };
    };
    const base = parse(read('deploy/otel/collector.yaml')) as Collector;
    expect(JSON.stringify(base.receivers)).toContain('0.0.0.0:4318');
    expect(base.service.pipelines.traces?.exporters).toEqual(['otlp/jaeger']);
    expect(base.exporters?.['otlp/jaeger']).toMatchObject({ endpoint: 'jaeger:4317' });
    expect(base.service.pipelines.metrics?.receivers).toEqual(['otlp']);
    const dd = parse(read('deploy/otel/datadog.yaml')) as Collector;
    expect(dd.exporters?.datadog).toMatchObject({
      api: { key: expect.stringMatching(/^\$\{env:DD_API_KEY\}$/) },
    });
    expect(dd.service.pipelines.traces?.exporters).toEqual(['datadog/connector', 'datadog']);
    expect(dd.service.pipelines.metrics?.exporters).toEqual(['datadog']);
    expect(dd.service.pipelines.metrics?.receivers).toContain('datadog/connector');
    for (const [name, p] of Object.entries({ ...base.service.pipelines, ...dd.service.pipelines })) {
      for (const e of p.exporters) {
        expect({ ...base.exporters, ...dd.exporters, ...dd.connectors }, `${name}: ${e}`).toHaveProperty([e]);
      }
    }

    // promptq's processes pass the endpoint through; unset, telemetry stays off.
    for (const name of ['api', 'worker']) {
      const env = envOf(service(name));
      expect(env).toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT', null);
      expect(String(env.OTEL_SERVICE_NAME)).toContain('promptq');
    }
    expect(read('docker-compose.yml')).toContain('OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318');
  });

  it('bind-mounts only files and directories that exist, and declares its named volumes', () => {
    let binds = 0;
    for (const [name, s] of Object.entries(compose.services)) {
      for (const m of mountsOf(s)) {
        if (m.type === 'bind') {
          binds += 1;
          expect(isAbsolute(m.source), `${name}: ${m.source} is relative to the repo`).toBe(false);
          expect(existsSync(resolve(root, m.source)), `${name}: ${m.source} exists`).toBe(true);
        } else {
          expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source} is declared`).toContain(
            m.source,
          );
        }
      }
    }
    expect(binds).toBeGreaterThanOrEqual(4);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = (keyword: string): string[] =>
    [...dockerfile.matchAll(new RegExp(`^${keyword}\\s+(.+)$`, 'gm'))].map((m) => (m[1] ?? '').trim());

  it('runs bin/promptq.js with `start` by default', () => {
    const entrypoint = instructions('ENTRYPOINT');
    expect(entrypoint).toHaveLength(1);
    expect(JSON.parse(entrypoint[0] ?? '')).toEqual(['node', 'bin/promptq.js']);
    expect(instructions('CMD').map((c) => JSON.parse(c))).toEqual([['start']]);
    expect(existsSync(join(root, 'package.json'))).toBe(true);
    const pkg = JSON.parse(read('package.json')) as { bin?: Record<string, string> };
    expect(pkg.bin?.promptq).toBe('bin/promptq.js');
  });

  it('builds in one stage and runs from node:24-bookworm-slim (LTS) as a non-root user', () => {
    expect(instructions('FROM')).toEqual([
      'node:24-bookworm-slim AS build',
      'node:24-bookworm-slim AS runtime',
    ]);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(dockerfile).toMatch(/npm run build/);
    const users = instructions('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(instructions('EXPOSE')).toContain('3000');
    const healthcheck = dockerfile.slice(dockerfile.indexOf('HEALTHCHECK'));
    expect(healthcheck).toContain('/healthz');
    expect(healthcheck).not.toMatch(/\bcurl\b|\bwget\b/);
  });

  it('has a .dockerignore that keeps local state out but lets the build inputs in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    for (const needed of [
      'src',
      'packages',
      'bin',
      'scripts',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
    ]) {
      expect(ignored, `${needed} reaches the build`).not.toContain(needed);
    }
  });
});

interface PromConfig {
  rule_files?: string[];
  scrape_configs?: {
    job_name: string;
    authorization?: { type?: string; credentials_file?: string };
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; type?: string; port?: number }[];
  }[];
}

interface RuleGroups {
  groups: {
    name: string;
    rules: {
      alert?: string;
      record?: string;
      expr: string;
      for?: string;
      labels?: Dict;
      annotations?: Dict;
    }[];
  }[];
}

interface ComposeWithSecrets extends Compose {
  secrets?: Record<string, { environment?: string; file?: string }>;
}

describe('Prometheus config', () => {
  const promPath = 'deploy/prometheus/prometheus.yml';
  const prom = parse(read(promPath)) as PromConfig;

  it('scrapes the api and every worker replica, and loads rule files that exist', () => {
    const jobs = prom.scrape_configs ?? [];
    const targets = jobs.flatMap((j) => (j.static_configs ?? []).flatMap((c) => c.targets));
    expect(targets).toContain('api:3000');
    const dns = jobs.flatMap((j) => j.dns_sd_configs ?? []);
    expect(dns).toContainEqual(expect.objectContaining({ names: ['worker'], type: 'A', port: 3001 }));

    // The api answers /metrics only with PROMPTQ_AUTH_TOKEN (src/ops/http/app.ts): Prometheus gets it
    // as a compose secret.
    const apiJob = jobs.find((j) => (j.static_configs ?? []).some((c) => c.targets.includes('api:3000')));
    const tokenFile = apiJob?.authorization?.credentials_file ?? '';
    expect(apiJob?.authorization?.type ?? 'Bearer').toBe('Bearer');
    const secretName = /^\/run\/secrets\/([\w.-]+)$/.exec(tokenFile)?.[1];
    expect(secretName, `api scrape credentials_file ${tokenFile} is a compose secret`).toBeDefined();
    const prometheusSecrets = (
      service('prometheus') as { secrets?: (string | { source: string; target?: string })[] }
    ).secrets;
    expect(
      (prometheusSecrets ?? []).map((x) => (typeof x === 'string' ? x : (x.target ?? x.source))),
    ).toContain(secretName);
    expect((compose as ComposeWithSecrets).secrets?.[secretName ?? '']).toEqual({
      environment: 'PROMPTQ_AUTH_TOKEN',
    });

    const ruleFiles = prom.rule_files ?? [];
    expect(ruleFiles).toContain('alerts.yml');
    const mounts = mountsOf(service('prometheus'));
    const configMount = mounts.find((m) => m.source === `./${promPath}`);
    expect(configMount?.target).toBe('/etc/prometheus/prometheus.yml');
    for (const f of ruleFiles) {
      const local = join(dirname(promPath), f);
      expect(existsSync(join(root, local)), `${local} exists`).toBe(true);
      // Relative rule files resolve next to the config inside the container too.
      expect(mounts.map((m) => m.target)).toContain(join('/etc/prometheus', f));
    }
  });

  it('alerts use only documented metrics and carry severity, summary, description and runbook', () => {
    const rules = parse(read('deploy/prometheus/alerts.yml')) as RuleGroups;
    expect(rules.groups.map((g) => g.name)).toContain('promptq');
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const r of alerts) {
      const names = promptqNames(r.expr);
      expect(names.length, `${r.alert} queries a promptq metric`).toBeGreaterThan(0);
      for (const n of names)
        expect(isDocumentedSeries(n), `${r.alert}: ${n} is a documented metric`).toBe(true);
      expect(r.for, `${r.alert} has a for:`).toBeTruthy();
      expect(['critical', 'warning', 'info']).toContain(r.labels?.severity);
      for (const a of ['summary', 'description', 'runbook']) {
        expect(r.annotations?.[a], `${r.alert} has annotation ${a}`).toBeTruthy();
      }
    }
  });

  it('has a unit test for every alert', () => {
    const rules = parse(read('deploy/prometheus/alerts.yml')) as RuleGroups;
    const tests = parse(read('deploy/prometheus/alerts.test.yml')) as {
      rule_files: string[];
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    expect(tests.rule_files).toEqual(['alerts.yml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      if (!r.alert) continue;
      const mine = cases.filter((c) => c.alertname === r.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${r.alert} has a case where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${r.alert} has a case where it is silent`,
      ).toBe(true);
    }
  });
});

interface Panel {
  title?: string;
  type?: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

describe('Grafana provisioning', () => {
  const grafanaMounts = mountsOf(service('grafana'));

  it('provisions the Prometheus datasource with uid "prometheus"', () => {
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(ds.datasources).toContainEqual(
      expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
    );
    expect(grafanaMounts).toContainEqual(
      expect.objectContaining({
        source: './deploy/grafana/provisioning',
        target: '/etc/grafana/provisioning',
      }),
    );
  });

  it('loads dashboards from the directory docker-compose.yml mounts', () => {
    const provider = parse(read('deploy/grafana/provisioning/dashboards/promptq.yml')) as {
      providers: { type: string; options: { path: string } }[];
    };
    const path = provider.providers[0]?.options.path;
    expect(path).toBe('/var/lib/grafana/dashboards');
    expect(grafanaMounts).toContainEqual(
      expect.objectContaining({ source: './deploy/grafana/dashboards', target: path }),
    );
  });

  it('has a dashboard whose queries use only documented metrics from the provisioned datasource', () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/promptq.json')) as {
      uid: string;
      title: string;
      panels: Panel[];
    };
    expect(dashboard.uid).toBeTruthy();
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(5);
    const seen = new Set<string>();
    for (const p of panels) {
      expect(p.datasource?.uid, `${p.title}: datasource`).toBe('prometheus');
      expect(p.targets?.length, `${p.title} has queries`).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        const names = promptqNames(t.expr ?? '');
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const n of names) {
          expect(isDocumentedSeries(n), `${p.title}: ${n} is a documented metric`).toBe(true);
          seen.add(n);
        }
      }
    }
    for (const n of [
      'promptq_requests_total',
      'promptq_request_duration_seconds_bucket',
      'promptq_queue_jobs',
      'promptq_tokens_total',
      'promptq_cost_usd_total',
    ]) {
      expect(seen, `the dashboard shows ${n}`).toContain(n);
    }
  });
});

/** The absolute path of an executable on PATH, or undefined. */
function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, cmd);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

const onCI = !['', '0', 'false', undefined].includes(process.env.CI);
const promtool = onPath('promtool');

describe('promtool', () => {
  const run = (...args: string[]): void => {
    if (!promtool) {
      // On CI a missing promtool is a failure, not a skip (.ci/run installs it).
      expect.fail('promtool is not on PATH (Debian: apt-get install prometheus)');
    }
    const r = spawnSync(promtool, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined();
    expect(r.status, `promtool ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  };

  it.runIf(promtool !== undefined || onCI)('check rules deploy/prometheus/alerts.yml', () => {
    run('check', 'rules', 'deploy/prometheus/alerts.yml');
  });

  it.runIf(promtool !== undefined || onCI)('check config deploy/prometheus/prometheus.yml', () => {
    // --syntax-only: the scrape token file (/run/secrets/...) exists only inside the container.
    run('check', 'config', '--syntax-only', 'deploy/prometheus/prometheus.yml');
  });

  it.runIf(promtool !== undefined || onCI)('check config deploy/prometheus/prometheus.local.yml', () => {
    // The variant for Prometheus on the host, next to `promptq start`: fully checked (no secrets).
    run('check', 'config', 'deploy/prometheus/prometheus.local.yml');
  });

  it.runIf(promtool !== undefined || onCI)('test rules deploy/prometheus/alerts.test.yml', () => {
    run('test', 'rules', 'deploy/prometheus/alerts.test.yml');
  });
});
