import { afterAll, describe, expect, it } from 'vitest';
import { gitopsRefOf, loadRegistry } from '../../core/config/load.ts';
import { ConfigError, type ConfigIssue } from '../../core/errors.ts';
import {
  AGENTRUN,
  HWLAB_LANES,
  REGISTRY,
  SENTINELS,
  makeFixture,
  positionOf,
  removeFixtures,
  type Edit,
  type FixtureFile,
} from '../helpers/registry-fixture.ts';

// Every way the registry (or an owning file it references) can be wrong must be reported as a
// ConfigError whose issue names the YAML path, the file and the line of the problem, and says what is
// wrong. Each case breaks one copy of the shipped files with a text edit and pins that issue.

interface Case {
  /** The behaviour the case pins. */
  readonly name: string;
  readonly edits: readonly Edit[];
  /** The YAML path the issue must carry. */
  readonly path: string;
  /** What the message must say. */
  readonly message: RegExp;
  /**
   * A string occurring once in the (edited) text of `file`; the issue's line is the line it starts
   * on. For a missing field this is the first line of the parent mapping's content.
   */
  readonly at: string;
  /** The file the issue is in; the registry unless said otherwise. */
  readonly file?: FixtureFile;
  /** Also pin the column to where `at` starts (unknown keys point at the key itself). */
  readonly exactColumn?: boolean;
}

