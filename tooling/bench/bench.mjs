#!/usr/bin/env node
// Side-by-side benchmarks: our runner and n8n's official `@n8n/task-runner` (from the compat cache),
// each behind its own mock broker, driven through the task API in alternating runs.
//
//   pnpm bench                 full run (a few minutes): table on stdout, bench-results/*.json and *.svg
//   pnpm bench --smoke         tiny iteration counts (CI: keeps the tool from rotting)
//
// While optimising (no files are written then): `--only latency,throughput,payload,python,analyzer,spawn`
// runs some measures; `--skip-fresh` leaves out ours with a fresh process per task; environment
// `BENCH_LATENCY_TASKS=<n>` sets the latency sample count, `BENCH_BASELINE=<checkout>` adds the (built)
// runner of another checkout as `baseline` (worker reuse) and `BENCH_VARIANTS='{"name":{"ENV":"value"}}'`
// adds configurations of ours to the comparison. `tooling/bench/profile.mjs` profiles one runner.
//
// What it measures: 1. trivial-task latency one at a time; 2. throughput at saturation (ours with a
// fresh process per task, ours with worker reuse, n8n's); 3. a 50 000-item payload round trip (time
// and peak RSS of the runner's process tree); 4. Python per-task overhead (fork server, strict mode);
// 5. analyzer verdicts (cold and cached, 1/10/100 KB); 6. the machine's spawn limit (`node -e 0`).
import { ensureOfficialRunner, officialRunnerVersion } from "@taskrunner/compat"
import { spawn } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { startProcess } from "../lib/processes.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const smoke = process.argv.includes("--smoke")
// `--only latency,throughput` runs some of the measures (while optimising); output files are then not written.
const onlyArg = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length) ??
  process.argv[process.argv.indexOf("--only") + 1]
const only = process.argv.some((arg) => arg.startsWith("--only")) ? new Set(onlyArg.split(",")) : undefined
const wanted = (part) => only === undefined || only.has(part)
const outDir = join(root, "bench-results")
const token = "bench-token"
const concurrency = 4
const counts = smoke
  ? {
    latency: 5,
    throughputSeconds: 1,
    rounds: 1,
    payloadItems: 2000,
    payloadRuns: 1,
    python: 5,
    spawn: 4,
    analyzer: 3
  }
  : {
    latency: Number(process.env["BENCH_LATENCY_TASKS"] ?? 200),
    throughputSeconds: 6,
    rounds: 3,
    payloadItems: 50_000,
    payloadRuns: 3,
    python: 150,
    spawn: 40,
    analyzer: 50
  }

const processes = []
const cleanup = () => {
  for (const child of processes) {
    try {
      process.kill(-child.pid, "SIGKILL")
    } catch {
      child.kill("SIGKILL")
    }
  }
}
process.on("exit", cleanup)
process.on("SIGINT", () => process.exit(130))

// ---------------------------------------------------------------------------------------------
// Processes

const start = (args, env, pattern, what) =>
  startProcess(process.execPath, args, {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    pattern,
    what,
    started: processes,
    detached: true
  })

const startBroker = async () => {
  const { match } = await start(
    [join(root, "apps/mock-broker/dist/main.js"), "--port", "0"],
    {
      N8N_RUNNERS_AUTH_TOKEN: token,
      N8N_RUNNERS_MOCK_RATE_LIMIT: "0",
      N8N_RUNNERS_MAX_PAYLOAD: String(1024 * 1024 * 1024),
      N8N_RUNNERS_TASK_TIMEOUT: "120"
    },
    /Mock broker listening on (http:\/\/[\d.:]+)/,
    "the mock broker"
  )
  return match[1]
}

