#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/ (npm install runs the build).
import { runCli } from '../dist/engine/cli/main.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
});
process.exitCode = code;
