#!/usr/bin/env node
// Runs the TypeScript sources directly (Node 22 strips types); requires Node >= 22.19.
import '../src/cli/main.ts';
