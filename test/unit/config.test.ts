import { ConfigError, configSecrets, loadConfig, redactUrl } from '../../platform/config';

const base = { DATABASE_URL: 'postgres://app:pw@127.0.0.1:5432/app', REDIS_URL: 'redis://127.0.0.1:6379' };

test('defaults are documented values', () => {
  const c = loadConfig(base);
  expect(c).toMatchObject({ PORT: 3000, TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_NAMESPACE: 'default', LOG_LEVEL: 'info', API_KEYS: [] });
});

test('every bad variable is named, in one error', () => {
  let err: unknown;
  try {
    loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', TEMPORAL_ADDRESS: 'nohost', LOG_LEVEL: 'loud' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const message = (err as ConfigError).message;
  for (const name of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'TEMPORAL_ADDRESS', 'LOG_LEVEL']) expect(message).toContain(`${name}:`);
  expect((err as ConfigError).problems).toHaveLength(5);
});

test('API_KEYS parses key:role:name entries', () => {
  const c = loadConfig({ ...base, API_KEYS: 'aaaaaaaaaaaaaaaa1:viewer:vera, bbbbbbbbbbbbbbbb2:admin:ada' });
  expect(c.API_KEYS).toEqual([
    { key: 'aaaaaaaaaaaaaaaa1', role: 'viewer', name: 'vera' },
    { key: 'bbbbbbbbbbbbbbbb2', role: 'admin', name: 'ada' },
  ]);
});

test.each([
  ['secretsecretsecret1:boss:bob', /role "boss"/],
  ['secretsecretsecret1:viewer', /key:role:name/],
  ['short:viewer:sam', /shorter than 16/],
  ['secretsecretsecret1:viewer:a,secretsecretsecret1:admin:b', /share a key/],
])('API_KEYS entry %s is refused without echoing the key', (value, reason) => {
  expect(() => loadConfig({ ...base, API_KEYS: value })).toThrow(reason);
  try {
    loadConfig({ ...base, API_KEYS: value });
  } catch (e) {
    expect((e as Error).message).not.toContain('secretsecretsecret1');
  }
});

test('secrets are listed for scrubbing and URLs are shown without passwords', () => {
  const c = loadConfig({ ...base, REDIS_URL: 'redis://:redispass@127.0.0.1:6379', API_KEYS: 'aaaaaaaaaaaaaaaa1:viewer:vera' });
  expect(configSecrets(c).sort()).toEqual(['aaaaaaaaaaaaaaaa1', 'pw', 'redispass'].sort().filter((s) => s.length >= 4));
  expect(redactUrl(c.DATABASE_URL)).toBe('postgres://app:***@127.0.0.1:5432/app');
});

test('METRICS_PORT: unset or empty serves no metrics; a bad port is named', () => {
  expect(loadConfig(base).METRICS_PORT).toBeUndefined();
  expect(loadConfig({ ...base, METRICS_PORT: '' }).METRICS_PORT).toBeUndefined();
  expect(loadConfig({ ...base, METRICS_PORT: '9464' })).toMatchObject({ METRICS_PORT: 9464, METRICS_HOST: '127.0.0.1' });
  expect(() => loadConfig({ ...base, METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
});
