#!/usr/bin/env node
// Runs the bundle of the CLI (npm run build; committed in build/); requires Node >= 22.19.
import '../build/branch-follower.js';
