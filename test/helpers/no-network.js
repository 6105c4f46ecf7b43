/**
 * Preloaded (NODE_OPTIONS=--require) into the third-party tools a test runs: every attempt to resolve a host name
 * or to open a connection other than to loopback or a local socket is written to $NO_NETWORK_LOG and refused,
 * so the test can prove the tool tried no network (telemetry, update checks, remote $refs).
 */
'use strict';
const dns = require('node:dns');
const fs = require('node:fs');
const net = require('node:net');

const logFile = process.env.NO_NETWORK_LOG;
const record = (what) => {
  if (logFile) fs.appendFileSync(logFile, `${what}\n`);
};
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const opts = typeof first === 'object' && first !== null ? first : { port: first, host: typeof args[1] === 'string' ? args[1] : undefined };
  if (opts.path || LOOPBACK.has(opts.host ?? 'localhost')) return connect.apply(this, args);
  record(`connect ${opts.host}:${opts.port}`);
  throw new Error(`network access refused in this test (${opts.host})`);
};

const lookup = dns.lookup;
const lookupAsync = dns.promises.lookup;
const refuseLookup = (host, ...rest) => {
  if (LOOPBACK.has(host)) return lookup(host, ...rest);
  record(`lookup ${host}`);
  const cb = rest[rest.length - 1];
  const err = Object.assign(new Error(`network access refused in this test (${host})`), { code: 'ENOTFOUND' });
  if (typeof cb === 'function') process.nextTick(cb, err);
};
dns.lookup = refuseLookup;
dns.resolve = refuseLookup;
dns.promises.lookup = async (host, ...rest) => {
  if (LOOPBACK.has(host)) return lookupAsync(host, ...rest);
  record(`lookup ${host}`);
  throw Object.assign(new Error(`network access refused in this test (${host})`), { code: 'ENOTFOUND' });
};
