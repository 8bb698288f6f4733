import { z } from 'zod';
import { isTimeZone } from './time-zone.ts';

// The registry's one schema. Every field is required (zod defaults are never used: a missing value is an
// error naming its YAML path) and every object is strict (an unknown key is an error, so a typo never
// silently falls back to something). Each field's `.describe()` is mirrored in docs/registry.md.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/;
const CRON_FIELD = /^(\*|[0-9]+(-[0-9]+)?)(\/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(\/[0-9]+)?)*$/;
const GIT_REF_NAME = /^(?!\/|.*\/\/|.*\.\.|.*@\{|.*\.lock$|.*\/$|.*\.$)[A-Za-z0-9._/-]+$/;
const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const MIRROR_URL = /^(git|https?|ssh|file):\/\/\S+$/;
const SSH_URL = /^ssh:\/\/[a-z_][a-z0-9_-]*@[A-Za-z0-9.-]+:[0-9]{1,5}\/\S+$/;
const ABS_DIR = /^\/[^\s]*[^/\s]$/;
const REL_PATH = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._/-]+$/;
const PROXY_URL = /^http:\/\/[A-Za-z0-9.-]+:[0-9]{1,5}$/;

const dnsLabel = (what: string) =>
  z
    .string()
    .max(63, `${what} must be at most 63 characters (DNS-1123 label)`)
    .regex(DNS1123_LABEL, `${what} must be a DNS-1123 label: lower-case letters, digits and '-'`);
const dnsSubdomain = (what: string) =>
  z
    .string()
    .max(253, `${what} must be at most 253 characters (DNS-1123 subdomain)`)
    .regex(DNS1123_SUBDOMAIN, `${what} must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.'`);
const positiveInt = (what: string) =>
  z.number().int(`${what} must be a whole number`).positive(`${what} must be greater than 0`);
const nonNegativeInt = (what: string) =>
  z.number().int(`${what} must be a whole number`).nonnegative(`${what} must be 0 or more`);
const quantity = z.string().regex(QUANTITY, 'must be a Kubernetes quantity such as 100m, 256Mi or 1');
// argv arrays: never a shell string, so nothing is ever interpreted by a shell.
const argv = z
  .array(z.string().min(1, 'an argv element must not be empty'))
  .min(1, 'a command needs at least the program name');

const cronSchedule = z.string().refine(
  (s) => {
    const fields = s.trim().split(/\s+/);
    return fields.length === 5 && fields.every((f) => CRON_FIELD.test(f));
  },
  { message: 'must be a five-field cron schedule such as "* * * * *"' },
);

const secretKeyRef = z
  .strictObject({
    name: dnsSubdomain('a Secret name').describe('Name of the Secret in the controller namespace.'),
    key: z
      .string()
      .regex(CONFIGMAP_KEY, "a Secret key may hold only letters, digits, '-', '_' and '.'")
      .describe('Key inside the Secret. Only the name, key, presence and a fingerprint are ever shown.'),
  })
  .describe('A reference to one key of a Secret (sourceRef). The value is never read into output.');

const resources = z
  .strictObject({
    requests: z
      .strictObject({ cpu: quantity.describe('CPU request.'), memory: quantity.describe('Memory request.') })
      .describe('What the scheduler reserves for the container.'),
    limits: z
      .strictObject({ cpu: quantity.describe('CPU limit.'), memory: quantity.describe('Memory limit.') })
      .describe('The most the container may use.'),
  })
  .describe('Container resources.');

const proxy = z
  .discriminatedUnion('mode', [
    z
      .strictObject({
        mode: z.literal('connect').describe('Tunnel SSH through the HTTP proxy with CONNECT.'),
        url: z
          .string()
          .regex(PROXY_URL, 'must be http://host:port (the proxy is used only as an SSH CONNECT tunnel)')
          .describe('The HTTP proxy, used only as an SSH CONNECT tunnel, never for HTTPS auth.'),
      })
      .describe('SSH through an HTTP CONNECT tunnel.'),
    z.strictObject({ mode: z.literal('none').describe('Connect to the SSH host directly.') }).describe('No proxy.'),
  ])
  .describe('How the SSH connection to the upstream reaches it.');

