#!/usr/bin/env node
// Thin shim: the CLI is compiled to lib/ so that a no-op build pays for no TypeScript loader.
import {main} from '../lib/cli.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
