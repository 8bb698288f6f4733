// The one line-length rule Biome's formatter cannot keep by itself: it wraps code at 120 columns
// but never breaks a comment, a string or a regular expression. No line of any tracked source file
// may pass MAX columns; prints every one that does, with its file and line, and exits 1. Generated
// files (dist/, the bundle in build/) are not sources.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 160;
const files = execFileSync('git', ['ls-files', '*.ts', '*.js'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '' && !f.startsWith('dist/') && !f.startsWith('build/'));
const long = files.flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (line.length > MAX ? [`${file}:${i + 1}: ${line.length} columns (at most ${MAX})`] : [])),
);
for (const l of long) console.error(l);
if (long.length > 0) process.exitCode = 1;
else console.log(`line length: ${files.length} files, no line over ${MAX} columns`);
