import { App, Chart } from 'cdk8s';
import { GitMirrorStageJob } from '../constructs/git-mirror-stage-job.ts';
import type { LoadedRegistry } from '../core/config/load.ts';
import type { Manifest } from '../core/kube/manifest.ts';
import { stageJobPropsOf, type StageJobRequest } from './props.ts';

// Builds the Job of one git-mirror stage run in memory. It is not part of dist/: each
// `git-mirror sync|flush --confirm` creates its own, under a name unique to that run.
export function synthesizeStageJob(loaded: LoadedRegistry, request: StageJobRequest): Manifest {
  const app = new App({ outdir: 'unused-in-memory' });
  const chart = new Chart(app, 'git-mirror-stage', { disableResourceNameHashes: true });
  new GitMirrorStageJob(chart, 'Job', stageJobPropsOf(loaded, request));
  const [job] = chart.toJson() as Manifest[];
  return job!;
}
