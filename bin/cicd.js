#!/usr/bin/env node
// `cicd branch-follower <verb>`: the same CLI under the UniDesk path.
import '../build/cicd-branch-follower.js';
