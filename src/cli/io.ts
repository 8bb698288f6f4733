/** Where a verb writes; tests inject their own streams to capture output. */
interface OutStream {
  write(chunk: string): unknown;
}

// Everything a verb may touch outside its arguments: streams, the working directory, the clock.
export interface CliIo {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly cwd: string;
  /** The environment, for kubectl's KUBECONFIG only; nothing else is read from it. */
  readonly env: NodeJS.ProcessEnv;
}
