import { fileURLToPath } from 'node:url';

// A script the CLI starts as a process of its own, by path (the spawn helper, the CONNECT tunnel):
// `<name>.ts` beside the calling module when the CLI runs from its TypeScript sources, `<name>.js`
// beside the calling chunk when it runs from the bundle (build/, where every entry point lies flat).
export function scriptBeside(moduleUrl: string, name: string): string {
  return fileURLToPath(new URL(`./${name}${moduleUrl.endsWith('.ts') ? '.ts' : '.js'}`, moduleUrl));
}
