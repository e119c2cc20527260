#!/usr/bin/env node
import { ensureOfficialRunner, officialRunnerVersion } from "./index.js"

const start = ensureOfficialRunner()
console.log(`@n8n/task-runner ${officialRunnerVersion} is ready: ${start}`)
