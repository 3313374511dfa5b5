#!/usr/bin/env node
// Launcher for the compiled CLI; a committed file so npm can link the `weir` bin at install time.
await import("../dist/main.js");
