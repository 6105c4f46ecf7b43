/**
 * docker-compose.yml, Dockerfile and .dockerignore checked without a Docker engine:
 * `docker-compose config -q` (Debian's docker-compose, installed by `npm run provision`) validates the
 * file against the Compose schema, and the parsed YAML is checked for the properties we rely on.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const API_KEYS = 'compose-test-admin-key-0001:admin:ci,compose-test-trader-key-001:trader:ci2';
const GRAFANA_ADMIN_PASSWORD = 'compose-test-grafana';

interface Healthcheck {
  test?: string | string[];
}
interface ComposeService {
  image?: string;
  volumes?: string[];
  build?: unknown;
  command?: string[];
  restart?: string;
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }> | string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  mem_limit?: string;
  cpus?: number | string;
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const APP_SERVICES = ['api', 'worker-cpu', 'worker-io'];
const ONE_SHOT = ['migrate', 'temporal-schema', 'temporal-namespace'];
const REQUIRED = ['postgres', 'redis', 'temporal', 'temporal-ui', 'prometheus', 'grafana', ...ONE_SHOT, ...APP_SERVICES];

function dockerCompose(args: string[], env: NodeJS.ProcessEnv) {
  const found = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error('docker-compose not found: run npm run provision');
  return spawnSync('docker-compose', ['-f', COMPOSE_FILE, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
}

const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;

describe('docker-compose.yml', () => {
  test('docker-compose config -q accepts it', () => {
    const r = dockerCompose(['config', '-q'], { ...process.env, API_KEYS, GRAFANA_ADMIN_PASSWORD });
    if (r.status !== 0) throw new Error(`docker-compose config -q failed (exit ${r.status}):\n${r.stderr}${r.error ? String(r.error) : ''}`);
  });

  test('the resolved file carries API_KEYS to the app services', () => {
    const r = dockerCompose(['config'], { ...process.env, API_KEYS, GRAFANA_ADMIN_PASSWORD });
    expect(r.status).toBe(0);
    const resolved = parse(r.stdout) as ComposeFile;
    for (const name of APP_SERVICES) expect(resolved.services[name]!.environment!.API_KEYS).toBe(API_KEYS);
  });

  test.each(['API_KEYS', 'GRAFANA_ADMIN_PASSWORD'])('%s is required (no built-in default secret)', (name) => {
    const env: NodeJS.ProcessEnv = { ...process.env, API_KEYS, GRAFANA_ADMIN_PASSWORD };
    delete env[name];
    const r = dockerCompose(['config', '-q'], env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(name));
  });

  test('has every service of the platform', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(REQUIRED));
  });

  test.each(REQUIRED.filter((s) => !ONE_SHOT.includes(s)))('%s restarts and has a healthcheck', (name) => {
    const s = compose.services[name]!;
    expect(['unless-stopped', 'always']).toContain(s.restart);
    const t = s.healthcheck?.test;
    expect(Array.isArray(t) ? t.length : (t ?? '').length).toBeGreaterThan(0);
  });

  test('migrate is a one-shot job the app services wait for', () => {
    const m = compose.services.migrate!;
    expect(m.restart).toBe('no');
    expect(m.command).toEqual(['npm', 'run', 'migrate']);
    expect(m.healthcheck).toBeUndefined();
    expect(m.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
  });

  test.each(REQUIRED)('%s has CPU and memory limits', (name) => {
    const s = compose.services[name]!;
    expect(s.deploy?.resources?.limits?.cpus).toBeTruthy();
    expect(s.deploy?.resources?.limits?.memory).toBeTruthy();
    expect(s.mem_limit).toBe(s.deploy!.resources!.limits!.memory); // v1-compatible twin must agree
    expect(Number(s.cpus)).toBe(Number(s.deploy!.resources!.limits!.cpus));
  });

  test.each([
    ['api', 'api'],
    ['worker-cpu', 'worker:cpu'],
    ['worker-io', 'worker:io'],
  ])('%s is built from the Dockerfile, runs npm run %s and waits for its dependencies', (name, script) => {
    const s = compose.services[name]!;
    expect(s.build).toBe('.');
    expect(s.command).toEqual(['npm', 'run', script]);
    expect(s.depends_on).toEqual({
      migrate: { condition: 'service_completed_successfully' },
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
    expect(s.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', REDIS_URL: 'redis://redis:6379' });
    // notification channels pass through (empty when unset), so the IO worker can alert approvers and desks
    for (const v of ['NOTIFY_WEBHOOK_URL', 'NOTIFY_SLACK_WEBHOOK_URL', 'NOTIFY_TELEGRAM_URL']) expect(String(s.environment![v])).toBe(`\${${v}:-}`);
    expect(String(s.environment!.DATABASE_URL)).toMatch(/^postgres:\/\/app:.*@postgres:5432\/app$/);
    expect(String(s.environment!.API_KEYS)).toMatch(/^\$\{API_KEYS:\?/);
  });

  test('healthchecks: api via GET /health, workers via their Redis heartbeat', () => {
    expect(JSON.stringify(compose.services.api!.healthcheck!.test)).toContain('/health');
    expect(compose.services['worker-cpu']!.healthcheck!.test).toEqual(['CMD', 'node_modules/.bin/tsx', 'workers/healthcheck.ts', 'cpu']);
    expect(compose.services['worker-io']!.healthcheck!.test).toEqual(['CMD', 'node_modules/.bin/tsx', 'workers/healthcheck.ts', 'io']);
    expect(compose.services.api!.environment!.HOST).toBe('0.0.0.0');
  });

  test('temporal runs on Postgres at the dev server\'s versions, schema and namespace set up by one-shot jobs', () => {
    // the versions the local dev server runs (scripts/lib.sh pins the Temporal CLI that embeds them)
    const lib = fs.readFileSync(path.join(ROOT, 'scripts', 'lib.sh'), 'utf8');
    const server = /TEMPORAL_CLI_SERVER_VERSION="([^"]+)"/.exec(lib)![1];
    const t = compose.services.temporal!;
    expect(t.image).toBe(`temporalio/server:${server}`);
    expect(t.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(t.depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    for (const job of ['temporal-schema', 'temporal-namespace']) {
      const s = compose.services[job]!;
      expect(s.image).toBe(`temporalio/admin-tools:${server}`);
      expect(s.restart).toBe('no');
      const script = /\/deploy\/(\S+\.sh)/.exec(JSON.stringify(s))![1]!;
      expect(fs.existsSync(path.join(ROOT, 'deploy', 'temporal', script))).toBe(true);
    }
    expect(compose.services['temporal-schema']!.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    expect(compose.services['temporal-namespace']!.depends_on).toMatchObject({ temporal: { condition: 'service_healthy' } });
    const ui = compose.services['temporal-ui']!;
    expect(ui.image).toBe(`temporalio/ui:${/TEMPORAL_CLI_UI_VERSION="([^"]+)"/.exec(lib)![1]}`);
    expect(ui.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(ui.ports).toContain('8233:8080');
    expect(ui.depends_on).toMatchObject({ temporal: { condition: 'service_healthy' } });
  });

  test('prometheus scrapes every app process on the METRICS_PORT they serve; grafana gets its data source and dashboard', () => {
    const prom = fs.readFileSync(path.join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8');
    const config = parse(prom) as { scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; port: number }> }> };
    for (const name of APP_SERVICES) {
      expect(compose.services[name]!.environment).toMatchObject({ METRICS_PORT: 9464, METRICS_HOST: '0.0.0.0' });
      const job = config.scrape_configs.find((j) => j.job_name === name)!;
      const targets = [...(job.static_configs ?? []).flatMap((c) => c.targets), ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port}`))];
      expect(targets).toEqual([`${name}:9464`]);
    }
    expect(compose.services.prometheus!.volumes).toContain('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    const grafana = compose.services.grafana!;
    expect(grafana.volumes).toEqual(expect.arrayContaining(['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro', './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro']));
    const datasources = parse(fs.readFileSync(path.join(ROOT, 'deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string; url: string }> };
    expect(datasources.datasources).toEqual([expect.objectContaining({ uid: 'prometheus', url: 'http://prometheus:9090' })]);
    const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy', 'grafana', 'dashboards', 'durable-trader.json'), 'utf8')) as { panels: Array<{ datasource: { uid: string } }> };
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const p of dashboard.panels) expect(p.datasource.uid).toBe('prometheus');
    expect(String(grafana.environment!.GF_SECURITY_ADMIN_PASSWORD)).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  });

  test('postgres and redis keep their data in volumes and have the expected probes', () => {
    expect(JSON.stringify(compose.services.postgres!.healthcheck!.test)).toContain('pg_isready');
    expect(JSON.stringify(compose.services.redis!.healthcheck!.test)).toContain('redis-cli ping');
    expect(Object.keys(compose.volumes ?? {})).toEqual(expect.arrayContaining(['pg-data', 'redis-data']));
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());

  test('node 24 (the pinned LTS) bookworm-slim, npm ci, prebuilt bundles, non-root, API by default', () => {
    const major = /NODE_PIN_VERSION="(\d+)\./.exec(fs.readFileSync(path.join(ROOT, 'scripts', 'lib.sh'), 'utf8'))![1];
    expect(major).toBe('24');
    expect(dockerfile).toMatch(new RegExp(`^FROM node:${major}-bookworm-slim AS build$`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`^FROM node:${major}-bookworm-slim AS runtime$`, 'm'));
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/RUN npm run build:bundles/);
    const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).not.toMatch(/^(root|0)$/);
    expect(dockerfile).toMatch(/^CMD \["npm", ?"run", ?"api"\]$/m);
  });

  test('the build context leaves out local state', () => {
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', '.local', 'dist', '.git']));
  });
});
