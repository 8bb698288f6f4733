import { describe, expect, it } from 'vitest';
import { checkoutDir, mountOverlaps } from '../../core/pod-mounts.ts';

describe('mountOverlaps', () => {
  const ok = { mountPath: '/var/lib/git-mirror', sshMountPath: '/etc/keys' };

  it('finds nothing when the mounts stay clear of the checkout, /tmp and each other', () => {
    expect(checkoutDir('/app')).toBe('/app/checkout');
    expect(mountOverlaps('/app', ok)).toEqual([]);
  });

  it.each([
    [
      { mountPath: '/app/checkout/cache' },
      [{ kind: 'scratch', mount: 'mountPath', path: '/app/checkout/cache', checkout: '/app/checkout' }],
    ],
    [{ mountPath: '/app' }, [{ kind: 'scratch', mount: 'mountPath', path: '/app', checkout: '/app/checkout' }]],
    [{ sshMountPath: '/tmp' }, [{ kind: 'scratch', mount: 'sshMountPath', path: '/tmp', checkout: '/app/checkout' }]],
    [{ sshMountPath: '/var/lib/git-mirror/keys' }, [{ kind: 'nested' }]],
    [
      { mountPath: '/tmp', sshMountPath: '/tmp' },
      [
        { kind: 'scratch', mount: 'mountPath', path: '/tmp', checkout: '/app/checkout' },
        { kind: 'scratch', mount: 'sshMountPath', path: '/tmp', checkout: '/app/checkout' },
        { kind: 'nested' },
      ],
    ],
  ])('reports every way the mounts shadow one another (%o)', (over, expected) => {
    expect(mountOverlaps('/app', { ...ok, ...over })).toEqual(expected);
  });

  it('does not take a sibling with a common prefix for a parent', () => {
    expect(mountOverlaps('/app', { mountPath: '/app/checkout-cache', sshMountPath: '/tmpkeys' })).toEqual([]);
  });
});