const ControllerSchema = z
  .strictObject({
    name: dnsLabel('controller.name').describe(
      'Instance name: the app.kubernetes.io/instance label on every object, used to find (and prune) what this ' +
        'controller owns.',
    ),
    partOf: dnsLabel('controller.partOf').describe('The app.kubernetes.io/part-of label on every object.'),
    namespace: dnsLabel('a namespace').describe('Namespace the controller and all its objects live in.'),
    kubeRoute: z
      .strictObject({
        context: z
          .string()
          .min(1, 'must not be empty')
          .describe('kubeconfig context the CLI talks to (overridable only by --context).'),
        requestTimeoutSeconds: positiveInt('kubeRoute.requestTimeoutSeconds').describe(
          'One try of a Kubernetes API request still unanswered after this counts as the server being ' +
            'unreachable (and is retried within kubeRoute.retry.budgetSeconds).',
        ),
        retry: z
          .strictObject({
            budgetSeconds: positiveInt('kubeRoute.retry.budgetSeconds').describe(
              'How long one Kubernetes API request keeps being tried again after a transient failure (the ' +
                'server unreachable or not answering, HTTP 429, HTTP 5xx), counted from its first try; a retry ' +
                'whose wait would end past it is not made, and the error says how many tries were made. A ' +
                '409 or any other 4xx is never retried.',
            ),
            initialBackoffMilliseconds: positiveInt('kubeRoute.retry.initialBackoffMilliseconds').describe(
              'The wait before the first retry; doubled before each further one up to ' +
                'maxBackoffMilliseconds, each wait jittered to between half and all of that. A Retry-After ' +
                'the server sends is waited at least.',
            ),
            maxBackoffMilliseconds: positiveInt('kubeRoute.retry.maxBackoffMilliseconds').describe(
              'The longest the doubling wait between two tries grows (a longer Retry-After is still honoured).',
            ),
          })
          .describe('Retries of transient Kubernetes API failures, such as an API server restart.'),
      })
      .describe('How the CLI reaches the cluster.'),
    state: z
      .strictObject({
        maxBytes: positiveInt('state.maxBytes')
          .max(524_288, 'must stay well under the 1 MiB ConfigMap limit (at most 524288)')
          .describe("A state write that would make a shard's state ConfigMap larger than this is refused."),
        objects: positiveInt('state.objects')
          .max(4096, 'must be at most 4096')
          .describe(
            'How many state ConfigMaps (<configMaps.state>-b) the records are spread over: follower f is kept in ' +
              'object b = hash(f) modulo objects (the hash of pass.shards), which belongs to shard b modulo ' +
              'pass.shards. A multiple of pass.shards; each object holds at most maxBytes.',
          ),
        historyLimit: positiveInt('state.historyLimit').describe('Transitions kept per follower.'),
        triggeredLimit: positiveInt('state.triggeredLimit').describe(
          'Triggered shas remembered per follower; a remembered sha is never triggered again.',
        ),
        outputTailBytes: positiveInt('state.outputTailBytes').describe(
          'Bytes of the last adapter outputs kept (redacted) for `logs`.',
        ),
      })
      .describe('The state ConfigMap the pass keeps.'),
    pass: z
      .strictObject({
        observeTimeoutSeconds: positiveInt('pass.observeTimeoutSeconds').describe(
          'A `git ls-remote` of a mirror still running after this fails.',
        ),
        conflictRetries: positiveInt('pass.conflictRetries').describe(
          'How often a pass re-reads the state and decides again after a write conflict.',
        ),
        conflictBackoffMilliseconds: positiveInt('pass.conflictBackoffMilliseconds').describe(
          'How long a pass waits before it re-reads after its first write conflict; doubled after each ' +
            'further one, each wait jittered to between half and one and a half times that, so two ' +
            'writers that collided do not collide again.',
        ),
        shards: positiveInt('pass.shards')
          .max(256, 'must be at most 256')
          .describe(
            'How many pods one pass runs as (an Indexed Job, all at once): shard k owns the followers whose ' +
              'id hashes to k (the first 4 bytes of its SHA-256, big-endian, modulo shards), holds the Lease ' +
              '<lease.name>-k and keeps their records in the ConfigMap <configMaps.state>-k.',
          ),
        concurrency: z
          .strictObject({
            adapterCalls: positiveInt('pass.concurrency.adapterCalls').describe(
              'Adapter commands (status and trigger) one shard runs at once.',
            ),
            gitCalls: positiveInt('pass.concurrency.gitCalls').describe(
              'git commands (sync and looks, one mirror each) one shard runs at once.',
            ),
            apiCalls: positiveInt('pass.concurrency.apiCalls').describe(
              'Kubernetes API requests one shard makes at once besides its state writes (its Events); status reads ' +
                'the Leases and state ConfigMaps this many at once.',
            ),
          })
          .describe('How much of a pass runs side by side; state writes are batched (one per shard per look).'),
        watchWindow: z
          .strictObject({
            enabled: z
              .boolean()
              .describe(
                "Whether the pass of each CronJob pod, its work done, keeps looking for new tips until the window's " +
                  'end, so a push is followed within seconds rather than at the next scheduled pass.',
              ),
            intervalSeconds: positiveInt('pass.watchWindow.intervalSeconds').describe(
              'How often the window looks: one git ls-remote of each upstream per look, a fetch only of a branch ' +
                "that moved. Latency against the upstream's rate limits: docs/operations.md.",
            ),
            marginSeconds: positiveInt('pass.watchWindow.marginSeconds').describe(
              'The window ends this long before the next scheduled pass and before the Job reaches ' +
                'cronJob.activeDeadlineSeconds, so the next pass never waits on it (concurrencyPolicy Forbid).',
            ),
          })
          .describe(
            'The watch window of a scheduled pass: a tip that moved in it is synced, snapshotted and handled as ' +
              'in any pass, under the same Lease, with the same write-ahead.',
          ),
      })
      .describe('Budgets of one reconcile pass.'),
    apply: z
      .strictObject({
        waitSeconds: positiveInt('apply.waitSeconds').describe(
          'How long `apply --wait` waits for every object to be ready.',
        ),
        pollIntervalSeconds: positiveInt('apply.pollIntervalSeconds').describe(
          'How often `apply --wait` checks readiness.',
        ),
      })
      .describe('Budgets of `apply --wait`.'),
    reconcile: z
      .strictObject({
        waitSeconds: positiveInt('reconcile.waitSeconds').describe(
          'How long `reconcile --now --wait` follows the pass Job it created.',
        ),
        pollIntervalSeconds: positiveInt('reconcile.pollIntervalSeconds').describe(
          'How often `reconcile --now --wait` reads the Job.',
        ),
      })
      .describe("Budgets of `reconcile --now`, which runs one pass from the CronJob's template at once."),
    expectSha: z
      .strictObject({
        waitSeconds: positiveInt('expectSha.waitSeconds').describe(
          'How long `run-once --expect-sha` and `status --expect-sha` wait for the mirror to serve that sha (or a ' +
            "descendant) on the follower's branch before they exit 5 naming the lag.",
        ),
        pollIntervalSeconds: positiveInt('expectSha.pollIntervalSeconds').describe(
          'How often they look again: `run-once --confirm` syncs the mirror from the upstream each time (one ' +
            'upstream ls-remote), `status` and `run-once --dry-run` only read the mirror.',
        ),
      })
      .describe('Budgets of `--expect-sha`: waiting until the mirror serves a sha a pipeline just pushed.'),
    progress: z
      .strictObject({
        heartbeatSeconds: positiveInt('progress.heartbeatSeconds')
          .max(10, 'must be at most 10: a wait that says nothing for longer looks hung')
          .describe(
            'Every wait (`apply --wait`, `reconcile --now --wait`, `git-mirror sync|flush --wait`, `run-once ' +
              '--wait` and the pass of each pod while it follows closeout) prints a line whenever it printed ' +
              'nothing for this long: how long it has waited of its budget and what it still waits for. At most 10.',
          ),
      })
      .describe('What the waits print while nothing changes, on stderr and in the pod log.'),
    serviceAccount: z
      .strictObject({ name: dnsSubdomain('a ServiceAccount name').describe('ServiceAccount the pass runs as.') })
      .describe('The identity of the reconcile pass.'),
    lease: z
      .strictObject({
        name: dnsSubdomain('a Lease name').describe('Lease that elects the one pass allowed to act.'),
        durationSeconds: positiveInt('lease.durationSeconds').describe(
          'How long a holder keeps the Lease without renewing it.',
        ),
        renewSeconds: positiveInt('lease.renewSeconds').describe(
          'How often the pass renews the Lease it holds, in the background while it acts; every ' +
            'adapters[].timeoutSeconds plus this must fit durationSeconds.',
        ),
      })
      .describe('Leader election anchor.'),
    configMaps: z
      .strictObject({
        registry: dnsSubdomain('a ConfigMap name').describe('ConfigMap holding this registry file.'),
        state: dnsSubdomain('a ConfigMap name').describe('ConfigMap holding one state record per follower.'),
      })
      .describe('ConfigMaps the controller owns.'),
    image: z
      .strictObject({
        ref: z
          .string()
          .regex(/^\S+$/, 'must be an image reference without spaces')
          .describe('Runner image (Node 22, git, production dependencies); pin it by digest.'),
        pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).describe('Kubernetes imagePullPolicy.'),
        appDir: z
          .string()
          .regex(/^\/[^\s]*[^/\s]$/, 'must be an absolute directory path without a trailing slash')
          .describe('Where the image keeps node_modules; the controller source is cloned into <appDir>/checkout.'),
        runAsUser: positiveInt('image.runAsUser').describe('Non-root UID the image runs as.'),
        runAsGroup: positiveInt('image.runAsGroup').describe('GID the image runs as.'),
      })
      .describe('The runner image and the user it runs as.'),
    cronJob: z
      .strictObject({
        name: dnsLabel('a CronJob name')
          .max(52, 'a CronJob name must be at most 52 characters (Kubernetes appends 11 for Job names)')
          .describe('CronJob that runs one reconcile pass per schedule tick.'),
        schedule: cronSchedule.describe('Cron schedule of the pass.'),
        timeZone: z
          .string()
          .refine(isTimeZone, { message: 'must be an IANA time zone such as Etc/UTC or Europe/Berlin' })
          .describe('IANA time zone the schedule is read in.'),
        concurrencyPolicy: z
          .literal('Forbid', { message: 'must be Forbid: two passes never run at once' })
          .describe('Always Forbid: a pass never overlaps the previous one.'),
        suspend: z.boolean().describe('Pause the schedule without deleting anything.'),
        startingDeadlineSeconds: positiveInt('cronJob.startingDeadlineSeconds').describe(
          'A tick missed by more than this is skipped, not run late.',
        ),
        activeDeadlineSeconds: positiveInt('cronJob.activeDeadlineSeconds').describe(
          'Pass deadline: the Job is stopped after this long.',
        ),
        backoffLimit: nonNegativeInt('cronJob.backoffLimit').describe(
          'Pod retries of each shard of one pass Job (its backoffLimitPerIndex: a failing shard never stops the others).',
        ),
        successfulJobsHistoryLimit: nonNegativeInt('cronJob.successfulJobsHistoryLimit').describe(
          'Finished Jobs kept for `logs`.',
        ),
        failedJobsHistoryLimit: nonNegativeInt('cronJob.failedJobsHistoryLimit').describe(
          'Failed Jobs kept for `logs`.',
        ),
      })
      .describe('The schedule and loop budgets of the pass.'),
    resources: z
      .strictObject({
        clone: resources.describe('The init container that clones the controller source.'),
        pass: resources.describe('The container that runs the reconcile pass.'),
      })
      .describe('Container resources of the pass pod.'),
    scratch: z
      .strictObject({
        checkoutSizeLimit: quantity.describe('EmptyDir size limit of the controller source checkout.'),
        tmpSizeLimit: quantity.describe('EmptyDir size limit of /tmp (HOME of git and node).'),
      })
      .describe('Writable EmptyDirs; the root filesystem is read-only.'),
    source: z
      .strictObject({
        mirror: z
          .strictObject({
            mirror: dnsLabel('a mirror id').describe('Id of the mirror (in `mirrors`) that holds the controller code.'),
            ref: z.string().regex(GIT_REF_NAME, 'must be a branch or tag name').describe('Branch or tag to clone.'),
          })
          .describe('Where the pass pod clones the controller source from (shallow).'),
        githubSsh: z
          .strictObject({
            transport: z
              .literal('ssh', { message: 'must be ssh: there is no HTTPS or token transport' })
              .describe('Always ssh (through a GIT_SSH wrapper); there is no HTTPS or token path.'),
            host: z
              .string()
              .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name')
              .describe('SSH host of the upstream.'),
            port: z.number().int().min(1).max(65535).describe('SSH port of the upstream.'),
            user: z
              .string()
              .regex(/^[a-z_][a-z0-9_-]*$/, 'must be a user name')
              .describe('SSH user.'),
            identity: secretKeyRef.describe('Secret key holding the SSH private key.'),
            knownHosts: secretKeyRef.describe('Secret key holding the known_hosts lines of the host.'),
            proxy,
          })
          .describe('The only way the git mirror reaches the upstream.'),
      })
      .describe('Where code comes from.'),
    gitMirror: z
      .strictObject({
        claimName: dnsSubdomain('a PersistentVolumeClaim name').describe(
          'PersistentVolumeClaim holding the mirror cache (the bare repositories the mirror serves); mounted ' +
            'read-write by the pass pod and the stage Jobs.',
        ),
        mountPath: z
          .string()
          .regex(ABS_DIR, 'must be an absolute directory path without a trailing slash')
          .describe(
            'Where the pass pod and the stage Jobs mount the mirror cache claim; mirrors[].cachePath is ' +
              'relative to it.',
          ),
        sshMountPath: z
          .string()
          .regex(ABS_DIR, 'must be an absolute directory path without a trailing slash')
          .describe(
            'Where the githubSsh Secret keys are mounted: <sshMountPath>/identity/<identity.key> and ' +
              '<sshMountPath>/known-hosts/<knownHosts.key>.',
          ),
        gitTimeoutSeconds: positiveInt('gitMirror.gitTimeoutSeconds').describe(
          'One git command of a stage (fetch, push, ls-remote) still running after this is killed.',
        ),
        flushRecheckDelaySeconds: nonNegativeInt('gitMirror.flushRecheckDelaySeconds').describe(
          'Wait before the one controlled recheck after a post-push recheck failed.',
        ),
        stageJob: z
          .strictObject({
            activeDeadlineSeconds: positiveInt('stageJob.activeDeadlineSeconds').describe(
              'A stage Job still running after this is stopped.',
            ),
            backoffLimit: nonNegativeInt('stageJob.backoffLimit').describe('Pod retries of one stage Job.'),
            ttlSecondsAfterFinished: positiveInt('stageJob.ttlSecondsAfterFinished').describe(
              'A finished stage Job is deleted after this.',
            ),
            waitSeconds: positiveInt('stageJob.waitSeconds').describe(
              'How long `git-mirror <stage> --wait` follows the Job.',
            ),
            pollIntervalSeconds: positiveInt('stageJob.pollIntervalSeconds').describe(
              'How often `--wait` reads the Job.',
            ),
          })
          .describe('The Kubernetes Job `git-mirror sync|flush|status --confirm` creates.'),
        resources: resources.describe('The container of a stage Job.'),
      })
      .describe('The git mirror stages (sync, flush, status): the cache they work on and their budgets.'),
  })
  .describe('The controller: where it runs, as whom, and its loop budgets.');

