import { runCli } from './run.ts';

// `cicd branch-follower <verb>`: the same verbs under the UniDesk path.
process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env },
  'cicd',
);
