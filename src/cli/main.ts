import { runCli } from './run.ts';

// `branch-follower <verb>`: the process entry; everything else is testable without a process.
process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env },
  'branch-follower',
);