const waitForRunner = async (url, type = "javascript") => {
  for (let i = 0; i < 600; i++) {
    const runners = await (await fetch(`${url}/api/runners`)).json()
    if (runners.some((r) => r.types.includes(type) && r.openOffers >= concurrency)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`no ${type} runner with ${concurrency} offers at ${url}`)
}

const grant = async (url) => {
  const res = await fetch(`${url}/runners/auth`, { method: "POST", body: JSON.stringify({ token }) })
  return (await res.json()).data.token
}

/** A runner behind its own broker: `ours` (with extra env) or n8n's official one. */
const startRunner = async (kind, env = {}) => {
  const url = await startBroker()
  const common = { N8N_RUNNERS_MAX_CONCURRENCY: String(concurrency), N8N_RUNNERS_TASK_TIMEOUT: "120" }
  const started = kind === "n8n"
    ? await start(
      [ensureOfficialRunner()],
      { ...common, N8N_RUNNERS_GRANT_TOKEN: await grant(url), N8N_RUNNERS_TASK_BROKER_URI: url, ...env },
      undefined,
      "n8n's runner"
    )
    : await start(
      [join(env.BENCH_CHECKOUT ?? root, "apps/runner/dist/main.js")],
      {
        ...common,
        N8N_RUNNERS_AUTH_TOKEN: token,
        N8N_RUNNERS_TASK_BROKER_URI: url,
        N8N_RUNNERS_MAX_PAYLOAD: String(1024 * 1024 * 1024),
        ...env
      },
      undefined,
      "our runner"
    )
  const python = env.N8N_RUNNERS_TASK_TYPES === "python"
  await waitForRunner(url, python ? "python" : "javascript")
  // Let pools fill and first-task costs pass before measuring.
  await submit(
    url,
    python ? { taskType: "python", code: "return _items" } : { taskType: "javascript", code: "return items" }
  )
  await new Promise((resolve) => setTimeout(resolve, 1500))
  return { url, pid: started.child.pid }
}

const submit = async (url, body) => {
  const res = await fetch(`${url}/api/tasks`, { method: "POST", body: JSON.stringify(body) })
  const answer = await res.json()
  if (answer.status !== "success") throw new Error(`task failed: ${JSON.stringify(answer).slice(0, 500)}`)
  return answer
}

// ---------------------------------------------------------------------------------------------
// Statistics

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const summary = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    n: sorted.length,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    mean: sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length)
  }
}
const ms = (value) => (value === undefined ? "-" : value < 10 ? value.toFixed(2) : value.toFixed(1))
const timed = async (work) => {
  const begin = performance.now()
  await work()
  return performance.now() - begin
}

/**
 * Memory of `pid` and all its descendants, from /proc: RSS summed (a page shared by several
 * processes — the node binary, say — counts once per process) and PSS summed (each shared page
 * split between its sharers: what the tree really occupies).
 */
const treeMemory = (pid) => {
  let rss = 0
  let pss = 0
  for (const member of treePids(pid)) {
    try {
      const rollup = readFileSync(`/proc/${member}/smaps_rollup`, "utf8")
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) * 1024
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) * 1024
    } catch {
      // gone, or not ours to read
    }
  }
  return { rss, pss }
}

const treePids = (pid) => {
  const children = new Map()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const ppid = Number(fields[1])
      if (!children.has(ppid)) children.set(ppid, [])
      children.get(ppid).push(Number(entry))
    } catch {
      // gone
    }
  }
  const members = []
  const stack = [pid]
  while (stack.length > 0) {
    const next = stack.pop()
    members.push(next)
    stack.push(...(children.get(next) ?? []))
  }
  return members
}

// ---------------------------------------------------------------------------------------------
// The benchmarks

const trivial = { taskType: "javascript", code: "return items", items: [{ json: { n: 1 } }] }

