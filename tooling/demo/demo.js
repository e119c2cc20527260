#!/usr/bin/env node
// Starts the mock broker and the runner (built), submits the sample task(s), prints the results,
// and keeps both running until Ctrl-C.
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..", "..")
const brokerMain = join(root, "apps", "mock-broker", "dist", "main.js")
const runnerMain = join(root, "apps", "runner", "dist", "main.js")

const portFree = (port) =>
  new Promise((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

const token = process.env.N8N_RUNNERS_AUTH_TOKEN ?? randomBytes(16).toString("hex")
const port = (await portFree(5679)) ? 5679 : 0
const children = []

const start = (label, main, args, env) => {
  const child = spawn(process.execPath, [main, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  const relay = (stream) => {
    let rest = ""
    stream.on("data", (chunk) => {
      const lines = (rest + chunk).split("\n")
      rest = lines.pop()
      for (const line of lines) {
        let text = line
        try {
          const entry = JSON.parse(line)
          text = `${entry.logLevel} ${entry.message}`
        } catch {
          // not a JSON log line
        }
        console.log(`  [${label}] ${text}`)
      }
    })
  }
  relay(child.stdout)
  relay(child.stderr)
  child.on("exit", (code) => {
    if (!stopping) {
      console.error(`The ${label} exited unexpectedly (code ${code}).`)
      stop(1)
    }
  })
  return child
}

let stopping = false
const stop = (code = 0) => {
  if (stopping) return
  stopping = true
  console.log("\nStopping the runner and the mock broker...")
  for (const child of children.toReversed()) child.kill("SIGTERM")
  Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.on("exit", r))))).then(() =>
    process.exit(code)
  )
}
process.on("SIGINT", () => stop(0))
process.on("SIGTERM", () => stop(0))

const broker = start("broker", brokerMain, ["--port", String(port)], { N8N_RUNNERS_AUTH_TOKEN: token })
const url = await new Promise((resolve) => {
  let seen = ""
  broker.stdout.on("data", (chunk) => {
    seen += chunk
    const match = /Mock broker listening on (http:\/\/[\d.:]+)/.exec(seen)
    if (match) resolve(match[1])
  })
})
start("runner", runnerMain, [], { N8N_RUNNERS_AUTH_TOKEN: token, N8N_RUNNERS_TASK_BROKER_URI: url })

let offered = []
for (let i = 0;; i++) {
  const runners = await (await fetch(`${url}/api/runners`)).json()
  offered = runners.flatMap((r) => r.types)
  if (runners.some((r) => r.openOffers > 0)) break
  if (i > 200) {
    console.error("The runner did not register within 20 seconds.")
    stop(1)
  }
  await new Promise((r) => setTimeout(r, 100))
}

const samples = [
  { language: "javascript", file: join(here, "sample.js"), items: join(here, "sample-items.json") },
  { language: "python", file: join(here, "sample.py"), items: join(here, "sample-items.json") }
].filter((sample) => {
  if (offered.includes(sample.language)) return true
  console.log(`\n(The runner does not offer ${sample.language} tasks on this machine; see its log above.)`)
  return false
})
for (const sample of samples) {
  const body = {
    taskType: sample.language,
    code: readFileSync(sample.file, "utf8"),
    items: JSON.parse(readFileSync(sample.items, "utf8"))
  }
  const outcome = await (await fetch(`${url}/api/tasks`, { method: "POST", body: JSON.stringify(body) })).json()
  console.log(
    `\n=== ${sample.language} sample (${relative(root, sample.file)}) -> ${outcome.status} in ${outcome.durationMs} ms`
  )
  console.log("console output:")
  for (const call of outcome.logs) console.log(`  ${call.join(" ")}`)
  console.log(outcome.status === "success" ? "result:" : "error:")
  console.log(JSON.stringify(outcome.result ?? outcome.error, null, 2).replace(/^/gm, "  "))
}

console.log(`
The mock broker (${url}) and the runner keep running. Open the playground in a browser:

  ${url}/

or submit more tasks:

  node apps/mock-broker/dist/main.js submit --url ${url} --type javascript --file ${
  relative(root, join(here, "sample.js"))
} --items ${relative(root, join(here, "sample-items.json"))}
  node apps/mock-broker/dist/main.js submit --url ${url} --type python --file ${
  relative(root, join(here, "sample.py"))
} --items ${relative(root, join(here, "sample-items.json"))}
  curl -s -X POST ${url}/api/tasks -d '{"taskType":"javascript","code":"return [{json: {hello: \\"world\\"}}]"}'

Press Ctrl-C to stop.`)
