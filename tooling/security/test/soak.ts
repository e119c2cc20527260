import { expect } from "@effect/vitest"
import {
  descendants,
  descriptorTargets,
  openDescriptors,
  rssOf,
  runners,
  sleep,
  startBroker,
  startRunner,
  submit
} from "./harness.js"
import type { Outcome } from "./harness.js"

/**
 * The soak: `total` tasks, mixed (JavaScript and Python, successes, errors, console output and a
 * few timeouts), kept `inFlight` at a time against a runner with max concurrency 5. It checks every
 * answer, and between the checkpoint (task `checkpoint`) and the end: the runner's RSS, its child
 * processes and its open descriptors, each measured once the runner has been idle for a moment.
 * Offers plus running tasks stay within n8n's formula (5 per task type) throughout.
 */

export interface SoakReport {
  readonly tasks: number
  readonly seconds: number
  readonly rssAtCheckpointMb: number
  readonly rssAtEndMb: number
  readonly rssGrowth: number
  readonly processesAtCheckpoint: number
  readonly processesAtEnd: number
  readonly descriptorsAtCheckpoint: number
  readonly descriptorsAtEnd: number
  readonly mostHeld: number
  readonly outcomes: Readonly<Record<string, number>>
}

const maxConcurrency = 5
const taskTypes = 2

interface Kind {
  readonly name: string
  readonly body: (n: number) => Record<string, unknown>
  readonly check: (outcome: Outcome, n: number) => void
}

const kinds: ReadonlyArray<Kind> = [
  {
    name: "js",
    body: (n) => ({
      taskType: "javascript",
      code: "return $input.all().map(i => ({ json: { n: i.json.n * 2 } }))",
      items: [{ json: { n } }]
    }),
    check: (o, n) => expect(o.result).toEqual([{ json: { n: n * 2 } }])
  },
  {
    name: "js-console",
    body: (n) => ({
      taskType: "javascript",
      code: "console.log('item', $json.n)\nreturn [{ json: { seen: $json.n } }]",
      items: [{ json: { n } }]
    }),
    check: (o, n) => {
      expect(o.result).toEqual([{ json: { seen: n } }])
      expect(o.logs).toEqual([["'item'", String(n)]])
    }
  },
  {
    name: "js-error",
    body: (n) => ({ taskType: "javascript", code: "throw new Error('planned ' + $json.n)", items: [{ json: { n } }] }),
    check: (o, n) => expect(String(o.error?.["message"])).toMatch(new RegExp(`^planned ${n} \\[line 1\\]`))
  },
  {
    name: "python",
    body: (n) => ({
      taskType: "python",
      code: "return [{'json': {'n': i['json']['n'] + 1}} for i in _items]",
      items: [{ json: { n } }]
    }),
    check: (o, n) => expect(o.result).toEqual([{ json: { n: n + 1 } }])
  },
  {
    name: "python-error",
    body: (n) => ({ taskType: "python", code: "raise ValueError('planned')", items: [{ json: { n } }] }),
    check: (o) => expect(String(o.error?.["message"])).toMatch(/planned/)
  },
  {
    name: "timeout",
    body: () => ({ taskType: "javascript", code: "while (true) {}" }),
    check: (o) => expect(String(o.error?.["message"])).toMatch(/timed out after/)
  }
]

/** Which kind task `n` is: mostly successes, some errors and console output, one timeout in 100. */
const kindOf = (n: number): Kind => {
  if (n % 100 === 37) return kinds[5]!
  const r = n % 20
  return r < 11 ? kinds[0]! : r < 13 ? kinds[1]! : r < 15 ? kinds[2]! : r < 19 ? kinds[3]! : kinds[4]!
}

/** What the runner holds when idle. */
const idleState = async (runnerPid: number) => {
  // Idle for a moment: finished children gone, the pool refilled.
  await sleep(3000)
  return {
    rss: rssOf(runnerPid),
    processes: descendants(runnerPid).length,
    descriptors: openDescriptors(runnerPid)
  }
}

export const soak = async (total: number, checkpoint: number): Promise<SoakReport> => {
  const broker = await startBroker({ N8N_RUNNERS_TASK_REQUEST_TIMEOUT: "600" })
  const runner = startRunner(broker, {
    N8N_RUNNERS_MAX_CONCURRENCY: String(maxConcurrency),
    N8N_RUNNERS_TASK_TIMEOUT: "2",
    // Children are reused 50 times, then replaced: both a child's many tasks and its end are soaked.
    N8N_RUNNERS_WORKER_REUSE: "50"
  })
  for (let i = 0; i < 600; i++) {
    const list = await runners(broker).catch(() => [])
    if (list.some((r) => r.types.includes("python") && r.openOffers > 0)) break
    await sleep(100)
  }
  const outcomes: Record<string, number> = {}
  let mostHeld = 0
  const watching = { on: true }
  const watch = (async () => {
    while (watching.on) {
      const [info] = await runners(broker).catch(() => [])
      if (info !== undefined) mostHeld = Math.max(mostHeld, info.runningTasks + info.openOffers)
      await sleep(50)
    }
  })()
  const started = Date.now()
  const runRange = async (from: number, to: number) => {
    let next = from
    await Promise.all(Array.from({ length: maxConcurrency + 1 }, async () => {
      while (next < to) {
        const n = next++
        const kind = kindOf(n)
        const outcome = await submit(broker, kind.body(n))
        expect(outcome.status, `${kind.name} #${n}: ${JSON.stringify(outcome.error)}`).toBe(
          kind.name.endsWith("error") || kind.name === "timeout" ? "error" : "success"
        )
        kind.check(outcome, n)
        outcomes[kind.name] = (outcomes[kind.name] ?? 0) + 1
      }
    }))
  }
  await runRange(0, checkpoint)
  const atCheckpoint = await idleState(runner.pid)
  await runRange(checkpoint, total)
  const atEnd = await idleState(runner.pid)
  watching.on = false
  await watch
  expect(runner.alive).toBe(true)
  if (atEnd.descriptors > atCheckpoint.descriptors) {
    console.log(`descriptors at the end: ${descriptorTargets(runner.pid).join(", ")}`)
  }
  return {
    tasks: total,
    seconds: (Date.now() - started) / 1000,
    rssAtCheckpointMb: atCheckpoint.rss / 2 ** 20,
    rssAtEndMb: atEnd.rss / 2 ** 20,
    rssGrowth: atEnd.rss / atCheckpoint.rss - 1,
    processesAtCheckpoint: atCheckpoint.processes,
    processesAtEnd: atEnd.processes,
    descriptorsAtCheckpoint: atCheckpoint.descriptors,
    descriptorsAtEnd: atEnd.descriptors,
    mostHeld,
    outcomes
  }
}

/** The checks every soak makes of its report. */
export const assertHealthy = (report: SoakReport, maxRssGrowth: number) => {
  console.log(`soak: ${JSON.stringify(report)}`)
  expect(report.processesAtEnd).toBeLessThanOrEqual(report.processesAtCheckpoint)
  expect(report.descriptorsAtEnd).toBeLessThanOrEqual(report.descriptorsAtCheckpoint)
  expect(report.mostHeld).toBeLessThanOrEqual(maxConcurrency * taskTypes)
  expect(report.rssGrowth).toBeLessThan(maxRssGrowth)
}
