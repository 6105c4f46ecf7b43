import { randomUUID } from 'node:crypto';
import { commandTransition, MAX_PARAMS_VERSION, parseCommand, parseCommandMessage, shownStatus, type CommandRecord } from '../../domain/deployment/commands';

/** The pure part of deployment commands: what a message may look like, what each recorded payload must be, which status each kind leaves. */
const row = (kind: string, payload: unknown): CommandRecord => ({ id: randomUUID(), deploymentId: randomUUID(), kind, payload, requestedBy: 'tom', state: 'recorded' });

describe('parseCommandMessage', () => {
  test('a message is { commandId: <uuid> } and nothing else', () => {
    const id = randomUUID();
    expect(parseCommandMessage({ commandId: id })).toEqual({ ok: true, message: { commandId: id } });
  });
  test.each([
    ['garbage', 'garbage'],
    ['null', null],
    ['a number', 7],
    ['an array', [{ commandId: randomUUID() }]],
    ['missing field', {}],
    ['wrong type', { commandId: 42 }],
    ['not a uuid', { commandId: 'x' }],
    ['an extra field (negative periods)', { commandId: randomUUID(), params: { fast: -5, slow: 0 } }],
    ['an extra field (a huge version)', { commandId: randomUUID(), version: 2 ** 31 }],
    ['the undecodable marker', { undecodable: 'payload (encoding binary/weird) cannot be decoded' }],
  ])('%s is refused with a reason', (_what, arg) => {
    const r = parseCommandMessage(arg);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(/\S/);
  });
});

describe('parseCommand', () => {
  test('each kind with a valid payload', () => {
    expect(parseCommand(row('pause', { reason: 'lunch' }), 'sma-cross')).toMatchObject({ ok: true, command: { kind: 'pause', by: 'tom', reason: 'lunch' } });
    expect(parseCommand(row('stop', {}), 'sma-cross')).toMatchObject({ ok: true, command: { kind: 'stop' } });
    expect(parseCommand(row('params', { version: 2, params: { fast: 3, slow: 9 } }), 'sma-cross')).toMatchObject({ ok: true, command: { kind: 'params', version: 2, params: { fast: 3, slow: 9 } } });
    expect(parseCommand(row('breaker-reset', { reason: 'reviewed' }), 'sma-cross')).toMatchObject({ ok: true, command: { kind: 'breaker-reset', reason: 'reviewed' } });
  });
  test.each([
    ['negative periods', row('params', { version: 2, params: { fast: -5, slow: 0 } }), /params\.fast/],
    ['fast not below slow', row('params', { version: 2, params: { fast: 9, slow: 3 } }), /params/],
    ['an unknown param', row('params', { version: 2, params: { nope: 1 } }), /params\.nope/],
    ['version 1 (never a new version)', row('params', { version: 1, params: { fast: 3, slow: 9 } }), /version/],
    ['a version above any the API assigns', row('params', { version: MAX_PARAMS_VERSION + 1, params: { fast: 3, slow: 9 } }), /version/],
    ['a fractional version', row('params', { version: 2.5, params: { fast: 3, slow: 9 } }), /version/],
    ['no params', row('params', { version: 2 }), /params/],
    ['a reset without a reason', row('breaker-reset', {}), /reason/],
    ['a stop with an extra field', row('stop', { force: true }), /force|unrecognized/i],
    ['an unknown kind', row('liquidate', {}), /unknown kind/],
    ['a payload that is not an object', row('pause', 'x'), /\S/],
  ])('%s is refused, never thrown', (_what, r, why) => {
    const p = parseCommand(r, 'sma-cross');
    expect(p.ok).toBe(false);
    expect(p.ok ? '' : p.error).toMatch(why);
  });
});

describe('commandTransition and shownStatus', () => {
  test('what each kind does from each status', () => {
    expect(commandTransition('pause', 'running')).toEqual({ to: 'paused' });
    expect(commandTransition('pause', 'paused')).toEqual({ refuse: 'the deployment is already paused' });
    expect(commandTransition('resume', 'paused')).toEqual({ to: 'running' });
    expect(commandTransition('resume', 'running')).toEqual({ refuse: 'the deployment is not paused' });
    expect(commandTransition('stop', 'paused')).toEqual({ to: 'stopping' });
    expect(commandTransition('flatten', 'paused')).toEqual({ to: 'paused' });
    expect(commandTransition('params', 'running')).toEqual({ to: 'running' });
    for (const s of ['stopping', 'stopped', 'failed'] as const) {
      for (const k of ['pause', 'resume', 'stop', 'flatten', 'params', 'breaker-reset'] as const) expect(commandTransition(k, s)).toEqual({ refuse: `the deployment is ${s}` });
    }
  });
  test('running but blocked by reconciliation shows as blocked; every other status as it is', () => {
    expect(shownStatus('running', true)).toBe('blocked');
    expect(shownStatus('running', false)).toBe('running');
    expect(shownStatus('paused', true)).toBe('paused');
    expect(shownStatus('stopping', true)).toBe('stopping');
  });
});
