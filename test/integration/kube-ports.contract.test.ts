import { resourceType } from '../../core/kube/resources.ts';
import { FOLLOWER_LABEL } from '../../runner/events.ts';
import { kubeEvents } from '../../runner/kube/events.ts';
import { kubeLease } from '../../runner/kube/lease.ts';
import { configMapState, oldConfigMapState } from '../../runner/kube/state-store.ts';
import { adminClient, uniqueNamespace } from '../helpers/cluster.ts';
import { portContract } from '../helpers/port-contract.ts';

// The state ConfigMap, the Lease and the Events on the real API server: the contract the in-memory
// ports are held to (test/unit/memory-ports.contract.test.ts).
const CONFIGMAP = resourceType('v1', 'ConfigMap');
const EVENT = resourceType('events.k8s.io/v1', 'Event');
let olds = 0;

portContract('on the API server', async () => {
  const client = adminClient();
  const ns = uniqueNamespace('bf-ports');
  await client.post(
    '/api/v1/namespaces',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    'create',
    `Namespace ${ns}`,
  );
  await client.post(
    `/api/v1/namespaces/${ns}/configmaps`,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'state' }, data: {} },
    'create',
    'ConfigMap state',
  );
  await client.post(
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
    {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'lease' },
      spec: { leaseDurationSeconds: 15 },
    },
    'create',
    'Lease lease',
  );
  return {
    state: (maxBytes) => configMapState(client, ns, 'state', maxBytes),
    missingState: () => configMapState(client, ns, 'none', 1000),
    lease: (now) => kubeLease(client, ns, 'lease', now),
    missingLease: (now) => kubeLease(client, ns, 'none', now),
    events: () => kubeEvents(client, ns, () => 'state'),
    async writeRaw(key, value) {
      const cm = (await client.get(CONFIGMAP, ns, 'state'))!;
      await client.update({ ...cm, data: { ...((cm.data as Record<string, string>) ?? {}), [key]: value } }, 'kubectl');
    },
    async oldState(data) {
      const name = `old-${++olds}`;
      await client.post(
        `/api/v1/namespaces/${ns}/configmaps`,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data },
        'create',
        `ConfigMap ${name}`,
      );
      return {
        old: oldConfigMapState(client, ns, name),
        async writeOld(key, value) {
          const cm = (await client.get(CONFIGMAP, ns, name))!;
          await client.update(
            { ...cm, data: { ...((cm.data as Record<string, string>) ?? {}), [key]: value } },
            'kubectl',
          );
        },
        oldExists: async () => (await client.get(CONFIGMAP, ns, name)) !== undefined,
      };
    },
    async emitted(followerId) {
      const items = await client.list(EVENT, ns, `${FOLLOWER_LABEL}=${followerId}`);
      return items.map((e) => ({
        action: String(e.action),
        reason: String(e.reason),
        type: String(e.type),
        note: String(e.note),
      }));
    },
  };
});