/** CPU time (ticks) used so far by `pid` and its descendants. */
const treeCpuTicks = (pid) => {
  let ticks = 0
  for (const member of treePids(pid)) {
    try {
      const stat = readFileSync(`/proc/${member}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // gone
    }
  }
  return ticks
}

/**
 * Waits until none of the runners' process trees used CPU for 50 ms (at most 3 s): our pool starts
 * the next process after a task, which takes longer than a fixed pause on a slow machine, and must
 * not land in the next measurement.
 */
const untilIdle = async (runners) => {
  const deadline = Date.now() + 3000
  let before = runners.map((r) => treeCpuTicks(r.pid))
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const now = runners.map((r) => treeCpuTicks(r.pid))
    if (now.every((ticks, i) => ticks === before[i])) return
    before = now
  }
}

/**
 * 1. One task at a time, alternating between the runners, each once every runner is idle: tasks
 * that arrive one by one (a user clicking "execute"), and no runner's background work (our pool
 * starting the next process) lands in another runner's measurement on this 2-core machine.
 */
const latency = async (runners) => {
  const samples = Object.fromEntries(runners.map((r) => [r.name, []]))
  for (let i = 0; i < counts.latency; i++) {
    for (const runner of i % 2 === 0 ? runners : [...runners].reverse()) {
      await untilIdle(runners)
      samples[runner.name].push(await timed(() => submit(runner.url, trivial)))
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, summary(s)]))
}

/**
 * 2. Tasks per second with `concurrency` in flight, rounds alternating between the runners. The
 * spawn limit (6.) is measured in every round too: on a machine whose speed drifts by 10-25 % over
 * minutes, a fraction of a limit measured at another time says little.
 */
const throughput = async (runners) => {
  const rates = Object.fromEntries(runners.map((r) => [r.name, []]))
  const spawnRates = []
  for (let round = 0; round < counts.rounds; round++) {
    spawnRates.push((await spawnLimit()).startsPerSecond)
    for (const runner of round % 2 === 0 ? runners : [...runners].reverse()) {
      // A fixed time per round, not a fixed count: a count that is a fair sample for a fresh process
      // per task (10/s) is over in a second with worker reuse (150/s). Tasks finished in the first
      // second are not counted: the steady state is measured, not a burst served by a full pool.
      const begin = performance.now()
      const from = begin + 1000
      const until = from + counts.throughputSeconds * 1000
      let counted = 0
      const worker = async () => {
        while (performance.now() < until) {
          await submit(runner.url, trivial)
          const now = performance.now()
          if (now >= from && now <= until) counted++
        }
      }
      await Promise.all(Array.from({ length: concurrency }, worker))
      rates[runner.name].push(counted / counts.throughputSeconds)
      // Let the runner's pool refill before the next one is measured.
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  return {
    runners: Object.fromEntries(Object.entries(rates).map(([name, r]) => [name, { tasksPerSecond: median(r) }])),
    spawn: { startsPerSecond: median(spawnRates), rounds: spawnRates }
  }
}

/** 3. A big all-items round trip: time, and peak RSS of the runner's process tree. */
const payload = async (runners) => {
  const items = Array.from({ length: counts.payloadItems }, (_, n) => ({
    json: { id: n, name: `customer-${n}`, email: `c${n}@example.com`, note: "x".repeat(400), tags: ["a", "b"] }
  }))
  const bytes = Buffer.byteLength(JSON.stringify(items))
  const body = { taskType: "javascript", code: "return $input.all()", items }
  const out = {}
  for (const runner of runners) {
    const idle = treeMemory(runner.pid)
    out[runner.name] = { times: [], peakRss: 0, peakPss: 0, idleRss: idle.rss, idlePss: idle.pss }
  }
  for (let run = 0; run < counts.payloadRuns; run++) {
    for (const runner of run % 2 === 0 ? runners : [...runners].reverse()) {
      const peak = { rss: 0, pss: 0 }
      const sample = () => {
        const now = treeMemory(runner.pid)
        peak.rss = Math.max(peak.rss, now.rss)
        peak.pss = Math.max(peak.pss, now.pss)
      }
      const sampler = setInterval(sample, 10)
      out[runner.name].times.push(await timed(() => submit(runner.url, body)))
      clearInterval(sampler)
      out[runner.name].peakRss = Math.max(out[runner.name].peakRss, peak.rss)
      out[runner.name].peakPss = Math.max(out[runner.name].peakPss, peak.pss)
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
  return {
    items: counts.payloadItems,
    bytes,
    runners: Object.fromEntries(
      Object.entries(out).map((
        [name, r]
      ) => [name, {
        ...summary(r.times),
        peakRssMb: r.peakRss / 2 ** 20,
        peakPssMb: r.peakPss / 2 ** 20,
        idleRssMb: r.idleRss / 2 ** 20,
        idlePssMb: r.idlePss / 2 ** 20
      }])
    )
  }
}

/** 4. Python through our runner: fork server and strict mode (n8n's Python runner needs PyPI). */
const python = async () => {
  const out = {}
  for (const [name, strict] of [["fork server", "false"], ["strict", "true"]]) {
    const runner = await startRunner("ours", { N8N_RUNNERS_TASK_TYPES: "python", N8N_RUNNERS_PYTHON_STRICT: strict })
    const body = { taskType: "python", code: "return _items", items: [{ json: { n: 1 } }] }
    await submit(runner.url, body)
    const samples = []
    for (let i = 0; i < counts.python; i++) samples.push(await timed(() => submit(runner.url, body)))
    out[name] = summary(samples)
    stop(runner)
  }
  return out
}

/** 5. The analyzer as a library: cold (new code each time) and cached verdicts. */
const analyzer = async () => {
  const { analyzeJavaScript, defaultJsPolicy, makeJsAnalyzer } = await import(
    pathToFileURL(join(root, "packages/analyzer/dist/index.js")).href
  )
  const snippet = (kb, salt) => {
    const lines = [`const base${salt} = $input.all()`]
    while (lines.join("\n").length < kb * 1024) {
      const n = lines.length
      lines.push(`const v${n} = base${salt}.map((item) => ({ json: { ...item.json, k${n}: item.json.n * ${n} } }))`)
    }
    lines.push(`return base${salt}`)
    return lines.join("\n")
  }
  const out = {}
  for (const kb of [1, 10, 100]) {
    const cold = []
    for (let i = 0; i < counts.analyzer; i++) {
      const code = snippet(kb, `${kb}_${i}_${Math.random().toString(36).slice(2)}`)
      cold.push(await timed(async () => analyzeJavaScript(code, defaultJsPolicy)))
    }
    // Cached: the runner's analyzer (LRU keyed by a hash of code and policy), same snippet again.
    const cachedAnalyzer = makeJsAnalyzer(defaultJsPolicy)
    const code = snippet(kb, `${kb}_cached`)
    cachedAnalyzer(code)
    const cached = []
    for (let i = 0; i < counts.analyzer; i++) cached.push(await timed(async () => cachedAnalyzer(code)))
    out[`${kb} KB`] = { cold: summary(cold), cached: summary(cached) }
  }
  return out
}

/** 6. `node -e 0`, `concurrency` at a time: the machine's limit for starting processes. */
const spawnLimit = async () => {
  const once = () =>
    new Promise((resolve) => spawn(process.execPath, ["-e", "0"], { stdio: "ignore" }).on("close", resolve))
  const total = counts.spawn * concurrency
  let next = 0
  const elapsed = await timed(() =>
    Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++
        await once()
      }
    }))
  )
  return { startsPerSecond: total / (elapsed / 1000) }
}

const stop = (runner) => {
  for (const child of processes) {
    if (child.pid === runner.pid) {
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // gone
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const svgChart = (results) => {
  const bars = [
    ...Object.entries(results.latency).map(([name, s]) => ({
      group: "trivial task p50 (ms, lower is better)",
      name,
      value: s.p50
    })),
    ...Object.entries(results.throughput).map(([name, t]) => ({
      group: `throughput at ${concurrency} in flight (tasks/s, higher is better)`,
      name,
      value: t.tasksPerSecond
    })),
    ...Object.entries(results.payload.runners).map(([name, p]) => ({
      group: `${results.payload.items} items round trip p50 (ms)`,
      name,
      value: p.p50
    })),
    ...Object.entries(results.payload.runners).map(([name, p]) => ({
      group: "payload peak memory of the runner's process tree, PSS (MB)",
      name,
      value: p.peakPssMb
    }))
  ]
  const groups = [...new Set(bars.map((b) => b.group))]
  const colors = { ours: "#2f7ed8", "ours (reuse)": "#8bbc21", "n8n": "#f28f43" }
  const width = 760
  const rowHeight = 22
  let y = 40
  const parts = [
    `<text x="10" y="22" font-size="15" font-weight="bold">taskrunner vs @n8n/task-runner ${officialRunnerVersion} — ${results.machine}</text>`
  ]
  for (const group of groups) {
    const inGroup = bars.filter((b) => b.group === group)
    const max = Math.max(...inGroup.map((b) => b.value), 1e-9)
    parts.push(`<text x="10" y="${y + 14}" font-size="13">${group}</text>`)
    y += 20
    for (const bar of inGroup) {
      const length = Math.max(1, (bar.value / max) * 460)
      parts.push(
        `<text x="20" y="${y + 14}" font-size="12">${bar.name}</text>`,
        `<rect x="140" y="${y + 3}" width="${length.toFixed(1)}" height="${rowHeight - 8}" fill="${
          colors[bar.name] ?? "#888"
        }"/>`,
        `<text x="${(150 + length).toFixed(1)}" y="${y + 14}" font-size="12">${ms(bar.value)}</text>`
      )
      y += rowHeight
    }
    y += 10
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>\n`
}

const printTable = (title, header, rows) => {
  console.log(`\n${title}`)
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join("  ")
  console.log(line(header))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const row of rows) console.log(line(row))
}

const main = async () => {
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${
    Math.round(totalmem() / 2 ** 30)
  } GiB, Node ${process.version}`
  console.log(`== benchmarks${smoke ? " (smoke)" : ""} on ${machine}`)
  const results = { machine, smoke, concurrency, n8nRunner: officialRunnerVersion, date: new Date().toISOString() }
  if (wanted("latency") || wanted("throughput") || wanted("payload")) {
    const ours = { name: "ours", ...(await startRunner("ours")) }
    const reuse = { name: "ours (reuse)", ...(await startRunner("ours", { N8N_RUNNERS_WORKER_REUSE: "1000" })) }
    const n8n = { name: "n8n", ...(await startRunner("n8n")) }
    // `--skip-fresh` leaves out ours with a fresh process per task (while optimising the rest).
    const runners = process.argv.includes("--skip-fresh") ? [reuse, n8n] : [ours, reuse, n8n]
    const baseline = process.env["BENCH_BASELINE"]
    if (baseline !== undefined) {
      runners.push({
        name: "baseline",
        ...(await startRunner("ours", { N8N_RUNNERS_WORKER_REUSE: "1000", BENCH_CHECKOUT: baseline }))
      })
    }
    for (const [name, env] of Object.entries(JSON.parse(process.env["BENCH_VARIANTS"] ?? "{}"))) {
      runners.push({ name, ...(await startRunner("ours", env)) })
    }
    if (wanted("latency")) results.latency = await latency(runners)
    if (wanted("throughput")) {
      const measured = await throughput(runners)
      results.throughput = measured.runners
      results.spawn = measured.spawn
    }
    if (wanted("payload")) results.payload = await payload([ours, n8n])
    for (const runner of runners) stop(runner)
  }
  if (wanted("python")) results.python = await python()
  if (wanted("analyzer")) results.analyzer = await analyzer()
  if (wanted("spawn") && results.spawn === undefined) results.spawn = await spawnLimit()

  if (results.latency) {
    printTable(
      "1. trivial JS task, one at a time, end to end through the task API (ms)",
      ["runner", "p50", "p95", "p99", "mean", "vs n8n p50"],
      Object.entries(results.latency).map((
        [name, s]
      ) => [name, ms(s.p50), ms(s.p95), ms(s.p99), ms(s.mean), `${(s.p50 / results.latency.n8n.p50).toFixed(2)}x`])
    )
  }
  if (results.throughput) {
    printTable(
      `2. throughput, ${concurrency} tasks in flight (tasks/s; spawn limit ${
        results.spawn.startsPerSecond.toFixed(1)
      }/s)`,
      ["runner", "tasks/s", "vs n8n", "vs spawn limit"],
      Object.entries(results.throughput).map(([name, t]) => [
        name,
        t.tasksPerSecond.toFixed(1),
        `${(t.tasksPerSecond / results.throughput.n8n.tasksPerSecond).toFixed(2)}x`,
        `${(t.tasksPerSecond / results.spawn.startsPerSecond).toFixed(2)}x`
      ])
    )
  }
  if (results.payload) {
    printTable(
      `3. ${results.payload.items} items (${(results.payload.bytes / 2 ** 20).toFixed(1)} MB) all-items round trip`,
      ["runner", "p50 ms", "max ms", "peak RSS MB", "peak PSS MB", "idle RSS MB", "idle PSS MB"],
      Object.entries(results.payload.runners).map((
        [name, p]
      ) => [
        name,
        ms(p.p50),
        ms(p.p99),
        p.peakRssMb.toFixed(0),
        p.peakPssMb.toFixed(0),
        p.idleRssMb.toFixed(0),
        p.idlePssMb.toFixed(0)
      ])
    )
  }
  if (results.python) {
    printTable(
      "4. Python `return _items` end to end through our runner (ms)",
      ["mode", "p50", "p95", "p99"],
      Object.entries(results.python).map(([name, s]) => [name, ms(s.p50), ms(s.p95), ms(s.p99)])
    )
  }
  if (results.analyzer) {
    printTable(
      "5. JavaScript analyzer verdicts (ms)",
      ["size", "cold p50", "cold p95", "cached p50", "cached p95"],
      Object.entries(results.analyzer).map((
        [name, a]
      ) => [
        name,
        ms(a.cold.p50),
        ms(a.cold.p95),
        (a.cached.p50 * 1000).toFixed(1) + " µs",
        (a.cached.p95 * 1000).toFixed(1) + " µs"
      ])
    )
  }
  if (results.spawn) {
    console.log(
      `\n6. spawn limit: node -e 0, ${concurrency} at a time: ${results.spawn.startsPerSecond.toFixed(1)} starts/s${
        results.spawn.rounds === undefined
          ? ""
          : ` (median of one run per throughput round: ${results.spawn.rounds.map((r) => r.toFixed(1)).join(", ")})`
      }`
    )
  }

  if (only !== undefined) {
    console.log("\n== partial run (--only): no files written")
    cleanup()
    process.exit(0)
  }
  mkdirSync(outDir, { recursive: true })
  const stem = smoke ? "smoke" : "latest"
  writeFileSync(join(outDir, `${stem}.json`), JSON.stringify(results, null, 2) + "\n")
  writeFileSync(join(outDir, `${stem}.svg`), svgChart(results))
  console.log(`\n== wrote ${join("bench-results", `${stem}.json`)} and ${join("bench-results", `${stem}.svg`)}`)
  cleanup()
  process.exit(0)
}

main().catch((error) => {
  console.error(`== bench FAILED: ${error instanceof Error ? error.stack : String(error)}`)
  cleanup()
  process.exit(1)
})
