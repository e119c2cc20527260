import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { attackJavaScript, attackPython, benignJavaScript, benignPython } from "@taskrunner/corpus"
import { createServer } from "node:http"
import type { Server } from "node:http"
import { Canaries, cleanup, runnersReady, startBroker, startRunner, submit } from "./harness.js"
import type { Broker, Outcome, Started } from "./harness.js"

/**
 * The attack corpus through a real runner with its canaries, twice: with the analyser on (the
 * friendly first layer refuses what it can) and switched off (N8N_RUNNERS_TEST_DISABLE_ANALYZER:
 * the jail and the hardened runtime alone must contain everything). After every case no canary
 * may be touched; besides, each case must end as its corpus entry says. The must-pass corpora run
 * through a runner too and must give the right results (over-blocking is a bug).
 */

type Observed = "rejected" | "ran" | "blocked" | "timeout" | "oom" | "capped"

const taskTimeoutSeconds = 5

/** What happened to a task, from its outcome. */
const observe = (outcome: Outcome): Observed => {
  const message = String(outcome.error?.["message"] ?? "")
  const truncated = outcome.logs.some((args) => args.some((a) => /Output truncated/.test(String(a))))
  if (outcome.status === "success") return truncated ? "capped" : "ran"
  if (/timed out/i.test(message)) return "timeout"
  if (/out of memory|heap limit|MemoryError/i.test(message)) return "oom"
  if (message === "Security violations detected") return "rejected"
  return truncated ? "capped" : "blocked"
}

/**
 * The outcomes a case may have: `contained` only promises that the canaries are safe. A bomb is
 * killed by a limit, and which limit comes first (memory or the deadline, the output cap or the
 * deadline) depends on the machine's speed: both end it.
 */
const acceptable = (runtime: string): ReadonlyArray<Observed> =>
  runtime === "contained"
    ? ["ran", "blocked", "capped", "timeout", "oom"]
    : runtime === "oom"
    ? ["oom", "timeout"]
    : runtime === "capped"
    ? ["capped", "timeout"]
    : [runtime as Observed]

const canaries = new Canaries()
let withAnalyzer: Broker
let withoutAnalyzer: Broker
let runnerOn: Started
let runnerOff: Started

const runnerEnv = {
  ...canaries.env,
  N8N_RUNNERS_MAX_CONCURRENCY: "4",
  N8N_RUNNERS_TASK_TIMEOUT: String(taskTimeoutSeconds),
  N8N_RUNNERS_MAX_OLD_SPACE_SIZE: "128"
}

beforeAll(async () => {
  await canaries.plant()
  withAnalyzer = await startBroker({ N8N_RUNNERS_TASK_TIMEOUT: "30" })
  withoutAnalyzer = await startBroker({ N8N_RUNNERS_TASK_TIMEOUT: "30" })
  runnerOn = startRunner(withAnalyzer, runnerEnv)
  runnerOff = startRunner(withoutAnalyzer, { ...runnerEnv, N8N_RUNNERS_TEST_DISABLE_ANALYZER: "true" })
  await Promise.all([runnersReady(withAnalyzer), runnersReady(withoutAnalyzer)])
})

afterAll(async () => {
  await cleanup()
  await canaries.remove()
})

/** Runs one case and checks the canaries, then the outcome. */
const assertCase = async (
  broker: Broker,
  runner: Started,
  taskType: "javascript" | "python",
  code: string,
  allowed: ReadonlyArray<Observed>
) => {
  const started = Date.now()
  const outcome = await submit(broker, { taskType, code: canaries.fill(code), items: [{ json: { n: 1 } }] })
  const text = JSON.stringify(outcome)
  expect(canaries.violations(text), text.slice(0, 2000)).toEqual([])
  expect(runner.alive, "the runner died").toBe(true)
  const observed = observe(outcome)
  expect(allowed, text.slice(0, 2000)).toContain(observed)
  if (observed === "rejected") expect(outcome.logs, "a refused snippet ran").toEqual([])
  // However it ended, no more console calls came through than the cap (100 and the note).
  expect(outcome.logs.length).toBeLessThanOrEqual(101)
  // Nothing outlives its deadline by much (the answer comes; the child is killed).
  expect(Date.now() - started).toBeLessThan((taskTimeoutSeconds + 15) * 1000)
}

describe("the corpus is big enough and well formed", () => {
  it("at least 70 JavaScript and 45 Python attacks, over every family, with unique ids", () => {
    expect(attackJavaScript.length).toBeGreaterThanOrEqual(70)
    expect(attackPython.length).toBeGreaterThanOrEqual(45)
    const ids = [...attackJavaScript, ...attackPython].map((a) => a.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const family of ["constructor", "host", "modules", "prototype", "errors", "resources", "analyser"]) {
      expect(attackJavaScript.some((a) => a.family === family), family).toBe(true)
    }
  })
})

