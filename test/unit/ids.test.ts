import { createHash, randomBytes } from 'node:crypto';
import { clientOrderId, sha1, uuidV5 } from '../../domain/ids';

test('sha1 matches Node crypto on edge lengths and random input', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
    const bytes = new Uint8Array(randomBytes(n));
    expect(Buffer.from(sha1(bytes)).toString('hex')).toBe(createHash('sha1').update(bytes).digest('hex'));
  }
});

test('uuidV5 matches the RFC 4122 / Python uuid5 reference value', () => {
  // uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com')
  expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
});

test('client order ids are stable, distinct per leg/cycle/version and 36 characters', () => {
  const a = clientOrderId('deployment-d1', 7, 0, 1);
  expect(a).toBe(clientOrderId('deployment-d1', 7, 0, 1));
  expect(new Set([a, clientOrderId('deployment-d1', 8, 0, 1), clientOrderId('deployment-d1', 7, 1, 1), clientOrderId('deployment-d1', 7, 0, 2), clientOrderId('deployment-d2', 7, 0, 1)]).size).toBe(5);
  expect(a).toHaveLength(36);
});
