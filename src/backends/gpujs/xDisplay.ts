/**
 * What the X server named by DISPLAY says to a new client, for the error when headless-gl
 * cannot create a context (headless-gl itself only returns null). Node-only: it opens the
 * server's local socket and sends the 12-byte X11 connection setup, which every X server
 * answers with Success, Failed (with a reason) or Authenticate.
 */

interface Socket {
  on(event: 'data', fn: (b: Uint8Array) => void): Socket;
  on(event: 'error', fn: (e: Error) => void): Socket;
  on(event: 'close', fn: () => void): Socket;
  write(b: Uint8Array): void;
  destroy(): void;
  setTimeout(ms: number, fn: () => void): void;
}
type Net = { connect(path: string): Socket };

/** LSB byte order, protocol 11.0, no authorization. */
const SETUP = Uint8Array.of(0x6c, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0);

/** The local socket of a DISPLAY like ':0' or ':1.0', or null for remote or odd values. */
export function displaySocket(display: string): string | null {
  const m = /^(?:unix)?:(\d+)(?:\.\d+)?$/.exec(display);
  return m ? `/tmp/.X11-unix/X${m[1]}` : null;
}

/** Reads the first answer of the X server on `display`; never throws. */
export async function describeXDisplay(display: string | undefined, timeoutMs = 2000): Promise<string> {
  if (!display) return 'DISPLAY is not set';
  const path = displaySocket(display);
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  const net = getBuiltin?.('node:net') as Net | undefined;
  if (!path || !net) return `DISPLAY=${display} (not probed)`;
  return new Promise((resolve) => {
    const done = (what: string) => {
      socket.destroy();
      resolve(`DISPLAY=${display}: ${what}`);
    };
    let reply = new Uint8Array(0);
    const socket = net.connect(path);
    socket.setTimeout(timeoutMs, () => done(`the X server at ${path} did not answer within ${timeoutMs} ms`));
    socket.on('error', (e) => done(`no X server answers at ${path} (${e.message})`));
    socket.on('close', () => done(`the X server at ${path} closed the connection before answering`));
    socket.on('data', (chunk) => {
      reply = Uint8Array.of(...reply, ...chunk);
      if (reply.length < 8) return;
      if (reply[0] === 1) return done('the X server accepts connections now');
      if (reply[0] === 2) return done('the X server asks for authorization (check XAUTHORITY)');
      const n = reply[1]!;
      if (reply.length < 8 + n) return;
      done(`the X server refused the connection: ${new TextDecoder().decode(reply.subarray(8, 8 + n))}`);
    });
    socket.write(SETUP);
  });
}
