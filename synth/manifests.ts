import { App } from 'cdk8s';
import { ControllerChart } from '../constructs/controller-chart.ts';
import type { LoadedRegistry } from '../core/config/load.ts';
import { inApplyOrder, type Manifest } from '../core/kube/manifest.ts';

// Builds the controller chart in memory and returns its objects in apply order. Writes nothing.
export function synthesize(loaded: LoadedRegistry): Manifest[] {
  const app = new App({ outdir: 'unused-in-memory' });
  const chart = new ControllerChart(app, 'branch-follower', { loaded });
  return inApplyOrder(chart.toJson() as Manifest[]);
}
