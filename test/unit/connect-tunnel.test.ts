import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const TUNNEL = fileURLToPath(new URL('../../runner/git-mirror/connect-tunnel.ts', import.meta.url));

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('no address');
  return addr.port;
}

/** A target that greets first (as sshd does) and then echoes upper-cased. */
function upperEcho(): Server {
  return createServer((sock) => {
    sock.write('banner\n');
    sock.on('data', (d: Buffer) => sock.write(d.toString().toUpperCase()));
    sock.on('end', () => sock.end());
  });
}

/** A minimal CONNECT proxy: 403 for `refusePort`, otherwise a raw tunnel. Records the request heads. */
function connectProxy(refusePort: number, heads: string[]): Server {
  return createServer((client: Socket) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      heads.push(buf.slice(0, end));
      const [, host, port] = /^CONNECT ([^ ]+):(\d+) HTTP\/1\.1/.exec(buf) ?? [];
      if (Number(port) === refusePort || !host) {
        client.end('HTTP/1.1 403 Filtered\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const upstream = connect({ host, port: Number(port) }, () => {
        client.write('HTTP/1.1 200 Connection established\r\nProxy-Agent: test\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
    };
    client.on('data', onData);
  });
}

function runTunnel(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [TUNNEL, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    // Close our side only after the greeting and the echo have both come back.
    if (stdout.includes(input.toUpperCase())) child.stdin.end();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.write(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('connect-tunnel (ssh ProxyCommand through an HTTP CONNECT proxy)', () => {
  it('tunnels bytes both ways after a 2xx answer', async () => {
    const heads: string[] = [];
    const targetPort = await listen(upperEcho());
    const proxyPort = await listen(connectProxy(-1, heads));
    const result = await runTunnel(
      ['127.0.0.1', String(proxyPort), '127.0.0.1', String(targetPort)],
      'ping over tunnel\n',
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe('banner\nPING OVER TUNNEL\n');
    expect(heads).toEqual([`CONNECT 127.0.0.1:${targetPort} HTTP/1.1\r\nHost: 127.0.0.1:${targetPort}`]);
  });

  it('reports a 403 from the proxy on one stderr line and exits 1', async () => {
    const targetPort = await listen(upperEcho());
    const proxyPort = await listen(connectProxy(targetPort, []));
    const result = await runTunnel(['127.0.0.1', String(proxyPort), '127.0.0.1', String(targetPort)], 'x');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `connect-tunnel: proxy 127.0.0.1:${proxyPort} refused CONNECT 127.0.0.1:${targetPort}: HTTP/1.1 403 Filtered\n`,
    );
  });

  it('reports an unreachable proxy and exits 1', async () => {
    const deadPort = await listen(createServer());
    await new Promise((r) => servers.pop()?.close(r));
    const result = await runTunnel(['127.0.0.1', String(deadPort), '127.0.0.1', '22'], 'x');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^connect-tunnel: proxy 127\\.0\\.0\\.1:${deadPort}: .*ECONNREFUSED`));
  });
});
