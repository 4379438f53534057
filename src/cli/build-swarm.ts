#!/usr/bin/env node
import './require-node.ts';

const { startCli } = await import('./start-cli.ts');
const { buildSwarmCli } = await import('./build-swarm-cli.ts');
await startCli(buildSwarmCli);
