import { createRequire } from 'node:module';
import type { Agent as HttpsAgent, AgentOptions, RequestOptions } from 'node:https';
import { realClock, type Clock } from '../clock.ts';
import { KubeError, type ErrorReason, type KubeRequestContext } from '../errors.ts';
import { collectionPath, describeObject, objectPath, resourceType, type ResourceType } from './resources.ts';
import type { KubeAuth } from './kube-auth.ts';
import { isTransient, retryAfterMs, retrying, type Tried } from './retry.ts';
import type { KubeRoute } from './route.ts';

// node:http and node:https are required at the first request, not imported: an ES import of node:http
// builds its module facade from every export, and one of them loads Node's bundled undici (over 50 ms),
// a cost every verb paid at start-up, --help and validate included, though only a request needs them.
const require = createRequire(import.meta.url);
const http = () => require('node:http') as typeof import('node:http');
const https = () => require('node:https') as typeof import('node:https');

/** Whether two agents' settings are the same: every field equal, certificates and keys by their bytes. */
function sameSettings(a: AgentOptions, b: AgentOptions): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) if (!same(x[k], y[k])) return false;
  return true;
}

function same(u: unknown, v: unknown): boolean {
  if (u === v) return true;
  if (Buffer.isBuffer(u) && Buffer.isBuffer(v)) return u.equals(v);
  return Array.isArray(u) && Array.isArray(v) && u.length === v.length && u.every((e, i) => same(e, v[i]));
}

/** The field manager of everything `apply` writes; the pass writes under its own. */
export const FIELD_MANAGER = 'branch-follower';

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    generation?: number;
    uid?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [field: string]: unknown;
}

/** The answer to one request: its status, body and the `Retry-After` header the server sent, if any. */
export interface KubeResponse {
  readonly status: number;
  readonly body: string;
  readonly retryAfter: string | undefined;
}

/** What a client needs besides its route: where retries are told, and the clock and randomness they wait on. */
export interface KubeClientDeps {
  /** One line per retry, for people (the CLI writes it to stderr). Never holds a header or a token. */
  readonly progress: (line: string) => void;
  readonly clock?: Clock;
  /** In [0, 1): the jitter of each wait. */
  readonly random?: () => number;
}

/** One try: an HTTP answer, or none (with a few words on why, for the retry line). */
type Once = { readonly res: KubeResponse } | { readonly down: KubeError; readonly why: string };

/** A few words on why no answer came, from Node's error code; never a header or a body. */
function whyUnreachable(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      // Node says "socket hang up" when the server closed the connection before any answer.
      return (err as Error).message === 'socket hang up' ? 'connection closed before an answer' : 'connection reset';
    case 'EPIPE':
      return 'connection broken';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not resolved';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to host';
    case 'ETIMEDOUT':
      return 'connect timed out';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

const REASONS: Record<number, { reason: ErrorReason; retryable: boolean }> = {
  401: { reason: 'KubeUnauthorized', retryable: false },
  403: { reason: 'KubeForbidden', retryable: false },
  404: { reason: 'KubeNotFound', retryable: false },
  409: { reason: 'KubeConflict', retryable: true },
  422: { reason: 'KubeInvalid', retryable: false },
};

/** The server's own message from a Status body, or the raw body. */
function serverMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: string };
    if (status.message) return status.message;
  } catch {
    /* not JSON */
  }
  return body.trim().slice(0, 500);
}

// The Kubernetes boundary: raw REST over the kubeconfig's credentials (kube-auth.ts reads them:
// certificates, tokens, exec plugins). Every failure becomes a KubeError that names
// the verb, the resource, the identity and the server; raw library errors never escape.
export class KubeClient {
  readonly route: KubeRoute;
  private readonly auth: KubeAuth;

  private readonly deps: KubeClientDeps;
  /** The keep-alive agent of the TLS settings the last request was made with (see {@link reuseAgent}). */
  private agent: { readonly settings: AgentOptions; readonly agent: HttpsAgent } | undefined;

