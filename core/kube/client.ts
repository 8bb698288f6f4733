import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeError, type ErrorReason, type KubeRequestContext } from '../errors.ts';
import { collectionPath, describeObject, objectPath, resourceType, type ResourceType } from './resources.ts';
import type { KubeRoute } from './route.ts';

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

interface Response {
  readonly status: number;
  readonly body: string;
}

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

// The Kubernetes boundary: raw REST over the kubeconfig's credentials (client-node resolves the
// credentials: certificates, tokens, exec plugins). Every failure becomes a KubeError that names
// the verb, the resource, the identity and the server; raw library errors never escape.
export class KubeClient {
  readonly route: KubeRoute;
  private readonly kc: KubeConfig;

  constructor(kc: KubeConfig, route: KubeRoute) {
    this.kc = kc;
    this.route = route;
  }

  private context(verb: string, resource: string): KubeRequestContext {
    return { verb, resource, context: this.route.context, server: this.route.server };
  }

  private fail(ctx: KubeRequestContext, res: Response): KubeError {
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
    return new KubeError(message, { ...known, status: res.status, request: ctx });
  }

  /** One HTTP request; resolves any HTTP status, rejects only with KubeError (unreachable). */
  async raw(
    method: string,
    path: string,
    ctx: KubeRequestContext,
    body?: { contentType: string; data: string },
  ): Promise<Response> {
    const url = new URL(path, this.route.server);
    const opts: RequestOptions = {
      method,
      headers: { Accept: 'application/json' },
      timeout: this.route.requestTimeoutMs,
    };
    await this.kc.applyToHTTPSOptions(opts);
    if (body) Object.assign(opts.headers!, { 'Content-Type': body.contentType });
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const unreachable = (why: string, cause?: unknown) =>
        reject(
          new KubeError(
            `cannot reach the Kubernetes API at ${this.route.server} (context "${this.route.context}", ${ctx.verb} ` +
              `${ctx.resource}): ${why}. Is the cluster up, and are --kubeconfig/--context right?`,
            { reason: 'KubeUnreachable', retryable: true, status: 0, request: ctx, cause },
          ),
        );
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => unreachable(err.message, err));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.route.requestTimeoutMs / 1000}s`)));
      req.on('error', (err) => unreachable(err.message, err));
      if (body) req.write(body.data);
      req.end();
    });
  }

  private async json<T>(
    method: string,
    path: string,
    ctx: KubeRequestContext,
    body?: { contentType: string; data: string },
  ): Promise<T> {
    const res = await this.raw(method, path, ctx, body);
    if (res.status < 200 || res.status > 299) throw this.fail(ctx, res);
    return JSON.parse(res.body) as T;
  }

  /** The object, or undefined when it does not exist. */
  async get(type: ResourceType, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const ctx = this.context('get', describeObject(type.kind, namespace, name));
    const res = await this.raw('GET', objectPath(type, namespace, name), ctx);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.fail(ctx, res);
    return JSON.parse(res.body) as KubeObject;
  }

  async list(type: ResourceType, namespace: string | undefined, labelSelector: string): Promise<KubeObject[]> {
    const ctx = this.context('list', `${type.plural}${namespace ? ` in namespace ${namespace}` : ''}`);
    const path = `${collectionPath(type, namespace)}?labelSelector=${encodeURIComponent(labelSelector)}`;
    const list = await this.json<{ items: KubeObject[] }>('GET', path, ctx);
    return list.items.map((item) => ({ ...item, apiVersion: type.apiVersion, kind: type.kind }));
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

  async delete(type: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    const ctx = this.context('delete', describeObject(type.kind, namespace, name));
    const res = await this.raw('DELETE', `${objectPath(type, namespace, name)}?propagationPolicy=Background`, ctx);
    if (res.status === 404) return;
    if (res.status < 200 || res.status > 299) throw this.fail(ctx, res);
  }

  /** The same cluster, authenticated by a bearer token instead (e.g. a ServiceAccount's). */
  withToken(token: string, identity: string): KubeClient {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error(`context "${this.route.context}" has no cluster`);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: identity, token }],
      contexts: [{ name: this.route.context, cluster: cluster.name, user: identity }],
      currentContext: this.route.context,
    });
    return new KubeClient(kc, { ...this.route, user: identity });
  }

  /** POST to a path (reviews, token requests, object creation). */
  async post<T>(path: string, body: unknown, verb: string, resource: string): Promise<T> {
    return this.json<T>('POST', path, this.context(verb, resource), {
      contentType: 'application/json',
      data: JSON.stringify(body),
    });
  }
}
