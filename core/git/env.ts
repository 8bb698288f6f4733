/** The fixed part of a git child's environment: nothing else of this process reaches git. */
export interface HermeticGitEnv {
  readonly PATH: string;
  readonly HOME: string;
  readonly GIT_CONFIG_NOSYSTEM: '1';
  readonly GIT_CONFIG_GLOBAL: '/dev/null';
  readonly GIT_TERMINAL_PROMPT: '0';
  readonly LANG: 'C';
}

// The mirror is the only authority on branches, so no caller variable (GIT_DIR, GIT_CONFIG_GLOBAL,
// a url.insteadOf in some config) may reach git: it gets this environment and nothing else.
export function hermeticGitEnv(path: string, home: string): HermeticGitEnv {
  return {
    PATH: path,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C',
  };
}

// The transport may add variables, never replace the ones that make git hermetic or point it elsewhere.
const PROTECTED = new Set([
  'PATH',
  'HOME',
  'GIT_CONFIG_NOSYSTEM',
  'GIT_CONFIG_GLOBAL',
  'GIT_TERMINAL_PROMPT',
  'LANG',
  'GIT_CEILING_DIRECTORIES',
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_CONFIG',
  'GIT_CONFIG_PARAMETERS',
  'GIT_CONFIG_COUNT',
]);

// The whole environment of one git run in the empty directory `home`: the hermetic variables, a ceiling
// at `ceiling` so repository discovery cannot climb out of `home` (into a checkout that holds TMPDIR,
// say, and its url.insteadOf), and the transport's own variables (e.g. GIT_SSH).
export function gitEnv(
  path: string,
  home: string,
  ceiling: string,
  transportEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  const bad = Object.keys(transportEnv).filter((k) => PROTECTED.has(k));
  if (bad.length > 0) throw new Error(`transportEnv may not set ${bad.join(', ')}: git's environment stays hermetic`);
  return { ...hermeticGitEnv(path, home), GIT_CEILING_DIRECTORIES: ceiling, ...transportEnv };
}