/** Loads the registry of a fixture and returns the issues of the ConfigError it must throw. */
function issuesOf(root: string): readonly ConfigIssue[] {
  try {
    loadRegistry(REGISTRY, root);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected loadRegistry to throw a ConfigError, but the registry loaded');
}

const FOLLOWER_CHECKS = 'checks: [runSucceeded, deployedShaMatches, mirrorFlushed, githubInSync]';

const cases: Case[] = [
  {
    name: 'an unknown time zone is rejected',
    edits: [{ from: 'timeZone: Etc/UTC', to: 'timeZone: Mars/Olympus' }],
    path: 'controller.cronJob.timeZone',
    message: /must be an IANA time zone/,
    at: 'timeZone: Mars/Olympus',
  },
  {
    name: 'an empty kube route context says it must not be empty',
    edits: [{ from: 'context: unidesk-jd01', to: 'context: ""' }],
    path: 'controller.kubeRoute.context',
    message: /^must not be empty$/,
    at: 'context: ""',
  },
  {
    name: 'an empty selector field name is named with a quoted path',
    edits: [{ from: 'selector: { node: JD01, lane: v03 }', to: 'selector: { node: JD01, lane: v03, "": x }' }],
    path: 'followers[0].target.selector[""]',
    message: /a selector field name must not be empty/,
    at: 'selector: { node: JD01, lane: v03, "": x }',
  },
  {
    name: 'an unknown key holding a dot is quoted in the path',
    edits: [{ from: '    timeZone: Etc/UTC\n', to: '    timeZone: Etc/UTC\n    "a.b": 1\n' }],
    path: 'controller.cronJob["a.b"]',
    message: /unknown field "a\.b"/,
    at: '"a.b": 1',
    exactColumn: true,
  },
  {
    name: 'a missing discriminator (proxy.mode) says it is missing',
    edits: [{ from: '        mode: connect\n', to: '' }],
    path: 'controller.source.githubSsh.proxy.mode',
    message: /required field is missing/,
    at: 'url: http://egress-proxy',
  },
  // ---- the document itself ------------------------------------------------------------------------
  {
    name: 'wrong apiVersion is rejected with the one accepted version',
    edits: [{ from: 'apiVersion: cicd.unidesk.dev/v1alpha1', to: 'apiVersion: cicd.unidesk.dev/v1beta1' }],
    path: 'apiVersion',
    message: /must be cicd\.unidesk\.dev\/v1alpha1/,
    at: 'apiVersion:',
  },
  {
    name: 'wrong kind is rejected',
    edits: [{ from: 'kind: BranchFollowerRegistry', to: 'kind: BranchFollowers' }],
    path: 'kind',
    message: /must be BranchFollowerRegistry/,
    at: 'kind: BranchFollowers',
  },
  {
    name: 'unknown top-level key is reported at the key',
    edits: [{ from: 'configRoot: ..\n', to: 'configRoot: ..\nconfigroot: ..\n' }],
    path: 'configroot',
    message: /unknown field "configroot"/,
    at: 'configroot: ..',
    exactColumn: true,
  },
  {
    name: 'missing top-level field points at the first line of the document mapping',
    edits: [{ from: 'configRoot: ..\n', to: '' }],
    path: 'configRoot',
    message: /required field is missing \(expected string\)/,
    at: 'apiVersion:',
  },
  {
    name: 'empty followers list needs at least one follower',
    edits: [{ from: /\nfollowers:\n[\s\S]*$/, to: '\nfollowers: []\n' }],
    path: 'followers',
    message: /declare at least one follower/,
    at: '[]',
  },

  // ---- controller ---------------------------------------------------------------------------------
  {
    name: 'typo timezone is an unknown key, reported at the key',
    edits: [{ from: 'timeZone: Etc/UTC', to: 'timezone: Etc/UTC' }],
    path: 'controller.cronJob.timezone',
    message: /unknown field "timezone" \(check its spelling/,
    at: 'timezone:',
    exactColumn: true,
  },
  {
    name: 'typo timezone also reports timeZone as missing, at the first line of cronJob',
    edits: [{ from: 'timeZone: Etc/UTC', to: 'timezone: Etc/UTC' }],
    path: 'controller.cronJob.timeZone',
    message: /required field is missing \(expected string\)/,
    at: 'name: branch-follower\n    schedule:',
  },
  {
    name: 'missing cronJob.timeZone points at the first line of cronJob',
    edits: [{ from: '    timeZone: Etc/UTC\n', to: '' }],
    path: 'controller.cronJob.timeZone',
    message: /required field is missing/,
    at: 'name: branch-follower\n    schedule:',
  },
  {
    name: 'missing field skips a comment that opens the parent mapping',
    edits: [
      { from: '  cronJob:\n', to: '  cronJob:\n    # one reconcile pass per tick\n' },
      { from: '    timeZone: Etc/UTC\n', to: '' },
    ],
    path: 'controller.cronJob.timeZone',
    message: /required field is missing/,
    at: 'name: branch-follower\n    schedule:',
  },
  {
    name: 'null value is a wrong type, not a missing field',
    edits: [{ from: 'timeZone: Etc/UTC', to: 'timeZone:' }],
    path: 'controller.cronJob.timeZone',
    message: /expected string, got null/,
    at: 'timeZone:',
  },
  {
    name: 'quoted number where a number is expected says it got a string',
    edits: [{ from: 'durationSeconds: 60', to: 'durationSeconds: "60"' }],
    path: 'controller.lease.durationSeconds',
    message: /expected number, got string "60"/,
    at: 'durationSeconds: "60"',
  },
  {
    name: 'a missing kubeRoute.retry block names its path',
    edits: [
      {
        from: '    retry:\n      budgetSeconds: 30\n      initialBackoffMilliseconds: 200\n      maxBackoffMilliseconds: 5000\n',
        to: '',
      },
    ],
    path: 'controller.kubeRoute.retry',
    message: /required field is missing \(expected object\)/,
    at: 'context: unidesk-jd01',
  },
  {
    name: 'a missing kubeRoute.retry.budgetSeconds names its path',
    edits: [{ from: '      budgetSeconds: 30\n', to: '' }],
    path: 'controller.kubeRoute.retry.budgetSeconds',
    message: /required field is missing \(expected number\)/,
    at: 'initialBackoffMilliseconds: 200',
  },
  {
    name: 'a missing kubeRoute.retry.maxBackoffMilliseconds names its path',
    edits: [{ from: '      maxBackoffMilliseconds: 5000\n', to: '' }],
    path: 'controller.kubeRoute.retry.maxBackoffMilliseconds',
    message: /required field is missing \(expected number\)/,
    at: 'budgetSeconds: 30',
  },
  {
    name: 'a missing controller.progress names its path',
    edits: [{ from: '  progress:\n    heartbeatSeconds: 10\n', to: '' }],
    path: 'controller.progress',
    message: /required field is missing \(expected object\)/,
    at: 'name: branch-follower\n  partOf',
  },
  {
    name: 'a watch window that cannot fit between two ticks of the schedule is refused',
    edits: [
      {
        from: '      enabled: false\n      intervalSeconds: 5\n      marginSeconds: 10',
        to: '      enabled: true\n      intervalSeconds: 10\n      marginSeconds: 55',
      },
    ],
    path: 'controller.pass.watchWindow.marginSeconds',
    message:
      /the watch window cannot fit the schedule: ticks of "\* \* \* \* \*" can come 60 s apart, and marginSeconds \(55\) \+ intervalSeconds \(10\) = 65 s/,
    at: 'marginSeconds: 55',
  },
  {
    name: 'a watch window that cannot fit the Job deadline is refused',
    edits: [
      {
        from: '      enabled: false\n      intervalSeconds: 5\n      marginSeconds: 10',
        to: '      enabled: true\n      intervalSeconds: 5\n      marginSeconds: 10',
      },
      { from: 'schedule: "* * * * *"', to: 'schedule: "*/10 * * * *"' },
      { from: 'activeDeadlineSeconds: 300', to: 'activeDeadlineSeconds: 15' },
    ],
    path: 'controller.pass.watchWindow.marginSeconds',
    message:
      /the watch window cannot fit the Job: marginSeconds \(10\) \+ intervalSeconds \(5\) = 15 s must be less than cronJob\.activeDeadlineSeconds \(15 s\)/,
    at: 'marginSeconds: 10',
  },
  {
    name: 'a heartbeat less often than every 10 s is refused',
    edits: [{ from: 'heartbeatSeconds: 10', to: 'heartbeatSeconds: 30' }],
    path: 'controller.progress.heartbeatSeconds',
    message: /must be at most 10: a wait that says nothing for longer looks hung/,
    at: 'heartbeatSeconds: 30',
  },
  {
    name: 'a first retry wait longer than the longest one is refused',
    edits: [{ from: 'initialBackoffMilliseconds: 200', to: 'initialBackoffMilliseconds: 6000' }],
    path: 'controller.kubeRoute.retry.initialBackoffMilliseconds',
    message: /must be at most kubeRoute\.retry\.maxBackoffMilliseconds \(5000\)/,
    at: 'initialBackoffMilliseconds: 6000',
  },
  {
    name: 'a longest retry wait that cannot fit the retry budget is refused',
    edits: [{ from: 'maxBackoffMilliseconds: 5000', to: 'maxBackoffMilliseconds: 31000' }],
    path: 'controller.kubeRoute.retry.maxBackoffMilliseconds',
    message: /must be at most kubeRoute\.retry\.budgetSeconds \(30 s = 30000 ms\)/,
    at: 'maxBackoffMilliseconds: 31000',
  },
  {
    name: 'a retry budget no longer than one request timeout is refused',
    edits: [{ from: 'budgetSeconds: 30\n      initialBackoff', to: 'budgetSeconds: 15\n      initialBackoff' }],
    path: 'controller.kubeRoute.retry.budgetSeconds',
    message: /must be greater than kubeRoute\.requestTimeoutSeconds \(15\)/,
    at: 'budgetSeconds: 15',
  },
  {
    name: 'number where a boolean is expected says it got a number',
    edits: [{ from: 'suspend: false', to: 'suspend: 0' }],
    path: 'controller.cronJob.suspend',
    message: /expected boolean, got number 0/,
    at: 'suspend: 0',
  },
  {
    name: 'concurrencyPolicy other than Forbid is rejected',
    edits: [{ from: 'concurrencyPolicy: Forbid', to: 'concurrencyPolicy: Allow' }],
    path: 'controller.cronJob.concurrencyPolicy',
    message: /must be Forbid/,
    at: 'concurrencyPolicy: Allow',
  },
  {
    name: 'four-field cron schedule is rejected',
    edits: [{ from: 'schedule: "* * * * *"', to: 'schedule: "* * * *"' }],
    path: 'controller.cronJob.schedule',
    message: /five-field cron schedule/,
    at: 'schedule:',
  },
  {
    name: 'cron schedule with a word field is rejected',
    edits: [{ from: 'schedule: "* * * * *"', to: 'schedule: "@every 1m * * * *"' }],
    path: 'controller.cronJob.schedule',
    message: /five-field cron schedule/,
    at: 'schedule:',
  },
  {
    name: 'CronJob name longer than 52 characters is rejected (Job names get 11 more)',
    edits: [{ from: '  cronJob:\n    name: branch-follower', to: `  cronJob:\n    name: ${'c'.repeat(53)}` }],
    path: 'controller.cronJob.name',
    message: /at most 52 characters/,
    at: 'c'.repeat(53),
  },
  {
    name: 'quantity with a non-Kubernetes unit is rejected inside a flow mapping',
    edits: [{ from: 'requests: { cpu: 50m, memory: 64Mi }', to: 'requests: { cpu: 50m, memory: 64MB }' }],
    path: 'controller.resources.clone.requests.memory',
    message: /Kubernetes quantity/,
    at: '64MB',
  },
  {
    name: 'scratch size with a space is not a quantity',
    edits: [{ from: 'tmpSizeLimit: 64Mi', to: 'tmpSizeLimit: 64 Mi' }],
    path: 'controller.scratch.tmpSizeLimit',
    message: /Kubernetes quantity/,
    at: 'tmpSizeLimit:',
  },
  {
    name: 'image pullPolicy outside Always/IfNotPresent/Never is rejected',
    edits: [{ from: 'pullPolicy: IfNotPresent', to: 'pullPolicy: Sometimes' }],
    path: 'controller.image.pullPolicy',
    message: /Always.*IfNotPresent.*Never/,
    at: 'pullPolicy: Sometimes',
  },
  {
    name: 'image appDir with a trailing slash is rejected',
    edits: [{ from: 'appDir: /opt/branch-follower', to: 'appDir: /opt/branch-follower/' }],
    path: 'controller.image.appDir',
    message: /absolute directory path without a trailing slash/,
    at: 'appDir:',
  },
  {
    name: 'runAsUser 0 (root) must be greater than 0',
    edits: [{ from: 'runAsUser: 10001', to: 'runAsUser: 0' }],
    path: 'controller.image.runAsUser',
    message: /greater than 0/,
    at: 'runAsUser: 0',
  },
  {
    name: 'upper-case namespace is not a DNS-1123 label',
    edits: [{ from: '  namespace: unidesk-cicd', to: '  namespace: Unidesk-CICD' }],
    path: 'controller.namespace',
    message: /DNS-1123 label/,
    at: 'Unidesk-CICD',
  },
  {
    name: 'unknown key inside a flow mapping (Secret ref) is reported at the key',
    edits: [
      {
        from: 'identity: { name: git-mirror-github-ssh, key: id_ed25519 }',
        to: 'identity: { name: git-mirror-github-ssh, key: id_ed25519, value: x }',
      },
    ],
    path: 'controller.source.githubSsh.identity.value',
    message: /unknown field "value"/,
    at: 'value: x',
    exactColumn: true,
  },
  {
    name: 'Secret key with a slash is rejected',
    edits: [{ from: 'key: known_hosts', to: 'key: ssh/known_hosts' }],
    path: 'controller.source.githubSsh.knownHosts.key',
    message: /a Secret key may hold only/,
    at: 'ssh/known_hosts',
  },
  {
    name: 'SSH port above 65535 is rejected',
    edits: [{ from: 'port: 443', to: 'port: 70000' }],
    path: 'controller.source.githubSsh.port',
    message: /65535/,
    at: 'port: 70000',
  },
  {
    name: 'a token for the upstream is refused with the reason: there is no token transport',
    edits: [
      { from: '      transport: ssh\n', to: '      transport: ssh\n      token: { name: gh-token, key: token }\n' },
    ],
    path: 'controller.source.githubSsh.token',
    message: /there is no token or password transport; the upstream is reached only over SSH/,
    at: 'token: { name',
    exactColumn: true,
  },
  {
    name: 'an https upstream is refused with the reason: no HTTPS or token transport',
    edits: [
      {
        from: 'upstream: ssh://git@ssh.github.com:443/pikasTech/HWLAB.git',
        to: 'upstream: https://github.com/pikasTech/HWLAB.git',
      },
    ],
    path: 'mirrors[0].upstream',
    message: /must not be http\(s\): there is no HTTPS or token transport/,
    at: 'upstream: https://github.com',
  },
  {
    name: 'an upstream on another host than githubSsh is refused',
    edits: [
      {
        from: 'upstream: ssh://git@ssh.github.com:443/pikasTech/agentrun.git',
        to: 'upstream: ssh://git@github.com:22/pikasTech/agentrun.git',
      },
    ],
    path: 'mirrors[1].upstream',
    message:
      /must use the user, host and port of controller\.source\.githubSsh \(git@ssh\.github\.com:443\), not git@github\.com:22/,
    at: 'upstream: ssh://git@github.com:22',
  },
  {
    name: 'two mirrors sharing a cache path are refused',
    edits: [{ from: 'cachePath: pikasTech/agentrun.git', to: 'cachePath: "pikasTech/HWLAB.git"' }],
    path: 'mirrors[1].cachePath',
    message: /already the cache of mirrors\[0\]/,
    at: 'cachePath: "pikasTech/HWLAB.git"',
  },
  {
    name: 'a cache path climbing out of the mount is refused',
    edits: [{ from: 'cachePath: pikasTech/unidesk.git', to: 'cachePath: ../etc/unidesk.git' }],
    path: 'mirrors[2].cachePath',
    message: /must be a relative path inside gitMirror\.mountPath/,
    at: 'cachePath: ../etc',
  },
  {
    name: 'a gitopsRefField the target entry lacks is refused',
    edits: [
      {
        from: '      gitopsRefField: gitMirror.gitopsRef\n',
        to: '      gitopsRefField: gitMirror.gitopsBranch\n',
        nth: 0,
      },
    ],
    path: 'followers[0].target.gitopsRefField',
    message: /the target entry has no such field; it must name a field holding a full branch ref/,
    at: 'gitopsRefField: gitMirror.gitopsBranch',
  },
  {
    name: 'a GitOps ref that is not refs/heads/<branch> is refused',
    edits: [
      { file: AGENTRUN, from: 'gitopsRef: refs/heads/gitops/jd01-v02', to: 'gitopsRef: gitops/jd01-v02' },
      { from: 'gitopsRefField: gitMirror.gitopsRef', to: 'gitopsRefField: "gitMirror.gitopsRef"', nth: 1 },
    ],
    path: 'followers[1].target.gitopsRefField',
    message: /holds "gitops\/jd01-v02"; it must name a field holding a full branch ref/,
    at: 'gitopsRefField: "gitMirror.gitopsRef"',
  },
  {
    name: 'a mirror cache mount inside the controller checkout is refused',
    edits: [{ from: 'mountPath: /var/lib/git-mirror', to: 'mountPath: /opt/branch-follower/checkout/mirror' }],
    path: 'controller.gitMirror.mountPath',
    message: /must not overlap the controller checkout \(\/opt\/branch-follower\/checkout\) nor be or contain \/tmp/,
    at: 'mountPath: /opt/branch-follower/checkout/mirror',
  },
  {
    name: 'the Secret mount inside the mirror cache mount is refused',
    edits: [{ from: 'sshMountPath: /etc/branch-follower/github-ssh', to: 'sshMountPath: /var/lib/git-mirror/ssh' }],
    path: 'controller.gitMirror.sshMountPath',
    message: /must not contain one another/,
    at: 'sshMountPath: /var/lib/git-mirror/ssh',
  },
  {
    name: 'a missing gitMirror.stageJob.waitSeconds names its path',
    edits: [{ from: '      waitSeconds: 300\n', to: '' }],
    path: 'controller.gitMirror.stageJob.waitSeconds',
    message: /required field is missing/,
    at: 'activeDeadlineSeconds: 240',
  },
  {
    name: 'transport https is rejected: ssh is the only transport',
    edits: [{ from: 'transport: ssh', to: 'transport: https' }],
    path: 'controller.source.githubSsh.transport',
    message: /must be ssh/,
    at: 'transport: https',
  },
  {
    name: 'proxy mode https is rejected: only connect or none',
    edits: [{ from: 'mode: connect', to: 'mode: https' }],
    path: 'controller.source.githubSsh.proxy.mode',
    message: /connect|none|discriminator/i,
    at: 'mode: https',
  },
  {
    name: 'proxy url with https:// is not http://host:port',
    edits: [{ from: 'url: http://egress-proxy', to: 'url: https://egress-proxy' }],
    path: 'controller.source.githubSsh.proxy.url',
    message: /must be http:\/\/host:port/,
    at: 'url: https://egress-proxy',
  },
  {
    name: 'proxy url without a port is not http://host:port',
    edits: [{ from: '.svc.cluster.local:3128', to: '.svc.cluster.local' }],
    path: 'controller.source.githubSsh.proxy.url',
    message: /must be http:\/\/host:port/,
    at: 'url: http://egress-proxy',
  },
  {
    name: 'proxy mode none takes no url',
    edits: [{ from: 'mode: connect', to: 'mode: none' }],
    path: 'controller.source.githubSsh.proxy.url',
    message: /unknown field "url"/,
    at: 'url: http://egress-proxy',
    exactColumn: true,
  },
  {
    name: 'controller source naming an undeclared mirror lists the declared ones',
    edits: [{ from: 'mirror: unidesk\n      ref: master', to: 'mirror: unidesk-ctl\n      ref: master' }],
    path: 'controller.source.mirror.mirror',
    message: /no mirror with id "unidesk-ctl" \(declared: hwlab, agentrun, unidesk\)/,
    at: 'mirror: unidesk-ctl',
  },
  {
    name: 'an adapter timeout that, with the Lease renewal, outlasts the Lease names both settings',
    edits: [{ from: 'timeoutSeconds: 30', to: 'timeoutSeconds: 41', nth: 2 }],
    path: 'adapters[2].timeoutSeconds',
    message:
      /41 s plus controller\.lease\.renewSeconds \(20 s\) must fit controller\.lease\.durationSeconds \(60 s\), or a trigger command could outlive the Lease/,
    at: 'timeoutSeconds: 41',
  },
  {
    name: 'activeDeadlineSeconds equal to the longest closeout budget is too short',
    edits: [{ from: 'activeDeadlineSeconds: 300', to: 'activeDeadlineSeconds: 120' }],
    path: 'controller.cronJob.activeDeadlineSeconds',
    message: /greater than the longest closeout budget \(120 s at followers\[0\]\.closeout\.budgetSeconds\)/,
    at: 'activeDeadlineSeconds: 120',
  },
  {
    name: 'activeDeadlineSeconds names the follower with the longest budget',
    edits: [{ from: 'budgetSeconds: 120', to: 'budgetSeconds: 400', nth: 2 }],
    path: 'controller.cronJob.activeDeadlineSeconds',
    message: /\(400 s at followers\[2\]\.closeout\.budgetSeconds\)/,
    at: 'activeDeadlineSeconds: 300',
  },

  // ---- mirrors ------------------------------------------------------------------------------------
  {
    name: 'mirror repo that is not owner/name is rejected',
    edits: [{ from: 'repo: pikasTech/HWLAB\n', to: 'repo: HWLAB\n' }],
    path: 'mirrors[0].repo',
    message: /must be owner\/name/,
    at: 'repo: HWLAB',
  },
  {
    name: 'duplicate mirror id names the first declaration',
    edits: [{ from: '- id: unidesk', to: '- id: hwlab' }],
    path: 'mirrors[2].id',
    message: /duplicate id "hwlab" \(first declared at mirrors\[0\]\)/,
    at: 'hwlab\n    repo: pikasTech/unidesk',
  },

  // ---- adapters -----------------------------------------------------------------------------------
  {
    name: 'missing adapter timeoutSeconds points at the first line of the adapter',
    edits: [{ from: '    timeoutSeconds: 30\n', to: '' }],
    path: 'adapters[0].timeoutSeconds',
    message: /required field is missing \(expected number\)/,
    at: 'id: hwlab-node-runtime',
  },
  {
    name: 'non-integer timeoutSeconds must be a whole number',
    edits: [{ from: 'timeoutSeconds: 30', to: 'timeoutSeconds: 2.5', nth: 1 }],
    path: 'adapters[1].timeoutSeconds',
    message: /timeoutSeconds must be a whole number/,
    at: 'timeoutSeconds: 2.5',
  },
  {
    name: 'duplicate adapter id names the first declaration',
    edits: [{ from: '- id: agentrun-yaml-lane', to: '- id: hwlab-node-runtime' }],
    path: 'adapters[1].id',
    message: /duplicate id "hwlab-node-runtime" \(first declared at adapters\[0\]\)/,
    at: 'hwlab-node-runtime\n    commands:\n      status: ["agentrun"',
  },
  {
    name: 'unknown placeholder ${foo} in an adapter command lists the known ones',
    edits: [{ from: '"${sha}", "--json"]', to: '"${sha}", "${foo}"]' }],
    path: 'adapters[0].commands.status[10]',
    message: /unknown placeholder \$\{foo\}; known: .*\$\{sha\}/,
    at: '"${foo}"',
  },
  {
    name: '${target.nope} missing in the selected target entry names the follower',
    edits: [
      {
        from: '"--sentinel", "${target.name}", "--snapshot-ref"',
        to: '"--sentinel", "${target.nope}", "--snapshot-ref"',
      },
    ],
    path: 'adapters[2].commands.trigger[8]',
    message: /the target entry of follower "web-probe-sentinel-master" has no scalar field "nope"/,
    at: '${target.nope}',
  },
  {
    name: "a lone '$' must be doubled",
    edits: [{ from: '"--json"]', to: '"$HOME"]', nth: 1 }],
    path: 'adapters[0].commands.trigger[11]',
    message: /a '\$' must start \$\{name\} or be doubled as '\$\$'/,
    at: '"$HOME"',
  },
  {
    name: 'unclosed ${ is reported',
    edits: [{ from: '"${snapshotRef}"', to: '"${snapshotRef"', nth: 1 }],
    path: 'adapters[1].commands.trigger[8]',
    message: /unclosed placeholder/,
    at: '"${snapshotRef"',
  },
  {
    name: 'placeholder name starting with a digit is malformed',
    edits: [{ from: '"${sha}"', to: '"${1sha}"', nth: 2 }],
    path: 'adapters[2].commands.status[11]',
    message: /malformed placeholder \$\{1sha\}/,
    at: '${1sha}',
  },
  {
    name: 'empty adapter argv needs at least the program name',
    edits: [{ from: /status: \["hwlab", "nodes", "control-plane", "status", [^\n]*"--json"\]/, to: 'status: []' }],
    path: 'adapters[0].commands.status',
    message: /at least the program name/,
    at: 'status: []',
  },

  // ---- followers: schema --------------------------------------------------------------------------
  {
    name: 'missing follower enabled points at the first line of the follower',
    edits: [{ from: '    enabled: true\n', to: '', nth: 1 }],
    path: 'followers[1].enabled',
    message: /required field is missing \(expected boolean\)/,
    at: 'id: agentrun-jd01-v02',
  },
  {
    name: 'missing retry block points at the first line of the follower',
    edits: [{ from: '    retry:\n      maxAttempts: 2\n      backoffSeconds: 60\n', to: '', nth: 0 }],
    path: 'followers[0].retry',
    message: /required field is missing \(expected object\)/,
    at: 'id: hwlab-jd01-v03',
  },
  {
    name: 'missing source.mirror in a flow mapping points at that mapping',
    edits: [{ from: ', mirror: unidesk }', to: ' }' }],
    path: 'followers[2].source.mirror',
    message: /required field is missing/,
    at: '{ repo: pikasTech/unidesk, branch: master }',
  },
  {
    name: 'missing closeout.checks points at the first line of closeout',
    edits: [{ from: `      ${FOLLOWER_CHECKS}\n`, to: '', nth: 1 }],
    path: 'followers[1].closeout.checks',
    message: /required field is missing/,
    at: 'budgetSeconds: 120\n      pollIntervalSeconds: 5\n    retry',
  },
  {
    name: 'upper-case follower id is not a DNS-1123 label',
    edits: [{ from: '- id: hwlab-jd01-v03', to: '- id: HWLAB-jd01-v03' }],
    path: 'followers[0].id',
    message: /DNS-1123 label/,
    at: 'HWLAB-jd01-v03',
  },
  {
    name: 'follower id longer than 63 characters is rejected',
    edits: [{ from: '- id: web-probe-sentinel-master', to: `- id: ${'w'.repeat(64)}` }],
    path: 'followers[2].id',
    message: /at most 63 characters/,
    at: 'w'.repeat(64),
  },
  {
    name: 'negative closeout budget must be greater than 0',
    edits: [{ from: 'budgetSeconds: 120', to: 'budgetSeconds: -5' }],
    path: 'followers[0].closeout.budgetSeconds',
    message: /closeout\.budgetSeconds must be greater than 0/,
    at: 'budgetSeconds: -5',
  },
  {
    name: 'zero closeout budget must be greater than 0',
    edits: [{ from: 'budgetSeconds: 120', to: 'budgetSeconds: 0', nth: 2 }],
    path: 'followers[2].closeout.budgetSeconds',
    message: /must be greater than 0/,
    at: 'budgetSeconds: 0',
  },
  {
    name: 'string retry.maxAttempts is a wrong type',
    edits: [{ from: 'maxAttempts: 2', to: 'maxAttempts: two', nth: 1 }],
    path: 'followers[1].retry.maxAttempts',
    message: /expected number, got string "two"/,
    at: 'maxAttempts: two',
  },
  {
    name: 'branch name with ".." is not a git branch name',
    edits: [{ from: 'branch: v0.2', to: 'branch: v0..2' }],
    path: 'followers[1].source.branch',
    message: /valid git branch name/,
    at: 'branch: v0..2',
  },
  {
    name: 'closeout check listed twice is rejected',
    edits: [{ from: FOLLOWER_CHECKS, to: 'checks: [runSucceeded, mirrorFlushed, runSucceeded]' }],
    path: 'followers[0].closeout.checks',
    message: /a closeout check is listed twice/,
    at: 'checks: [runSucceeded, mirrorFlushed, runSucceeded]',
  },
  {
    name: 'unknown closeout check name lists the known ones',
    edits: [{ from: FOLLOWER_CHECKS, to: 'checks: [runSucceeded, deployedShaMatch]', nth: 2 }],
    path: 'followers[2].closeout.checks[1]',
    message: /runSucceeded.*deployedShaMatches.*mirrorFlushed.*githubInSync/,
    at: 'checks: [runSucceeded, deployedShaMatch]',
  },
  {
    name: 'empty closeout checks need at least one check',
    edits: [{ from: FOLLOWER_CHECKS, to: 'checks: []' }],
    path: 'followers[0].closeout.checks',
    message: /at least one check/,
    at: 'checks: []',
  },
  {
    name: 'empty drillDown argv needs at least the program name',
    edits: [
      { from: 'events: ["branch-follower", "events", "--follower", "${follower.id}"]', to: 'events: []', nth: 2 },
    ],
    path: 'followers[2].drillDown.events',
    message: /at least the program name/,
    at: 'events: []',
  },
  {
    name: 'empty argv element is rejected',
    edits: [{ from: '"logs", "--follower"', to: '"", "--follower"', nth: 0 }],
    path: 'followers[0].drillDown.logs[1]',
    message: /an argv element must not be empty/,
    at: '"", "--follower"',
  },
  {
    name: 'empty selector needs at least one field',
    edits: [{ from: 'selector: { name: jd01-web-probe-sentinel }', to: 'selector: {}' }],
    path: 'followers[2].target.selector',
    message: /a selector needs at least one field/,
    at: 'selector: {}',
  },

  // ---- followers: cross-checks --------------------------------------------------------------------
  {
    name: 'duplicate follower id names the first declaration',
    edits: [{ from: '- id: agentrun-jd01-v02', to: '- id: hwlab-jd01-v03' }],
    path: 'followers[1].id',
    message: /duplicate id "hwlab-jd01-v03" \(first declared at followers\[0\]\)/,
    at: 'hwlab-jd01-v03\n    enabled: true\n    adapter: agentrun-yaml-lane',
  },
  {
    name: 'follower naming an undeclared adapter lists the declared ones',
    edits: [{ from: 'adapter: agentrun-yaml-lane', to: 'adapter: agentrun-lane' }],
    path: 'followers[1].adapter',
    message:
      /no adapter with id "agentrun-lane" \(declared: hwlab-node-runtime, agentrun-yaml-lane, web-probe-sentinel-cicd\)/,
    at: 'adapter: agentrun-lane',
  },
  {
    name: 'follower naming an undeclared mirror lists the declared ones',
    edits: [{ from: 'mirror: hwlab }', to: 'mirror: hwlab2 }' }],
    path: 'followers[0].source.mirror',
    message: /no mirror with id "hwlab2" \(declared: hwlab, agentrun, unidesk\)/,
    at: 'mirror: hwlab2',
  },
  {
    name: "follower repo that is not its mirror's repo is rejected",
    edits: [{ from: 'repo: pikasTech/agentrun, branch', to: 'repo: pikasTech/AgentRun, branch' }],
    path: 'followers[1].source.repo',
    message: /"pikasTech\/AgentRun" is not the repository of mirror "agentrun" \(pikasTech\/agentrun\)/,
    at: 'pikasTech/AgentRun',
  },
  {
    name: 'pollIntervalSeconds equal to budgetSeconds is rejected',
    edits: [{ from: 'pollIntervalSeconds: 5', to: 'pollIntervalSeconds: 120', nth: 2 }],
    path: 'followers[1].closeout.pollIntervalSeconds',
    message: /must be less than closeout\.budgetSeconds \(120\)/,
    at: 'pollIntervalSeconds: 120',
  },
  {
    name: 'pass-only ${sha} is unknown in a drillDown command',
    edits: [
      {
        from: '"logs", "--follower", "${follower.id}"]',
        to: '"logs", "--follower", "${follower.id}", "${sha}"]',
        nth: 1,
      },
    ],
    path: 'followers[1].drillDown.logs[4]',
    message: /unknown placeholder \$\{sha\}/,
    at: '"${follower.id}", "${sha}"]',
  },
  {
    name: '${target.<field>} naming a mapping (not a scalar) in the owning entry is rejected',
    edits: [{ from: '"--lane", "${target.lane}"]', to: '"--lane", "${target.gitMirror}"]', nth: 0 }],
    path: 'followers[0].drillDown.status[7]',
    message: /follower "hwlab-jd01-v03" has no scalar field "gitMirror"/,
    at: '${target.gitMirror}',
  },

  // ---- followers: owning files --------------------------------------------------------------------
  {
    name: 'configRef to a missing file says file not found',
    edits: [{ from: 'configRef: config/agentrun.yaml', to: 'configRef: config/agentrun-lanes.yaml' }],
    path: 'followers[1].target.configRef',
    message: /"config\/agentrun-lanes\.yaml": cannot read: file not found/,
    at: 'configRef: config/agentrun-lanes.yaml',
  },
  {
    name: 'configRef to a directory says it is a directory',
    edits: [
      {
        from: 'configRef: config/hwlab-web-probe-sentinel/jd01.yaml',
        to: 'configRef: config/hwlab-web-probe-sentinel',
      },
    ],
    path: 'followers[2].target.configRef',
    message: /is a directory/,
    at: 'configRef: config/hwlab-web-probe-sentinel\n',
  },
  {
    name: 'configRef ../x.yaml escaping configRoot is rejected',
    edits: [{ from: 'configRef: config/hwlab-node-lanes.yaml', to: 'configRef: ../x.yaml' }],
    path: 'followers[0].target.configRef',
    message: /"\.\.\/x\.yaml" must be a relative path inside configRoot/,
    at: 'configRef: ../x.yaml',
  },
  {
    name: 'configRef escaping configRoot after normalisation is rejected',
    edits: [{ from: 'configRef: config/hwlab-node-lanes.yaml', to: 'configRef: config/../../x.yaml' }],
    path: 'followers[0].target.configRef',
    message: /must be a relative path inside configRoot/,
    at: 'configRef: config/../../x.yaml',
  },
  {
    name: 'absolute configRef is rejected',
    edits: [{ from: 'configRef: config/agentrun.yaml', to: 'configRef: /etc/agentrun.yaml' }],
    path: 'followers[1].target.configRef',
    message: /"\/etc\/agentrun\.yaml" must be a relative path inside configRoot/,
    at: 'configRef: /etc/agentrun.yaml',
  },
  {
    name: 'collection absent from the owning file says so',
    edits: [{ from: 'collection: sentinels', to: 'collection: sentinel' }],
    path: 'followers[2].target.collection',
    message: /"sentinel" in config\/hwlab-web-probe-sentinel\/jd01\.yaml has no such top-level key/,
    at: 'collection: sentinel\n',
  },
  {
    name: 'collection that is a mapping in the owning file is not a list',
    edits: [{ file: AGENTRUN, from: 'lanes:\n', to: 'lanes:\n  jd01-v02:\n    node: JD01\nold:\n' }],
    path: 'followers[1].target.collection',
    message: /"lanes" in config\/agentrun\.yaml is not a list/,
    at: 'collection: lanes\n      selector: { node: JD01, lane: jd01-v02 }',
  },
  {
    name: 'selector matching no entry names the file and collection',
    edits: [{ from: 'selector: { node: JD01, lane: v03 }', to: 'selector: { node: JD01, lane: v04 }' }],
    path: 'followers[0].target.selector',
    message: /selector \{node=JD01,lane=v04\} matches no entry of config\/hwlab-node-lanes\.yaml#lanes/,
    at: 'selector: { node: JD01, lane: v04 }',
  },
  {
    name: 'selector value of another type (number vs string) matches nothing',
    edits: [
      { file: SENTINELS, from: 'name: jd01-web-probe-sentinel', to: 'name: 7' },
      { from: 'selector: { name: jd01-web-probe-sentinel }', to: 'selector: { name: "7" }' },
    ],
    path: 'followers[2].target.selector',
    message: /matches no entry/,
    at: 'selector: { name: "7" }',
  },
  {
    name: 'selector matching two owning-file entries lists their indexes',
    edits: [{ file: HWLAB_LANES, from: '- node: D601', to: '- node: JD01' }],
    path: 'followers[0].target.selector',
    message: /matches 2 entries of config\/hwlab-node-lanes\.yaml#lanes \(indexes 0, 1\); it must select exactly one/,
    at: 'selector: { node: JD01, lane: v03 }',
  },
  {
    name: 'syntax error in an owning file is reported in that file',
    edits: [{ file: AGENTRUN, from: '    lane: jd01-v02\n', to: '    lane: jd01-v02\n    lane: jd01-v03\n' }],
    path: '(syntax)',
    message: /^duplicate key "lane": a key may appear once in a mapping$/,
    at: 'lane: jd01-v03',
    file: AGENTRUN,
  },
];

afterAll(removeFixtures);

describe('loadRegistry', () => {
  it('loads the shipped registry and resolves every follower target', () => {
    const { root } = makeFixture();
    const loaded = loadRegistry(REGISTRY, root);
    expect(loaded.registry.followers).toHaveLength(3);
    expect([...loaded.targets.keys()]).toEqual(['hwlab-jd01-v03', 'agentrun-jd01-v02', 'web-probe-sentinel-master']);
  });

  it('selects the one entry whose fields match, whatever the order the selector names them in', () => {
    const { root } = makeFixture([
      { from: 'selector: { node: JD01, lane: v03 }', to: 'selector: { lane: v03, node: JD01 }' },
    ]);
    const loaded = loadRegistry(REGISTRY, root);
    expect(loaded.targets.get('hwlab-jd01-v03')).toMatchObject({ node: 'JD01', namespace: 'hwlab-jd01-v03' });
    expect(loaded.registry.followers.map((f) => gitopsRefOf(loaded, f.id))).toEqual([
      'refs/heads/gitops/jd01-v03',
      'refs/heads/gitops/jd01-v02',
      'refs/heads/gitops/jd01-web-probe-sentinel',
    ]);
  });

  describe('rejects a malformed registry with path, file, line and message', () => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const { root, texts } = makeFixture(c.edits);
      const file = c.file ?? REGISTRY;
      const pos = positionOf(texts[file], c.at);
      const issues = issuesOf(root);
      expect(issues).toContainEqual(
        expect.objectContaining({
          file,
          path: c.path,
          line: pos.line,
          ...(c.exactColumn ? { column: pos.column } : {}),
          message: expect.stringMatching(c.message),
        }),
      );
    });
  });

  it('reports several independent problems in one file at once', () => {
    const { root, texts } = makeFixture([
      { from: 'configRoot: ..\n', to: 'configRoot: ..\nextra: true\n' },
      { from: 'pullPolicy: IfNotPresent', to: 'pullPolicy: Sometimes' },
      { from: 'port: 443', to: 'port: "443"' },
      { from: 'budgetSeconds: 120', to: 'budgetSeconds: -1', nth: 1 },
      { from: '- id: web-probe-sentinel-master', to: '- id: Web-Probe' },
    ]);
    const text = texts[REGISTRY];
    const issues = issuesOf(root);
    // Schema order first, unknown keys of a mapping after its fields; the order is not the point.
    expect(issues.map((i) => [i.path, i.line])).toEqual(
      expect.arrayContaining([
        ['extra', positionOf(text, 'extra: true').line],
        ['controller.image.pullPolicy', positionOf(text, 'pullPolicy:').line],
        ['controller.source.githubSsh.port', positionOf(text, 'port: "443"').line],
        ['followers[1].closeout.budgetSeconds', positionOf(text, 'budgetSeconds: -1').line],
        ['followers[2].id', positionOf(text, 'Web-Probe').line],
      ]),
    );
    expect(issues).toHaveLength(5);
  });

  it('reports several independent cross-reference problems at once', () => {
    const { root, texts } = makeFixture([
      { from: 'adapter: agentrun-yaml-lane', to: 'adapter: nope' },
      { from: 'mirror: hwlab }', to: 'mirror: nope }' },
      { from: 'pollIntervalSeconds: 5', to: 'pollIntervalSeconds: 500', nth: 3 },
      { from: 'collection: sentinels', to: 'collection: nope' },
    ]);
    const text = texts[REGISTRY];
    const issues = issuesOf(root);
    expect(issues.map((i) => [i.path, i.line])).toEqual(
      expect.arrayContaining([
        ['followers[0].source.mirror', positionOf(text, 'mirror: nope').line],
        ['followers[1].adapter', positionOf(text, 'adapter: nope').line],
        ['followers[2].target.collection', positionOf(text, 'collection: nope').line],
        ['followers[2].closeout.pollIntervalSeconds', positionOf(text, 'pollIntervalSeconds: 500').line],
      ]),
    );
    expect(issues).toHaveLength(4);
  });

  it('names the bad value of a problem, quoted, after its message', () => {
    const { root } = makeFixture([{ from: '  - id: hwlab-jd01-v03\n', to: '  - id: Bad_ID\n' }]);
    const issue = issuesOf(root).find((i) => i.path === 'followers[0].id')!;
    expect(issue.value).toBe('"Bad_ID"');
    try {
      loadRegistry(REGISTRY, root);
      expect.unreachable('the registry is invalid');
    } catch (err) {
      expect((err as ConfigError).message).toMatch(/followers\[0\]\.id: .* \(got "Bad_ID"\)$/m);
    }
  });

  it('reports a duplicate key as a YAML syntax error on the repeated key', () => {
    const { root, texts } = makeFixture([
      { from: '    suspend: false\n', to: '    suspend: false\n    suspend: true\n' },
    ]);
    const issues = issuesOf(root);
    expect(issues).toEqual([
      expect.objectContaining({
        file: REGISTRY,
        path: '(syntax)',
        line: positionOf(texts[REGISTRY], 'suspend: true').line,
        message: 'duplicate key "suspend": a key may appear once in a mapping',
      }),
    ]);
  });

  it('reports bad indentation as a YAML syntax error on the misindented line', () => {
    const { root, texts } = makeFixture([{ from: '    renewSeconds: 20\n', to: '   renewSeconds: 20\n' }]);
    const issues = issuesOf(root);
    expect(issues).toEqual([
      expect.objectContaining({
        file: REGISTRY,
        path: '(syntax)',
        line: positionOf(texts[REGISTRY], '   renewSeconds: 20').line,
        message: expect.stringMatching(/same column/),
      }),
    ]);
  });

  it('reports an unreadable registry as one issue on the file', () => {
    const { root } = makeFixture();
    expect(() => loadRegistry('config/missing.yaml', root)).toThrow(ConfigError);
    try {
      loadRegistry('config/missing.yaml', root);
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        { file: 'config/missing.yaml', path: '(file)', line: 0, column: 0, message: 'cannot read: file not found' },
      ]);
    }
  });
});

