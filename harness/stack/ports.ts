/** Ports on 127.0.0.1: free ones, whether one is taken, and the choice a server start makes. */
import net from 'node:net';

/** Every server of the local stack listens here only, never on a public interface. */
export const LOCALHOST = '127.0.0.1';

/** A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, LOCALHOST, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** true when nothing accepts connections on 127.0.0.1:port and we could bind it. */
export async function isPortFree(port: number): Promise<boolean> {
  if (await canConnect(port, 500)) return false;
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, LOCALHOST, () => srv.close(() => resolve(true)));
  });
}

export function canConnect(port: number, timeoutMs = 1000, host = LOCALHOST): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * The port a server starts on: `explicit` must be free (clear error otherwise); else the `remembered` one when
 * free (URLs stay stable across restarts); else a free one. `auto` tells the caller it may retry a lost race.
 */
export async function pickPort(what: string, explicit: number | undefined, remembered: number | undefined): Promise<{ port: number; auto: boolean }> {
  if (explicit) {
    if (!(await isPortFree(explicit))) throw new Error(`port ${explicit} (asked for ${what}) is already in use on ${LOCALHOST}. Fix: stop what listens there (ss -ltnp 'sport = :${explicit}') or choose another port`);
    return { port: explicit, auto: false };
  }
  if (remembered && (await isPortFree(remembered))) return { port: remembered, auto: true };
  return { port: await freePort(), auto: true };
}
