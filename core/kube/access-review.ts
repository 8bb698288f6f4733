import type { KubeClient } from './client.ts';

/** One rule the pass needs, with why; as the Role grants it and `apply --wait` checks it with an access review. */
export interface PassPermission {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verbs: readonly string[];
  /** Empty when the verb cannot be limited by name (create). */
  readonly resourceNames: readonly string[];
  readonly why: string;
}

/** One question put to the API server as the pass's ServiceAccount. */
export interface AccessQuestion {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly name?: string;
  /** Whether the pass must be allowed (what it needs) or denied (least privilege). */
  readonly expect: 'allowed' | 'denied';
}

/**
 * What the pass needs, one question per verb and name, plus what it must not be able to do: among that,
 * change any of the registry ConfigMaps (the whole file, or each of its parts).
 */
export function accessQuestions(
  permissions: readonly PassPermission[],
  registryConfigMaps: readonly string[],
): AccessQuestion[] {
  const needed = permissions.flatMap((p) =>
    p.verbs.flatMap((verb) =>
      (p.resourceNames.length > 0 ? p.resourceNames : [undefined]).map((name) => ({
        verb,
        group: p.apiGroup,
        resource: p.resource,
        ...(name ? { name } : {}),
        expect: 'allowed' as const,
      })),
    ),
  );
  const denied: AccessQuestion[] = [
    { verb: 'get', group: '', resource: 'secrets', expect: 'denied' },
    { verb: 'list', group: '', resource: 'secrets', expect: 'denied' },
    { verb: 'list', group: '', resource: 'configmaps', expect: 'denied' },
    ...registryConfigMaps.map(
      (name): AccessQuestion => ({ verb: 'update', group: '', resource: 'configmaps', name, expect: 'denied' }),
    ),
    { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', expect: 'denied' },
  ];
  return [...needed, ...denied];
}

function describeQuestion(q: AccessQuestion): string {
  return `${q.verb} ${q.group ? `${q.resource}.${q.group}` : q.resource}${q.name ? `/${q.name}` : ''}`;
}

// The TokenRequest API's shortest allowed lifetime; the token lives only for this check.
const TOKEN_SECONDS = 600;

// Asks the API server, as the ServiceAccount itself (a short-lived token from the TokenRequest API
// and SelfSubjectAccessReviews), whether each question gets the expected answer. Returns the ones
// that do not; an empty list means the RBAC is exactly what the pass needs.
export async function reviewAccess(
  client: KubeClient,
  namespace: string,
  serviceAccount: string,
  questions: readonly AccessQuestion[],
): Promise<string[]> {
  const token = await client.post<{ status: { token: string } }>(
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: TOKEN_SECONDS } },
    'create',
    `ServiceAccount ${namespace}/${serviceAccount} token`,
  );
  const asPass = client.withToken(token.status.token, `system:serviceaccount:${namespace}:${serviceAccount}`);
  const wrong: string[] = [];
  for (const q of questions) {
    const review = await asPass.post<{ status: { allowed: boolean } }>(
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: {
            namespace,
            verb: q.verb,
            group: q.group,
            resource: q.resource,
            ...(q.name ? { name: q.name } : {}),
          },
        },
      },
      'create',
      'SelfSubjectAccessReview',
    );
    const allowed = review.status.allowed === true;
    if (allowed !== (q.expect === 'allowed'))
      wrong.push(`${q.expect === 'allowed' ? 'cannot' : 'can'} ${describeQuestion(q)}`);
  }
  return wrong;
}
