#!/usr/bin/env node
import './require-node.ts';

const { startCli } = await import('./start-cli.ts');
const { apkgCli } = await import('./apkg-cli.ts');
await startCli(apkgCli);