const MirrorSchema = z
  .strictObject({
    id: dnsLabel('a mirror id').describe('Id followers use in source.mirror.'),
    repo: z.string().regex(REPO, 'must be owner/name').describe('The upstream repository this mirror holds.'),
    url: z
      .string()
      .regex(MIRROR_URL, 'must be a git://, http(s)://, ssh:// or file:// URL')
      .describe('Where the Kubernetes-managed mirror serves the repository.'),
    upstream: z
      .string()
      .refine((u) => !/^https?:/i.test(u), {
        message:
          'must not be http(s): there is no HTTPS or token transport; the upstream is reached only over SSH ' +
          '(controller.source.githubSsh)',
      })
      .refine((u) => /^https?:/i.test(u) || SSH_URL.test(u), {
        message:
          'must be ssh://<user>@<host>:<port>/<path>, with the user, host and port of controller.source.githubSsh',
      })
      .describe(
        'The upstream repository as the sync and flush stages reach it: an ssh:// URL whose user, host and port are ' +
          'those of controller.source.githubSsh.',
      ),
    cachePath: z
      .string()
      .regex(REL_PATH, "must be a relative path inside gitMirror.mountPath (no '..', no leading '/')")
      .describe('The bare repository of this mirror, relative to controller.gitMirror.mountPath.'),
  })
  .describe('One repository in the Kubernetes-managed git mirror.');