  constructor(auth: KubeAuth, route: KubeRoute, deps: KubeClientDeps) {
    this.auth = auth;
    this.route = route;
    this.deps = deps;
  }

  private context(verb: string, resource: string): KubeRequestContext {
    return { verb, resource, context: this.route.context, server: this.route.server };
  }

  /** How many tries over how long, and the setting that bounded them: for an error that ran out of budget. */
  private triesNote(tried: Tried<unknown>): string {
    const budget = this.route.retry.budgetMs / 1000;
    return (
      `${tried.tries} tries over ${seconds(tried.elapsedMs)} did not get through ` +
      `(controller.kubeRoute.retry.budgetSeconds: ${budget})`
    );
  }

  private fail(ctx: KubeRequestContext, res: KubeResponse, tried?: Tried<unknown>): KubeError {
    const known = REASONS[res.status] ?? {
      reason: 'KubeFailed' as const,
      retryable: res.status === 429 || res.status >= 500,
    };
    const said = serverMessage(res.body);
    const who = `user "${this.route.user}" of context "${this.route.context}"`;
    const message =
      res.status === 401
        ? `the API server at ${this.route.server} rejected the credentials of ${who} (${ctx.verb} ` +
          `${ctx.resource}): ${said}`
        : res.status === 403
          ? `forbidden: ${ctx.verb} ${ctx.resource} as ${who}: ${said}`
          : `${ctx.verb} ${ctx.resource} failed (HTTP ${res.status}): ${said}`;
    const gaveUp = tried?.exhausted ? `; ${this.triesNote(tried)}` : '';
    return new KubeError(`${message}${gaveUp}`, { ...known, status: res.status, request: ctx });
  }