// Product problems found while writing the cases above. Each test states the behaviour the loader
// should have and is marked `fails` because it does not have it yet: when one starts failing, the
// problem was fixed and the test should become an ordinary `it`.
describe('loadRegistry: known problems (each expected to fail until fixed)', () => {
  it('reports a YAML alias as a ConfigError issue instead of throwing a raw ReferenceError', () => {
    const { root } = makeFixture([
      { from: '    name: branch-follower-leader\n', to: '    name: &lease branch-follower-leader\n' },
      { from: '    state: branch-follower-state', to: '    state: *lease' },
    ]);
    expect(issuesOf(root)).toContainEqual(expect.objectContaining({ file: REGISTRY }));
  });

  it('rejects ${target.toString}: an inherited property is not a field of the target entry', () => {
    const { root } = makeFixture([{ from: '"--json"]', to: '"${target.toString}"]' }]);
    expect(issuesOf(root)).toContainEqual(
      expect.objectContaining({
        path: 'adapters[0].commands.status[10]',
        message: expect.stringMatching(/no scalar field "toString"/),
      }),
    );
  });

  it('says a missing fixed-value field (kind) is missing, not that it "must be" its value', () => {
    const { root } = makeFixture([{ from: 'kind: BranchFollowerRegistry\n', to: '' }]);
    expect(issuesOf(root)).toContainEqual(
      expect.objectContaining({ path: 'kind', message: expect.stringMatching(/required field is missing/) }),
    );
  });

  it('reports a syntax error in an owning file once, however many followers reference it', () => {
    const { root } = makeFixture([
      { from: 'configRef: config/agentrun.yaml', to: 'configRef: config/hwlab-node-lanes.yaml' },
      { from: 'selector: { node: JD01, lane: jd01-v02 }', to: 'selector: { node: D601, lane: v03 }' },
      { file: HWLAB_LANES, from: '    lane: v03\n', to: '    lane: v03\n    lane: v04\n' },
    ]);
    expect(issuesOf(root)).toHaveLength(1);
  });
});
