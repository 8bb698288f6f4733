import { z } from 'zod';

// The contract between the pass and an adapter command (docs/adapters.md). The adapter's status
// command prints one JSON object on stdout; its trigger command prints one JSON object naming the
// run it started. Fields not in the contract are dropped, never stored or shown.

const sha = z.string().regex(/^[0-9a-f]{40}$/, 'must be a full 40-character sha');

const RUN_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;

const AdapterRunSchema = z.object({
  /** The control plane's name for the run (PipelineRun, Job, …). */
  name: z.string().min(1),
  /** The source sha the run builds. */
  sha,
  phase: z.enum(RUN_PHASES),
  /** One line on why, for Failed. */
  message: z.string().optional(),
});

export const AdapterStatusSchema = z.object({
  /** The sha the control plane is set to deploy (its target), or null before the first. */
  targetSha: sha.nullable(),
  /** The sha running now, or null. */
  deployedSha: sha.nullable(),
  /** The newest run the control plane knows, or null. A run the trigger started must show here. */
  run: AdapterRunSchema.nullable(),
  /** The git mirror as the control plane sees it. */
  mirror: z.object({ pendingFlush: z.boolean(), githubInSync: z.boolean() }),
});

export const AdapterTriggerSchema = z.object({
  run: z.object({ name: z.string().min(1), sha }),
});

export type AdapterStatus = z.infer<typeof AdapterStatusSchema>;
export type AdapterRun = z.infer<typeof AdapterRunSchema>;
export type AdapterTrigger = z.infer<typeof AdapterTriggerSchema>;