for (
  const [language, label, attacks] of [
    ["javascript", "JavaScript", attackJavaScript],
    ["python", "Python", attackPython]
  ] as const
) {
  describe.concurrent(`${label} attacks, analyser on`, () => {
    for (const attack of attacks) {
      it(`${attack.id} (${attack.family}): ${attack.expected === "runtime" ? attack.runtime : "rejected"}`, () =>
        assertCase(
          withAnalyzer,
          runnerOn,
          language,
          attack.code,
          attack.expected === "runtime" ? acceptable(attack.runtime) : ["rejected", "blocked"]
        ))
    }
  })

  describe.concurrent(`${label} attacks, analyser off: the jail alone holds`, () => {
    for (const attack of attacks) {
      it(`${attack.id} (${attack.family}): ${attack.runtime}`, () =>
        assertCase(withoutAnalyzer, runnerOff, language, attack.code, acceptable(attack.runtime)))
    }
  })
}

describe("after the attacks", () => {
  it("no canary was touched and both runners still serve ordinary tasks", async () => {
    expect(canaries.violations("")).toEqual([])
    for (const broker of [withAnalyzer, withoutAnalyzer]) {
      const outcome = await submit(broker, { taskType: "javascript", code: "return [{ json: { ok: true } }]" })
      expect(outcome.result).toEqual([{ json: { ok: true } }])
    }
  })
})

describe("the must-pass corpora give the right results", () => {
  let broker: Broker
  let helperServer: Server
  let helperUrl = ""
  beforeAll(async () => {
    // `helpers.httpRequest` is answered by the broker for real: a local server plays the remote
    // side, answering what the snippet's entry says the request returns.
    helperServer = createServer((req, res) => {
      const snippet = benignJavaScript.find((s) => req.url === `/${s.id}`)
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(snippet?.helpers?.["httpRequest"] ?? {}))
    })
    await new Promise<void>((resolve) => helperServer.listen(0, "127.0.0.1", resolve))
    helperUrl = `http://127.0.0.1:${(helperServer.address() as { port: number }).port}`
    broker = await startBroker()
    startRunner(broker, {
      N8N_RUNNERS_MAX_CONCURRENCY: "4",
      NODE_FUNCTION_ALLOW_BUILTIN: "crypto",
      GENERIC_TIMEZONE: "UTC",
      N8N_RUNNERS_STDLIB_ALLOW: "json,datetime,re,math,collections,itertools,dataclasses,functools",
      // n8n's default deny list, but classes allowed (some ordinary snippets define classes).
      N8N_RUNNERS_BUILTINS_DENY:
        "eval,exec,compile,open,input,breakpoint,getattr,object,type,vars,setattr,delattr,hasattr,dir,memoryview,globals,locals,license,help,credits,copyright"
    })
    await runnersReady(broker)
  })
  afterAll(() => new Promise<void>((resolve) => helperServer.close(() => resolve())))

  describe.concurrent("JavaScript", () => {
    for (const snippet of benignJavaScript) {
      it(snippet.id, async () => {
        const outcome = await submit(broker, {
          taskType: "javascript",
          code: snippet.helpers === undefined
            ? snippet.code
            : snippet.code.replaceAll("https://example.com", `${helperUrl}/${snippet.id}`),
          nodeMode: snippet.mode,
          items: snippet.items,
          ...(snippet.continueOnFail === true ? { continueOnFail: true } : {}),
          ...(snippet.workflow?.nodes === undefined ? {} : { runData: snippet.workflow.nodes }),
          ...(snippet.workflow?.executionId === undefined ? {} : { executionId: snippet.workflow.executionId }),
          ...(snippet.workflow?.staticData === undefined
            ? {}
            : { workflow: { staticData: snippet.workflow.staticData } })
        })
        expect(outcome.status, JSON.stringify(outcome.error)).toBe("success")
        expect(outcome.result).toEqual(snippet.expected)
      })
    }
  })

  describe.concurrent("Python", () => {
    for (const snippet of benignPython) {
      it(snippet.id, async () => {
        const outcome = await submit(broker, {
          taskType: "python",
          code: snippet.code,
          items: snippet.items ?? [],
          ...(snippet.query === undefined ? {} : { query: snippet.query })
        })
        expect(outcome.status, JSON.stringify(outcome.error)).toBe("success")
        expect(outcome.result).toEqual(snippet.expected)
      })
    }
  })
})
