#!/usr/bin/env node
import './require-node.ts';

const { startCli } = await import('./start-cli.ts');
const { argoCli } = await import('./argo-cli.ts');
await startCli(argoCli);
