import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../core/kube/client.ts';
import { KubeconfigAuth } from '../../core/kube/kube-auth.ts';
import { KubeError } from '../../core/errors.ts';
import { freePort } from '../../scripts/envtest/control-plane.ts';
import { resourceType } from '../../core/kube/resources.ts';
import type { RetryPolicy } from '../../core/kube/retry.ts';
import { createJob } from '../../core/kube/jobs.ts';

// The client's retries against a real HTTP server on loopback that answers as a restarting or
// overloaded API server does: 503, 429 with Retry-After, no answer, a dropped connection. Budgets
// are a few seconds so the whole file runs in a few seconds.

const CM = resourceType('v1', 'ConfigMap');
const TOKEN = 'tok-3f9a1c77e0b24d5e'; // a bearer token that must never show in a line or an error
const SHORT: RetryPolicy = { budgetMs: 2000, initialBackoffMs: 50, maxBackoffMs: 400 };

/** One request as the server saw it. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly authorization: string | undefined;
  readonly at: number;
}

type Answer = (req: IncomingMessage, res: ServerResponse, n: number) => void;

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

/** A server answering its n-th request (0-based) with `answers[n]` (the last one for every further request). */
async function apiServer(answers: readonly Answer[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const n = seen.length;
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        authorization: req.headers.authorization,
        at: Date.now(),
      });
      answers[Math.min(n, answers.length - 1)]!(req, res, n);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const status =
  (code: number, headers: Record<string, string> = {}, message = 'the server is restarting'): Answer =>
  (_req, res) => {
    res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code }));
  };
const ok =
  (obj: unknown): Answer =>
  (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
/** Drops the connection without an answer, as a killed API server does. */
const drop: Answer = (req) => req.socket.destroy();
/** Never answers. */
const hang: Answer = () => undefined;

const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'state', namespace: 'ns', resourceVersion: '7' },
};

function client(server: string, retry: RetryPolicy = SHORT, requestTimeoutMs = 1000) {
  const auth = new KubeconfigAuth(
    { name: 'local', server, insecureSkipTlsVerify: true, file: '(test)' },
    { name: 'tester', token: TOKEN, file: '(test)' },
    { timeoutMs: 5000, env: {} },
  );
  const lines: string[] = [];
  const c = new KubeClient(
    auth,
    { kubeconfig: '(test)', context: 'local', contextSource: 'flag', server, user: 'tester', requestTimeoutMs, retry },
    { progress: (line) => lines.push(line) },
  );
  return { c, lines };
}

async function rejection(p: Promise<unknown>): Promise<KubeError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KubeError);
    return err as KubeError;
  }
  throw new Error('expected the request to fail');
}

