#!/usr/bin/env -S GLIBC_TUNABLES=${GLIBC_TUNABLES}:glibc.malloc.hugetlb=1 node
// Thin launcher: the CLI is compiled TypeScript in dist/ (npm install runs the build). The shebang asks
// glibc for huge pages on large blocks (engine/dev/huge-pages.ts, docs/platform.md "Node memory").
import { runCli } from '../dist/engine/cli/main.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
});
process.exitCode = code;
