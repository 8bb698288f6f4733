/** The whole environment of a git child process: six fixed variables, nothing inherited. */
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