describe('the Kubernetes client retries transient failures within controller.kubeRoute.retry', () => {
  it('gets through a 503, then a 429 with Retry-After (honoured), then answers with the object', async () => {
    const { url, seen } = await apiServer([status(503), status(429, { 'Retry-After': '1' }), ok(configMap)]);
    const { c, lines } = client(url, { budgetMs: 5000, initialBackoffMs: 50, maxBackoffMs: 400 });
    const got = await c.get(CM, 'ns', 'state');
    expect(got?.metadata.resourceVersion).toBe('7');
    expect(seen).toHaveLength(3);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(990); // Retry-After: 1, not the 50-400 ms backoff
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^kube: get ConfigMap ns\/state: the API server answered HTTP 503 Service Unavailable; retry 1 in 0\.\ds \(0\.\ds of 5s budget\)$/,
    );
    expect(lines[1]).toMatch(
      /^kube: get ConfigMap ns\/state: the API server answered HTTP 429 Too Many Requests, Retry-After 1; retry 2 in 1\.0s \(0\.\ds of 5s budget\)$/,
    );
  });

  it('never recovers: the last answer is the error, saying how many tries over how long and naming the setting', async () => {
    const { url, seen } = await apiServer([status(503)]);
    const { c, lines } = client(url);
    const err = await rejection(c.update({ ...configMap, data: { a: '1' } }, 'branch-follower-pass'));
    expect(err).toMatchObject({ reason: 'KubeFailed', status: 503, retryable: true });
    const m = /(\d+) tries over (\d+\.\d)s did not get through \(controller\.kubeRoute\.retry\.budgetSeconds: 2\)/.exec(
      err.message,
    );
    expect(m, err.message).not.toBeNull();
    expect(err.message).toMatch(/^update ConfigMap ns\/state failed \(HTTP 503\): the server is restarting; /);
    expect(Number(m![1])).toBe(seen.length);
    expect(Number(m![2])).toBeLessThanOrEqual(2.0);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(lines).toHaveLength(seen.length - 1);
    // Every retry sent the same compare-and-swap: the resourceVersion it read, unchanged.
    expect(new Set(seen.map((s) => s.body)).size).toBe(1);
    expect(JSON.parse(seen[0]!.body).metadata.resourceVersion).toBe('7');
  });

  it('a server that is not there: retried, then KubeUnreachable naming the setting; "connection refused" per retry', async () => {
    const port = await freePort();
    const { c, lines } = client(`http://127.0.0.1:${port}`, {
      budgetMs: 1000,
      initialBackoffMs: 50,
      maxBackoffMs: 200,
    });
    const err = await rejection(c.list(CM, 'ns', 'app=x'));
    expect(err).toMatchObject({ reason: 'KubeUnreachable', status: 0, retryable: true });
    expect(err.message).toMatch(
      /^cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ \(context "local", list configmaps in namespace ns\): /,
    );
    expect(err.message).toMatch(
      /: connect ECONNREFUSED 127\.0\.0\.1:\d+; \d+ tries over \d\.\ds did not get through \(controller\.kubeRoute\.retry\.budgetSeconds: 1\)\. /,
    );
    expect(err.message).toMatch(/\. Is the cluster up, and are --kubeconfig\/--context right\?$/);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines)
      expect(line).toMatch(
        /^kube: list configmaps in namespace ns: cannot reach the API server \(connection refused\); retry \d+ in /,
      );
  });

  it('a connection dropped without an answer (the server killed mid-request) is retried', async () => {
    const { url, seen } = await apiServer([drop, drop, ok({ items: [] })]);
    const { c, lines } = client(url);
    expect(await c.list(CM, 'ns', 'app=x')).toEqual([]);
    expect(seen).toHaveLength(3);
    expect(lines.map((l) => /cannot reach the API server \(([^)]*)\)/.exec(l)?.[1])).toEqual([
      'connection closed before an answer',
      'connection closed before an answer',
    ]);
  });

  it('a try left unanswered past requestTimeoutSeconds counts as unreachable and is retried', async () => {
    const { url, seen } = await apiServer([hang, ok(configMap)]);
    const { c, lines } = client(url, SHORT, 300);
    expect(await c.get(CM, 'ns', 'state')).toMatchObject({ kind: 'ConfigMap' });
    expect(seen).toHaveLength(2);
    expect(lines).toEqual([
      expect.stringMatching(/cannot reach the API server \(no answer within 0\.3s\); retry 1 in/),
    ]);
  });

  it('a 409, a 404, a 422 or a 403 is the answer at once: never retried', async () => {
    const cases: [number, string, (c: KubeClient) => Promise<unknown>][] = [
      [409, 'KubeConflict', (c) => c.update(configMap, 'm')],
      [422, 'KubeInvalid', (c) => c.apply(configMap, { dryRun: false })],
      [403, 'KubeForbidden', (c) => c.get(CM, 'ns', 'state')],
      [400, 'KubeFailed', (c) => c.post('/api/v1/namespaces/ns/events', {}, 'create', 'Event')],
    ];
    for (const [code, reason, call] of cases) {
      const { url, seen } = await apiServer([status(code), ok(configMap)]);
      const { c, lines } = client(url);
      const err = await rejection(call(c));
      expect(err.reason, `HTTP ${code}`).toBe(reason);
      expect(err.message).not.toMatch(/tries over/);
      expect(seen, `HTTP ${code}`).toHaveLength(1);
      expect(lines).toEqual([]);
    }
    const { url, seen } = await apiServer([status(404)]);
    expect(await client(url).c.get(CM, 'ns', 'gone')).toBeUndefined();
    expect(seen).toHaveLength(1);
  });

  it('raw exposes the Retry-After header, and a 503 that outlasts the budget is still an answer there', async () => {
    const { url } = await apiServer([status(503, { 'Retry-After': '0' })]);
    const { c, lines } = client(url, { budgetMs: 300, initialBackoffMs: 50, maxBackoffMs: 100 });
    const ctx = { verb: 'get', resource: 'Pod ns/p log', context: 'local', server: url };
    const res = await c.raw('GET', '/api/v1/namespaces/ns/pods/p/log', ctx);
    expect(res).toMatchObject({ status: 503, retryAfter: '0' });
    expect(lines.length).toBeGreaterThanOrEqual(1);
  });

  it('never says the token: not in a retry line, not in the final error, though every try sent it', async () => {
    const { url, seen } = await apiServer([status(503), drop]);
    const { c, lines } = client(url, { budgetMs: 600, initialBackoffMs: 50, maxBackoffMs: 100 });
    const err = await rejection(c.get(CM, 'ns', 'state'));
    expect(seen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const said = [...lines, err.message, String(err.cause)].join('\n');
    expect(said).not.toContain(TOKEN);
    expect(said).not.toMatch(/authorization|bearer/i);
  });

  it('a Job create whose answer was lost, answered 409 AlreadyExists when tried again, returns its own Job', async () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'bf-run-abcde', namespace: 'ns', labels: { 'app.kubernetes.io/name': 'branch-follower' } },
      spec: {},
    };
    const exists = status(409, {}, 'jobs.batch "bf-run-abcde" already exists');
    const mine = await apiServer([drop, exists, ok({ ...job, metadata: { ...job.metadata, uid: 'u-1' } })]);
    const got = await createJob(client(mine.url).c, job, false);
    expect(got.metadata.uid).toBe('u-1');
    expect(mine.seen.map((r) => r.method)).toEqual(['POST', 'POST', 'GET']);
    // Someone else's Job under that name (other labels) is still the conflict it is.
    const theirs = await apiServer([exists, ok({ ...job, metadata: { ...job.metadata, labels: { other: 'x' } } })]);
    const err = await rejection(createJob(client(theirs.url).c, job, false));
    expect(err).toMatchObject({ reason: 'KubeConflict', status: 409 });
  });
});
