// pod-exec: the synthesized CronJob's pod, executed for real on this machine, without a kubelet or a
// container runtime. Given the pod spec (the Job template of dist/cronjob-<name>.yaml), a
// ServiceAccount token and local directories for the pod's claims, it does what kubelet and the
// runtime would: reads the ConfigMaps and Secrets the volumes name from the API server, lays them out
// with kubelet's modes and fsGroup ownership, then runs the init containers and the main container
// in order, each as local processes in its own mount/UTS/IPC/PID namespaces with every volumeMount at
// its real path (bind mounts; readOnly and subPath honoured), the root filesystem read-only when the
// spec says so, the pod's uid/gid/groups (setpriv), no_new_privs and no capabilities, exactly the
// container's environment plus what kubelet and the runtime inject, and its working directory.
//
// Needs root (mount namespaces, bind mounts, pivot_root), util-linux (unshare, setpriv, mount,
// pivot_root) and coreutils env. What is not faithful (network namespace, image, cgroups, seccomp,
// a token not bound to a Pod object) is listed in README.md and in every run's mapping table —
// `describe()` prints it; keep it the one place that says how the pod maps to this machine.
//
// Used by test/integration/pod-path.test.ts; meant for a demo script too, so it lives outside test/.

export { cronJobPod, checkPodSpec, type CronJobPod, type PodSpec } from './pod-spec.ts';
export { dockerfileImage } from './image.ts';
export { podEndpoints, hostsFile, assertPortFree, type Endpoint } from './network.ts';
export { serverSandbox } from './sandbox.ts';
export {
  apiServerOf,
  preparePod,
  requestServiceAccountToken,
  type PodResult,
  type PreparedPod,
  type RunHooks,
} from './pod.ts';
