import { connect, createServer, type Server, type Socket } from 'node:net';

// Bytes the pass sends to the API server, counted on the wire: a loopback TCP forwarder the pass's
// kubeconfig points at instead of the API server. TLS passes through untouched (the serving
// certificate names 127.0.0.1, so the client checks it as before); the count includes TLS framing,
// a few percent of a large request.

export interface ByteProxy {
  /** https://127.0.0.1:<port>, to put in the pass's kubeconfig. */
  readonly url: string;
  /** Bytes sent to the API server and received from it since the last `reset()`. */
  counts(): { readonly sent: number; readonly received: number };
  reset(): void;
  close(): Promise<void>;
}

export async function startByteProxy(target: { host: string; port: number }): Promise<ByteProxy> {
  let sent = 0;
  let received = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.once('close', () => open.delete(s));
    }
    client.on('data', (c: Buffer) => (sent += c.length));
    upstream.on('data', (c: Buffer) => (received += c.length));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the byte proxy has no TCP address');
  return {
    url: `https://127.0.0.1:${address.port}`,
    counts: () => ({ sent, received }),
    reset() {
      sent = 0;
      received = 0;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
