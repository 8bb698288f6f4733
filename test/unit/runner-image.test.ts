import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadRegistry } from '../../core/config/load.ts';
import { REGISTRY, ROOT } from '../../scripts/world/registry.ts';

// No container engine runs here, so the image is not built in the tests; what can drift is checked:
// the Dockerfile's user and app directory are the registry's, and the synthesized pods need nothing
// from a package registry at run time.

const dockerfile = readFileSync(join(ROOT, 'image/Dockerfile'), 'utf8');
const arg = (name: string) =>
  /^ARG (\S+)=(\S+)$/m.exec(
    dockerfile
      .split('\n')
      .filter((l) => l.startsWith(`ARG ${name}=`))
      .join('\n'),
  )?.[2];

interface Container {
  name: string;
  command: string[];
}
const podOf = (file: string) => {
  const doc = parse(readFileSync(join(ROOT, 'dist', file), 'utf8')) as {
    spec: { jobTemplate: { spec: { template: { spec: { initContainers: Container[]; containers: Container[] } } } } };
  };
  return doc.spec.jobTemplate.spec.template.spec;
};

describe('the runner image', () => {
  it('runs as the registry user, with node_modules where the checkout finds them', () => {
    const image = loadRegistry(REGISTRY, ROOT).registry.controller.image;
    expect(arg('APP_DIR')).toBe(image.appDir);
    expect(Number(arg('UID'))).toBe(image.runAsUser);
    expect(Number(arg('GID'))).toBe(image.runAsGroup);
    expect(arg('NODE_IMAGE')).toMatch(/^node:22[.-]/);
    expect(dockerfile).toMatch(/^USER \$\{UID\}:\$\{GID\}$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev --ignore-scripts/m);
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends git openssh-client ca-certificates/);
  });

  it('the synthesized pod runs only git and node: nothing is installed at run time', () => {
    const pod = podOf('cronjob-branch-follower.yaml');
    const programs = [...pod.initContainers, ...pod.containers].map((c) => c.command[0]);
    expect(programs).toEqual(['git', 'node']);
    for (const c of [...pod.initContainers, ...pod.containers])
      expect(c.command.join(' ')).not.toMatch(/\b(npm|npx|yarn|pnpm|pip|apt-get)\b/);
  });
});