const AdapterSchema = z
  .strictObject({
    id: dnsLabel('an adapter id').describe('Id followers use in `adapter`.'),
    commands: z
      .strictObject({
        status: argv.describe('Reads the compact status of the control plane (argv, placeholders allowed).'),
        trigger: argv.describe('Triggers the control plane for one sha (argv, placeholders allowed).'),
      })
      .describe('The adapter commands, run without a shell.'),
    timeoutSeconds: positiveInt('timeoutSeconds').describe('A command still running after this is killed.'),
    maxOutputBytes: positiveInt('maxOutputBytes').describe('Output kept from one command; more is an error.'),
    statusLagSeconds: nonNegativeInt('statusLagSeconds').describe(
      'How long after its trigger returns the status may still not show the run; an unconfirmed trigger is sent ' +
        'again only after timeoutSeconds + this.',
    ),
  })
  .describe('How to drive one existing control plane.');

const CLOSEOUT_CHECKS = ['runSucceeded', 'deployedShaMatches', 'mirrorFlushed', 'githubInSync'] as const;

const FollowerSchema = z
  .strictObject({
    id: dnsLabel('a follower id').describe('Unique id (DNS-1123 label); the key of its state record.'),
    enabled: z.boolean().describe('A disabled follower is reported but never triggered.'),
    adapter: dnsLabel('an adapter id').describe('Id of the adapter (in `adapters`) that drives its control plane.'),
    source: z
      .strictObject({
        repo: z.string().regex(REPO, 'must be owner/name').describe('Upstream repository, owner/name.'),
        branch: z.string().regex(GIT_REF_NAME, 'must be a valid git branch name').describe('Branch to follow.'),
        mirror: dnsLabel('a mirror id').describe('Id of the mirror (in `mirrors`) it is observed through.'),
      })
      .describe('What to follow, and through which mirror.'),
    target: z
      .strictObject({
        configRef: z
          .string()
          .min(1, 'must not be empty')
          .describe('Owning file, relative to configRoot, that holds the target details.'),
        collection: z
          .string()
          .min(1, 'must not be empty')
          .describe('Top-level list in the owning file to select from.'),
        selector: z
          .record(
            z.string().min(1, 'a selector field name must not be empty'),
            z.union([z.string(), z.number(), z.boolean()]),
          )
          .refine((m) => Object.keys(m).length > 0, { message: 'a selector needs at least one field' })
          .describe('Fields the one selected entry must have, like matchLabels.'),
        gitopsRefField: z
          .string()
          .regex(
            /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
            'must be a field name of the target entry, dotted for nesting (e.g. gitMirror.gitopsRef)',
          )
          .describe(
            'Field of the selected entry holding the GitOps ref (refs/heads/<branch>) its control plane publishes ' +
              'into the mirror; closeout waits until it is flushed upstream.',
          ),
      })
      .describe('The control-plane target, kept in its owning file.'),
    drillDown: z
      .strictObject({
        status: argv.describe('Shown as the next command to inspect the control plane.'),
        trigger: argv.describe('Shown as the manual trigger command.'),
        events: argv.describe('Shown as the command for events.'),
        logs: argv.describe('Shown as the command for logs.'),
      })
      .describe('Next commands shown to operators (argv, placeholders allowed).'),
    closeout: z
      .strictObject({
        budgetSeconds: positiveInt('closeout.budgetSeconds').describe(
          'Trigger-to-closeout budget; running over is a visible Failed (BudgetExceeded).',
        ),
        pollIntervalSeconds: positiveInt('closeout.pollIntervalSeconds').describe(
          'How often closeout asks the adapter for status.',
        ),
        checks: z
          .array(z.enum(CLOSEOUT_CHECKS))
          .min(1, 'closeout needs at least one check')
          .refine((a) => new Set(a).size === a.length, { message: 'a closeout check is listed twice' })
          .describe('All must hold for Succeeded.'),
      })
      .describe('When a triggered run counts as closed out, and how long that may take.'),
    retry: z
      .strictObject({
        maxAttempts: positiveInt('retry.maxAttempts').describe('Trigger attempts per sha, the first included.'),
        backoffSeconds: nonNegativeInt('retry.backoffSeconds').describe('Wait after a Failed before retrying.'),
      })
      .describe('Retry budget of a failed sha.'),
  })
  .describe('One branch to follow.');