  /** One try of one HTTP request: the answer (any status), or why there was none. */
  private async once(
    method: string,
    path: string,
    ctx: KubeRequestContext,
    body?: { contentType: string; data: string },
  ): Promise<Once> {
    const url = new URL(path, this.route.server);
    const opts: RequestOptions = {
      method,
      headers: { Accept: 'application/json' },
      timeout: this.route.requestTimeoutMs,
    };
    // Per try: a rotated token (the in-cluster token file) is picked up by the next try.
    await this.auth.applyTo(opts);
    this.reuseAgent(opts);
    // A length, not chunks: the API server reads no body of a DELETE sent without one (its preconditions).
    if (body)
      Object.assign(opts.headers!, {
        'Content-Type': body.contentType,
        'Content-Length': Buffer.byteLength(body.data),
      });
    const send = url.protocol === 'http:' ? http().request : https().request;
    return new Promise((resolve) => {
      let timedOut = false;
      let settled = false;
      const answer = (once: Once) => {
        if (settled) return;
        settled = true;
        resolve(once);
      };
      const unreachable = (err: Error) => {
        const why = timedOut ? `no answer within ${seconds(this.route.requestTimeoutMs)}` : whyUnreachable(err);
        answer({
          why,
          down: new KubeError(this.unreachableMessage(ctx, timedOut ? why : err.message), {
            reason: 'KubeUnreachable',
            retryable: true,
            status: 0,
            request: ctx,
            cause: err,
          }),
        });
      };
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          answer({
            res: {
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
            },
          });
        });
        res.on('error', unreachable);
      });
      req.on('timeout', () => {
        timedOut = true;
        req.destroy(new Error(`no answer within ${seconds(this.route.requestTimeoutMs)}`));
      });
      req.on('error', unreachable);
      if (body) req.write(body.data);
      req.end();
    });
  }

  // The credentials give every try a new https.Agent without keep-alive: a TLS handshake per request,
  // which is most of what reading 170 state ConfigMaps costs. A plain agent (no proxy) is swapped for
  // one keep-alive agent with the same settings, kept while those settings (CA, client certificate and
  // key, server name, …) stay the same, so requests after the first reuse its connections. Idle
  // connections do not keep the process alive (Node unrefs them).
  private reuseAgent(opts: RequestOptions): void {
    const made = opts.agent;
    const { Agent } = https();
    if (!(made instanceof Agent) || made.constructor !== Agent) return;
    const settings = (made as HttpsAgent & { options: AgentOptions }).options;
    if (!this.agent || !sameSettings(this.agent.settings, settings))
      this.agent = { settings, agent: new Agent({ ...settings, keepAlive: true }) };
    opts.agent = this.agent.agent;
  }

  private unreachableMessage(ctx: KubeRequestContext, why: string, tried?: Tried<unknown>): string {
    return (
      `cannot reach the Kubernetes API at ${this.route.server} (context "${this.route.context}", ${ctx.verb} ` +
      `${ctx.resource}): ${why}${tried ? `; ${this.triesNote(tried)}` : ''}. Is the cluster up, and are ` +
      `--kubeconfig/--context right?`
    );
  }

  // Every request goes through here: tried again after a transient failure (no answer, 429, 5xx)
  // with the route's backoff, within controller.kubeRoute.retry.budgetSeconds, one line of progress
  // per retry. Retrying is safe for what this client sends: GET, LIST and DELETE are idempotent,
  // server-side apply states the whole intent, and a PUT carries the resourceVersion it read, so a
  // PUT that did land before its answer was lost is refused with 409 on the retry, which callers
  // already treat as a lost compare-and-swap (and re-read). A POST is not idempotent: an Event the
  // server stored before the connection broke may be stored twice. That is accepted: a duplicate
  // Event is harmless, a lost one is not, and the state record, not the Events, is what the pass
  // relies on. A Job is created under a name made before the first try, so its retry cannot make a
  // second Job: the server answers 409 AlreadyExists, which createJob takes for its own Job.
  private async send(
    method: string,
    path: string,
    ctx: KubeRequestContext,
    body?: { contentType: string; data: string },
  ): Promise<Tried<Once>> {
    const clock = this.deps.clock ?? realClock;
    const budget = seconds(this.route.retry.budgetMs).replace(/\.0s$/, 's');
    return retrying<Once>(
      this.route.retry,
      { clock, random: this.deps.random ?? Math.random },
      async () => {
        const once = await this.once(method, path, ctx, body);
        if ('down' in once) return { value: once, transient: true };
        return {
          value: once,
          transient: isTransient({ kind: 'status', status: once.res.status }),
          retryAfterMs: retryAfterMs(once.res.retryAfter, clock.now()),
        };
      },
      ({ value, retry, waitMs, elapsedMs }) => {
        const phrase = 'down' in value ? undefined : http().STATUS_CODES[value.res.status];
        const what =
          'down' in value
            ? `cannot reach the API server (${value.why})`
            : `the API server answered HTTP ${value.res.status}` +
              `${phrase ? ` ${phrase}` : ''}` +
              `${value.res.retryAfter !== undefined ? `, Retry-After ${value.res.retryAfter}` : ''}`;
        this.deps.progress(
          `kube: ${ctx.verb} ${ctx.resource}: ${what}; retry ${retry} in ${seconds(waitMs)} ` +
            `(${seconds(elapsedMs)} of ${budget} budget)`,
        );
      },
    );
  }

  /**
   * One request, retried like every other (see send); resolves any HTTP status the last try got,
   * rejects only with KubeError (unreachable, after the budget).
   */
  async raw(
    method: string,
    path: string,
    ctx: KubeRequestContext,
    body?: { contentType: string; data: string },
  ): Promise<KubeResponse> {
    return this.answer(await this.send(method, path, ctx, body), ctx);
  }

  /** The answer a retried request ended with, or the error of a server that never answered. */
  private answer(tried: Tried<Once>, ctx: KubeRequestContext): KubeResponse {
    const last = tried.value;
    if ('res' in last) return last.res;
    if (!tried.exhausted) throw last.down;
    const cause = last.down.cause;
    throw new KubeError(this.unreachableMessage(ctx, (cause as Error).message, tried), {
      reason: 'KubeUnreachable',
      retryable: true,
      status: 0,
      request: ctx,
      cause,
    });
  }

  /** A retried request's answer; a status outside 2xx (or `ok`) is an error that says what the tries were. */
  private async expect(
    method: string,
    path: string,
    ctx: KubeRequestContext,
    ok: (status: number) => boolean,
    body?: { contentType: string; data: string },
  ): Promise<KubeResponse> {
    const tried = await this.send(method, path, ctx, body);
    const res = this.answer(tried, ctx);
    if (!ok(res.status)) throw this.fail(ctx, res, tried);
    return res;
  }

  private async json<T>(
    method: string,
    path: string,
    ctx: KubeRequestContext,
    body?: { contentType: string; data: string },
  ): Promise<T> {
    const res = await this.expect(method, path, ctx, (status) => status >= 200 && status <= 299, body);
    return JSON.parse(res.body) as T;
  }

  /** The object, or undefined when it does not exist. */
  async get(type: ResourceType, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const ctx = this.context('get', describeObject(type.kind, namespace, name));
    const res = await this.expect('GET', objectPath(type, namespace, name), ctx, (s) => s === 200 || s === 404);
    return res.status === 404 ? undefined : (JSON.parse(res.body) as KubeObject);
  }

  async list(type: ResourceType, namespace: string | undefined, labelSelector: string): Promise<KubeObject[]> {
    return (await this.listAt(type, namespace, labelSelector)).items;
  }

  /** The list and the resourceVersion it was read at, where a watch of the same collection starts. */
  async listAt(
    type: ResourceType,
    namespace: string | undefined,
    labelSelector: string,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const ctx = this.context('list', `${type.plural}${namespace ? ` in namespace ${namespace}` : ''}`);
    const path = `${collectionPath(type, namespace)}?labelSelector=${encodeURIComponent(labelSelector)}`;
    const list = await this.json<{ items: KubeObject[]; metadata?: { resourceVersion?: string } }>('GET', path, ctx);
    return {
      items: list.items.map((item) => ({ ...item, apiVersion: type.apiVersion, kind: type.kind })),
      resourceVersion: list.metadata?.resourceVersion ?? '',
    };
  }

  /**
   * One watch request of a collection from `resourceVersion`: each line the server streams goes to
   * `onLine` until the server ends the watch (its timeoutSeconds) or `signal` aborts. Resolves the
   * answer's status and, outside 200, its body; rejects only when no answer came (KubeUnreachable).
   * Not retried here: the watch loop (watch.ts) resumes from the last resourceVersion it saw.
   */
  async watchOnce(
    type: ResourceType,
    namespace: string | undefined,
    query: { labelSelector: string; resourceVersion: string; timeoutSeconds: number },
    onLine: (line: string) => void,
    signal: AbortSignal,
  ): Promise<{ status: number; body: string }> {
    const ctx = this.context('watch', `${type.plural}${namespace ? ` in namespace ${namespace}` : ''}`);
    const params = new URLSearchParams({
      watch: '1',
      allowWatchBookmarks: 'true',
      labelSelector: query.labelSelector,
      resourceVersion: query.resourceVersion,
      timeoutSeconds: String(query.timeoutSeconds),
    });
    const url = new URL(`${collectionPath(type, namespace)}?${params}`, this.route.server);
    // Quiet for longer than the server's own window and one request timeout: the connection is dead.
    const quietMs = query.timeoutSeconds * 1000 + this.route.requestTimeoutMs;
    const opts: RequestOptions = { method: 'GET', headers: { Accept: 'application/json' }, timeout: quietMs };
    await this.auth.applyTo(opts);
    this.reuseAgent(opts);
    const send = url.protocol === 'http:' ? http().request : https().request;
    return new Promise((resolve, reject) => {
      let settled = false;
      const end = (fn: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', abort);
        fn();
      };
      const req = send(url, opts, (res) => {
        const status = res.statusCode ?? 0;
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          if (status !== 200) return;
          let at = pending.indexOf('\n');
          while (at >= 0) {
            const line = pending.slice(0, at).trim();
            pending = pending.slice(at + 1);
            if (line !== '') onLine(line);
            at = pending.indexOf('\n');
          }
        });
        res.on('end', () => end(() => resolve({ status, body: status === 200 ? '' : pending })));
        res.on('error', () => end(() => resolve({ status, body: '' })));
      });
      const abort = () => {
        req.destroy();
        end(() => resolve({ status: 200, body: '' }));
      };
      signal.addEventListener('abort', abort);
      req.on('timeout', () => req.destroy(new Error(`nothing from the server for ${seconds(quietMs)}`)));
      req.on('error', (err) =>
        end(() =>
          reject(
            new KubeError(this.unreachableMessage(ctx, err.message), {
              reason: 'KubeUnreachable',
              retryable: true,
              status: 0,
              request: ctx,
              cause: err,
            }),
          ),
        ),
      );
      req.end();
      if (signal.aborted) abort();
    });
  }

  /** The error a watch answer outside 200 (other than 410 Gone, which the watch loop handles) becomes. */
  watchFailure(type: ResourceType, namespace: string | undefined, answer: { status: number; body: string }): KubeError {
    const ctx = this.context('watch', `${type.plural}${namespace ? ` in namespace ${namespace}` : ''}`);
    return this.fail(ctx, { status: answer.status, body: answer.body, retryAfter: undefined });
  }

  /** Server-side apply under {@link FIELD_MANAGER}, strict field validation; `dryRun` writes nothing. */
  async apply(obj: KubeObject, opts: { dryRun: boolean }): Promise<KubeObject> {
    const type = resourceType(obj.apiVersion, obj.kind);
    const ns = type.namespaced ? obj.metadata.namespace : undefined;
    const ctx = this.context(
      opts.dryRun ? 'apply (dry-run)' : 'apply',
      describeObject(obj.kind, ns, obj.metadata.name),
    );
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, force: 'true', fieldValidation: 'Strict' });
    if (opts.dryRun) query.set('dryRun', 'All');
    const path = `${objectPath(type, ns, obj.metadata.name)}?${query}`;
    return this.json<KubeObject>('PATCH', path, ctx, {
      contentType: 'application/apply-patch+yaml',
      data: JSON.stringify(obj),
    });
  }

  /** Replaces the object; the resourceVersion it carries makes this a compare-and-swap. */
  async update(obj: KubeObject, fieldManager: string): Promise<KubeObject> {
    const type = resourceType(obj.apiVersion, obj.kind);
    const ns = type.namespaced ? obj.metadata.namespace : undefined;
    const ctx = this.context('update', describeObject(obj.kind, ns, obj.metadata.name));
    const path = `${objectPath(type, ns, obj.metadata.name)}?fieldManager=${encodeURIComponent(fieldManager)}`;
    return this.json<KubeObject>('PUT', path, ctx, { contentType: 'application/json', data: JSON.stringify(obj) });
  }

  /**
   * Deletes the object (gone already counts as deleted). With `preconditions`, only the object as it was read: the API
   * server answers 409 (reason KubeConflict) if it changed since.
   */
  async delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    preconditions?: { readonly uid: string; readonly resourceVersion: string },
  ): Promise<void> {
    const ctx = this.context('delete', describeObject(type.kind, namespace, name));
    const path = `${objectPath(type, namespace, name)}?propagationPolicy=Background`;
    const body = preconditions && {
      contentType: 'application/json',
      data: JSON.stringify({ apiVersion: 'v1', kind: 'DeleteOptions', preconditions }),
    };
    await this.expect('DELETE', path, ctx, (status) => status === 404 || (status >= 200 && status <= 299), body);
  }

  /** The same cluster, authenticated by a bearer token instead (e.g. a ServiceAccount's). */
  withToken(token: string, identity: string): KubeClient {
    return new KubeClient(this.auth.withToken(token, identity), { ...this.route, user: identity }, this.deps);
  }

  /** POST to a path (reviews, token requests, object creation). */
  async post<T>(path: string, body: unknown, verb: string, resource: string): Promise<T> {
    return this.json<T>('POST', path, this.context(verb, resource), {
      contentType: 'application/json',
      data: JSON.stringify(body),
    });
  }
}
