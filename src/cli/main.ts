#!/usr/bin/env node
// The `cnn-purify` executable: runs the dispatcher in run.ts and exits with its code.
import { main } from "./run.js";

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
