/** The path the spec fixes for the registry, used when --config is not given. */
export const DEFAULT_REGISTRY_PATH = 'config/cicd-branch-followers.yaml';
