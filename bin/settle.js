#!/usr/bin/env node
// The one executable. The TypeScript is compiled to dist/ on `npm ci` (the prepare script),
// so starting settle is plain Node with no transpiler in the way.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
