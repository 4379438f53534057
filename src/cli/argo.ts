#!/usr/bin/env node
// A hung-up terminal must not stop a run, not even while Node.js is still loading the modules below (that
// takes half a second on a slow machine): ignore SIGHUP first. start-cli keeps ignoring it.
process.on('SIGHUP', () => undefined);
await import('./require-node.ts');

const { startCli } = await import('./start-cli.ts');
const { argoCli } = await import('./argo-cli.ts');
await startCli(argoCli);
