/** Where a verb writes; tests inject their own streams to capture output. */
interface OutStream {
  write(chunk: string): unknown;
  /** True for a terminal (Node's streams say so); colour is used only there. */
  readonly isTTY?: boolean;
}

// Everything a verb may touch outside its arguments: streams, the working directory, the clock.
export interface CliIo {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly cwd: string;
  /** The environment, for kubectl's KUBECONFIG and the terminal's NO_COLOR and TERM only. */
  readonly env: NodeJS.ProcessEnv;
  /** Ends a command that watches, as Ctrl-C does; without it, SIGINT and SIGTERM of this process do. */
  readonly interrupt?: AbortSignal;
}
