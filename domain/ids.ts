/**
 * Deterministic ids that workflow code can compute (no Node crypto in the sandbox): SHA-1 and RFC 4122
 * version-5 UUIDs. Client order ids are UUIDv5 of `workflowId:cycle:leg:intentVersion`, 36 characters, within
 * Alpaca's 48 and Bybit's 36.
 */

/** The project's UUIDv5 namespace for client order ids (a fixed random UUID). */
export const CLIENT_ORDER_ID_NAMESPACE = '0b5d8f64-3c1e-4a8e-9b7a-5e2f6c1d9a47';

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** SHA-1 of bytes (RFC 3174). Used only for name-based UUIDs, not for security. */
export function sha1(bytes: Uint8Array): Uint8Array {
  const ml = bytes.length * 8;
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(ml / 2 ** 32));
  view.setUint32(padded.length - 4, ml >>> 0);
  let h0 = 0x67452301;
  let h1 = 0xefcdab89;
  let h2 = 0x98badcfe;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i++) {
      const [f, k] =
        i < 20 ? [(b & c) | (~b & d), 0x5a827999] : i < 40 ? [b ^ c ^ d, 0x6ed9eba1] : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0;
      e = d;
      d = c;
      c = ((b << 30) | (b >>> 2)) >>> 0;
      b = a;
      a = t;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const ov = new DataView(out.buffer);
  [h0, h1, h2, h3, h4].forEach((h, i) => ov.setUint32(i * 4, h));
  return out;
}

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** RFC 4122 version-5 (SHA-1, name-based) UUID. */
export function uuidV5(name: string, namespace: string): string {
  const ns = uuidBytes(namespace);
  const nameBytes = utf8(name);
  const input = new Uint8Array(ns.length + nameBytes.length);
  input.set(ns);
  input.set(nameBytes, ns.length);
  const hash = sha1(input).slice(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The client order id of one order leg: stable across retries, restarts and continue-as-new (never uses the run id). */
export function clientOrderId(workflowId: string, cycle: number, leg: number, intentVersion: number): string {
  return uuidV5(`${workflowId}:${cycle}:${leg}:${intentVersion}`, CLIENT_ORDER_ID_NAMESPACE);
}

/** The project's UUIDv5 namespace for trade approval requests (a fixed random UUID). */
export const APPROVAL_ID_NAMESPACE = '6f1c2a9e-8d43-4b7f-a5e0-3c9d7b21e864';

/** The id of the approval request a deployment cycle opens for one leg: the same on every replay and retry. */
export function approvalRequestId(workflowId: string, cycle: number, leg: number): string {
  return uuidV5(`${workflowId}:${cycle}:${leg}`, APPROVAL_ID_NAMESPACE);
}

/** The project's UUIDv5 namespace for the account itself as the owner of positions no deployment holds. */
export const ACCOUNT_OWNER_NAMESPACE = '3a7c0e52-9f1d-4b68-8e25-d4b6f09a1c37';

/**
 * The deployment id a liquidation writes on the ledger rows of closes no deployment owns (a position the ledger does not
 * know, flagged by reconciliation): the same for an account on every run, never a real deployment's.
 */
export function accountOwnerId(accountId: string): string {
  return uuidV5(`account:${accountId}`, ACCOUNT_OWNER_NAMESPACE);
}
