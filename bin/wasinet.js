#!/usr/bin/env node
// The wasinet command line: `wasinet replay FILE` (see docs/replay.md).
import('../build/host/cli.js').then((cli) => cli.main(process.argv.slice(2))).then((code) => { process.exitCode = code; });
