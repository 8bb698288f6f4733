import { App } from 'cdk8s';
import { ControllerChart } from '../constructs/controller-chart.ts';
import type { LoadedRegistry } from '../core/config/load.ts';
import { inApplyOrder, type Manifest } from '../core/kube/manifest.ts';
import { controllerChartPropsOf } from './props.ts';

/** The controller chart of the registry, in an app of its own, in memory. Writes nothing. */
export function controllerChart(loaded: LoadedRegistry): ControllerChart {
  const app = new App({ outdir: 'unused-in-memory' });
  return new ControllerChart(app, 'branch-follower', controllerChartPropsOf(loaded));
}

// Builds the controller chart in memory and returns its objects in apply order. Writes nothing.
export function synthesize(loaded: LoadedRegistry): Manifest[] {
  return inApplyOrder(controllerChart(loaded).toJson() as Manifest[]);
}