export const RegistrySchema = z
  .strictObject({
    apiVersion: z
      .literal('cicd.unidesk.dev/v1alpha1', { message: 'must be cicd.unidesk.dev/v1alpha1' })
      .describe('Version of this file format.'),
    kind: z
      .literal('BranchFollowerRegistry', { message: 'must be BranchFollowerRegistry' })
      .describe('Always BranchFollowerRegistry.'),
    configRoot: z
      .string()
      .min(1, 'must not be empty')
      .describe('Directory configRef paths are relative to, itself relative to this file.'),
    controller: ControllerSchema,
    mirrors: z.array(MirrorSchema).min(1, 'declare at least one mirror').describe('Git mirror repositories.'),
    adapters: z.array(AdapterSchema).min(1, 'declare at least one adapter').describe('Control-plane adapters.'),
    followers: z.array(FollowerSchema).min(1, 'declare at least one follower').describe('The followers.'),
  })
  .describe('The branch-follower registry.');

export type Registry = z.infer<typeof RegistrySchema>;
export type ControllerConfig = z.infer<typeof ControllerSchema>;
export type MirrorConfig = z.infer<typeof MirrorSchema>;
export type AdapterConfig = z.infer<typeof AdapterSchema>;
export type FollowerConfig = z.infer<typeof FollowerSchema>;
