// The X-server probe behind the gpujs context error: it must report what the server answered.
import { mkdirSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { describeXDisplay, displaySocket } from '../../src/backends/gpujs/xDisplay.js';

/** A fake X server on display :n that answers the connection setup with `reply`. */
function fakeServer(n: number, reply: Uint8Array): Promise<Server> {
  mkdirSync('/tmp/.X11-unix', { recursive: true });
  rmSync(`/tmp/.X11-unix/X${n}`, { force: true });
  const server = createServer((s) => s.once('data', () => s.end(reply)));
  return new Promise((resolve) => server.listen(`/tmp/.X11-unix/X${n}`, () => resolve(server)));
}

/** An X11 "Failed" setup reply carrying `reason`. */
function failed(reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const padded = new Uint8Array(Math.ceil(text.length / 4) * 4);
  padded.set(text);
  return Uint8Array.of(0, text.length, 11, 0, 0, 0, padded.length / 4, 0, ...padded);
}

describe('describeXDisplay', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  // Display numbers no real server uses here.
  const base = 40000 + (process.pid % 10000);

  it('maps local DISPLAY values to their socket and leaves remote ones alone', () => {
    expect(displaySocket(':0')).toBe('/tmp/.X11-unix/X0');
    expect(displaySocket(':12.0')).toBe('/tmp/.X11-unix/X12');
    expect(displaySocket('unix:3')).toBe('/tmp/.X11-unix/X3');
    expect(displaySocket('remote:0')).toBeNull();
  });

  it('says when DISPLAY is unset or nothing listens', async () => {
    expect(await describeXDisplay(undefined)).toBe('DISPLAY is not set');
    expect(await describeXDisplay(`:${base}`)).toMatch(new RegExp(`DISPLAY=:${base}: no X server answers at /tmp/.X11-unix/X${base}`));
  });

  it("reports the server's refusal with its reason", async () => {
    servers.push(await fakeServer(base + 1, failed('Maximum number of clients reached')));
    expect(await describeXDisplay(`:${base + 1}`)).toBe(`DISPLAY=:${base + 1}: the X server refused the connection: Maximum number of clients reached`);
  });

  it('reports a server that accepts, and one that hangs up', async () => {
    servers.push(await fakeServer(base + 2, Uint8Array.of(1, 0, 11, 0, 0, 0, 0, 0)));
    expect(await describeXDisplay(`:${base + 2}`)).toBe(`DISPLAY=:${base + 2}: the X server accepts connections now`);
    servers.push(await fakeServer(base + 3, new Uint8Array(0)));
    expect(await describeXDisplay(`:${base + 3}`)).toMatch(/closed the connection before answering/);
  });

  it('answers for the real display when there is one', async (ctx) => {
    if (!process.env.DISPLAY) {
      if (process.env.CI) throw new Error('DISPLAY is unset in CI: .ci/run starts Xvfb for the gpujs backend');
      console.warn('\n*** SKIPPING the real-display check: DISPLAY is unset (start Xvfb, see README "Backends")\n');
      return ctx.skip();
    }
    expect(await describeXDisplay(process.env.DISPLAY)).toBe(`DISPLAY=${process.env.DISPLAY}: the X server accepts connections now`);
  });
});
