import { createServer } from 'node:net';
import { parse } from 'yaml';
import type { PodSpec } from './pod-spec.ts';

// The pod's network, played on loopback: every name the pod (or its proxy) must reach is one line in
// a generated /etc/hosts pointing at 127.0.0.1, and whoever runs the pod starts a server on the port
// the spec or the registry names. Names come from the pod spec (the clone URL) and from the registry
// the pod runs (the mirrors, githubSsh and its proxy), so nothing is restated here.

/** One name:port the pod, or the proxy on its behalf, connects to. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** What listens there, in words. */
  readonly what: string;
  /** Where the spec or the registry names it. */
  readonly from: string;
  /** `pod`: the pod resolves and connects to it; `proxy`: only the CONNECT proxy does. */
  readonly reachedBy: 'pod' | 'proxy';
}

const GIT_PORT = 9418;
const isIp = (host: string) => /^[0-9.]+$/.test(host) || host.includes(':');

function gitUrlEndpoint(url: string, from: string): Endpoint | undefined {
  const m = /^git:\/\/([^/:]+)(?::(\d+))?\//.exec(url);
  if (!m) return undefined;
  return {
    host: m[1]!,
    port: m[2] ? Number(m[2]) : GIT_PORT,
    what: 'the git mirror (git daemon, git://)',
    from,
    reachedBy: 'pod',
  };
}

interface RegistryNet {
  controller: {
    source: { githubSsh: { host: string; port: number; proxy: { mode: 'connect'; url: string } | { mode: 'none' } } };
  };
  mirrors: { id: string; url: string }[];
}

// Every endpoint of the pod: the init containers' clone URLs, the registry's mirror URLs, githubSsh
// (through the proxy when one is declared) and the proxy itself. One entry per host:port.
export function podEndpoints(spec: PodSpec, registryYaml: string): Endpoint[] {
  const found: Endpoint[] = [];
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    (c.command ?? []).forEach((arg, i) => {
      const e = gitUrlEndpoint(arg, `container ${c.name} command[${i}]`);
      if (e) found.push(e);
    });
  }
  const reg = parse(registryYaml) as RegistryNet;
  for (const m of reg.mirrors) {
    const e = gitUrlEndpoint(m.url, `registry mirrors[${m.id}].url`);
    if (e) found.push(e);
  }
  const ssh = reg.controller.source.githubSsh;
  const viaProxy = ssh.proxy.mode === 'connect';
  found.push({
    host: ssh.host,
    port: ssh.port,
    what: 'the SSH upstream (sshd)',
    from: 'registry controller.source.githubSsh host/port',
    reachedBy: viaProxy ? 'proxy' : 'pod',
  });
  if (ssh.proxy.mode === 'connect') {
    const u = new URL(ssh.proxy.url);
    found.push({
      host: u.hostname,
      port: Number(u.port || 80),
      what: 'the HTTP CONNECT proxy',
      from: 'registry controller.source.githubSsh.proxy.url',
      reachedBy: 'pod',
    });
  }
  const seen = new Map<string, Endpoint>();
  for (const e of found) {
    const key = `${e.host}:${e.port}`;
    const had = seen.get(key);
    seen.set(key, had ? { ...had, from: had.from.includes(e.from) ? had.from : `${had.from}; ${e.from}` } : e);
  }
  return [...seen.values()];
}

// kubelet's managed /etc/hosts, with the pod's names (hostAliases-style) on loopback.
export function hostsFile(hostname: string, names: readonly string[]): string {
  const lines = [
    '# Kubernetes-managed hosts file (pod-exec: cluster names on loopback).',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `127.0.0.1\t${hostname}`,
    ...[...new Set(names)].filter((n) => !isIp(n)).map((n) => `127.0.0.1\t${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

// The pod's resolv.conf: the cluster search path, and a nameserver nothing answers on, so a name
// that is not in /etc/hosts fails at once instead of reaching real DNS.
export function resolvConf(namespace: string): string {
  return (
    `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ` +
    `ndots:5 attempts:1 timeout:1\n`
  );
}

/** Fails, naming the port and what needs it, when something already listens on 127.0.0.1:<port>. */
export async function assertPortFree(e: Pick<Endpoint, 'host' | 'port' | 'what' | 'from'>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `port ${e.port} on 127.0.0.1 is taken (${err.code}): pod-exec needs it for ${e.what} at ` +
            `${e.host}:${e.port} (${e.from}); stop whatever listens there`,
        ),
      ),
    );
    srv.listen(e.port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}
