#!/usr/bin/env node
// CPU profile of a runner under one-at-a-time trivial tasks: where a task's time goes.
//
//   node tooling/bench/profile.mjs [--runner ours|n8n] [--reuse] [--tasks 400] [--pause 20] [--concurrency 1]
//                                  [--interval 100] [--no-profile]
//
// Starts a mock broker and the runner with `--cpu-prof`, submits the tasks through the task API,
// stops the runner (SIGTERM: the profile is written on the way out) and prints the functions with
// the most self time, and the time per source file. Profiles stay in `.cache/profiles/`.
import { ensureOfficialRunner } from "@taskrunner/compat"
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { startProcess } from "../lib/processes.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : process.argv[at + 1]
}
const kind = arg("runner", "ours")
// `--env NAME=value` (repeatable): extra environment for our runner.
const extraEnv = Object.fromEntries(
  process.argv.flatMap((a, i) => (a === "--env" ? [process.argv[i + 1].split(/=(.*)/s).slice(0, 2)] : []))
)
const reuse = process.argv.includes("--reuse")
const tasks = Number(arg("tasks", "400"))
const pauseMs = Number(arg("pause", "20"))
const token = "profile-token"
const dir = join(root, ".cache", "profiles", `${kind}${reuse ? "-reuse" : ""}`)
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })

const started = []
process.on("exit", () => {
  for (const child of started) {
    try {
      process.kill(-child.pid, "SIGKILL")
    } catch {
      // gone
    }
  }
})
const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" }

const { match } = await startProcess(
  process.execPath,
  [join(root, "apps/mock-broker/dist/main.js"), "--port", "0"],
  {
    env: { ...env, N8N_RUNNERS_AUTH_TOKEN: token, N8N_RUNNERS_MOCK_RATE_LIMIT: "0" },
    pattern: /Mock broker listening on (http:\/\/[\d.:]+)/,
    what: "the mock broker",
    started,
    detached: true
  }
)
const url = match[1]
const grant = async () =>
  (await (await fetch(`${url}/runners/auth`, { method: "POST", body: JSON.stringify({ token }) })).json()).data.token

// `--no-profile` only times the tasks (the profiler's sampling slows every step a little).
const profiling = !process.argv.includes("--no-profile")
const profileFlags = profiling
  ? ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${arg("interval", "100")}`]
  : []
const runnerEnv = kind === "n8n"
  ? { ...env, N8N_RUNNERS_GRANT_TOKEN: await grant(), N8N_RUNNERS_TASK_BROKER_URI: url }
  : {
    ...env,
    N8N_RUNNERS_AUTH_TOKEN: token,
    N8N_RUNNERS_TASK_BROKER_URI: url,
    ...(reuse ? { N8N_RUNNERS_WORKER_REUSE: "100000" } : {}),
    ...extraEnv
  }
const { child: runner } = await startProcess(
  process.execPath,
  [...profileFlags, kind === "n8n" ? ensureOfficialRunner() : join(root, "apps/runner/dist/main.js")],
  { env: runnerEnv, what: "the runner", started, detached: true }
)

const submit = async () => {
  const res = await fetch(`${url}/api/tasks`, {
    method: "POST",
    body: JSON.stringify({ taskType: "javascript", code: "return items", items: [{ json: { n: 1 } }] })
  })
  const answer = await res.json()
  if (answer.status !== "success") throw new Error(JSON.stringify(answer))
}
for (let i = 0; i < 200; i++) {
  const runners = await (await fetch(`${url}/api/runners`)).json()
  if (runners.some((r) => r.openOffers > 0)) break
  await new Promise((resolve) => setTimeout(resolve, 50))
}
for (let i = 0; i < 10; i++) await submit()
/** CPU seconds used so far by `pid` and its descendants (from /proc). */
const treeCpu = (pid) => {
  const parents = new Map()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      parents.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) })
    } catch {
      // gone
    }
  }
  let ticks = 0
  for (const [member, info] of parents) {
    for (let at = member; at !== undefined && at > 1; at = parents.get(at)?.ppid) {
      if (at === pid) {
        ticks += info.ticks
        break
      }
    }
  }
  return ticks / 100
}
const cpuBefore = treeCpu(runner.pid)
// The profile's clock and hrtime are both the monotonic clock: only samples of this window count.
const windowStart = Number(process.hrtime.bigint() / 1000n)
const begin = performance.now()
const samples = []
// `--concurrency N` keeps N tasks in flight (saturation) instead of one at a time.
const inFlight = Number(arg("concurrency", "1"))
let next = 0
await Promise.all(Array.from({ length: inFlight }, async () => {
  while (next < tasks) {
    next++
    const t = performance.now()
    await submit()
    samples.push(performance.now() - t)
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs))
  }
}))
const wall = performance.now() - begin
const windowEnd = Number(process.hrtime.bigint() / 1000n)
// Exited children's time is not counted (only live processes): in fresh mode this is a lower bound.
const cpuPerTask = ((treeCpu(runner.pid) - cpuBefore) / tasks) * 1000
samples.sort((a, b) => a - b)
console.log(
  `${tasks} tasks: p50 ${samples[Math.floor(tasks / 2)].toFixed(2)} ms, p95 ${
    samples[Math.floor(tasks * 0.95)].toFixed(2)
  } ms, wall ${(wall / 1000).toFixed(1)} s, runner tree CPU ${cpuPerTask.toFixed(2)} ms/task`
)

runner.kill("SIGTERM")
await new Promise((resolve) => runner.on("exit", resolve))
if (!profiling) process.exit(0)
const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"))
if (file === undefined) throw new Error(`no profile written in ${dir}`)
const profile = JSON.parse(readFileSync(join(dir, file), "utf8"))

// Self time per node: samples x their intervals.
const self = new Map()
const deltas = profile.timeDeltas
let at = profile.startTime
for (let i = 0; i < profile.samples.length; i++) {
  at += deltas[i]
  if (at < windowStart || at > windowEnd) continue
  const id = profile.samples[i]
  self.set(id, (self.get(id) ?? 0) + (deltas[i + 1] ?? 0))
}
const byFunction = new Map()
const byFile = new Map()
let total = 0
for (const node of profile.nodes) {
  const us = self.get(node.id) ?? 0
  const { functionName, url: source, lineNumber } = node.callFrame
  if (functionName === "(idle)") continue
  total += us
  const shortFile = source.replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, "").replace(root, "")
  const key = `${functionName || "(anonymous)"} ${shortFile}:${lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  const fileKey = shortFile === "" ? functionName : shortFile.split("/").slice(0, 3).join("/")
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us)
}
const top = (map, count) =>
  [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, us]) =>
    `${(us / 1000).toFixed(0).padStart(7)} ms ${(us / tasks).toFixed(1).padStart(7)} µs/task  ${key}`
  ).join("\n")
console.log(
  `\nbusy ${(total / 1000).toFixed(0)} ms of ${(wall / 1000).toFixed(1)} s = ${(total / tasks).toFixed(0)} µs/task`
)
console.log(`\nby file:\n${top(byFile, 25)}`)
console.log(`\nby function (self):\n${top(byFunction, 40)}`)
console.log(`\nprofile: ${join(dir, file)}`)
process.exit(0)
