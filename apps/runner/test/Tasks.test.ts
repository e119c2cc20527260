import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { cleanup, runnersReady, startBroker, startRunner, submit, untilRunning } from "./harness.js"
import type { Broker, Started } from "./harness.js"

/** One mock broker and one runner (both real processes) for the task flows. */
let broker: Broker
let runner: Started
beforeAll(async () => {
  broker = await startBroker()
  runner = startRunner(broker, {
    N8N_RUNNERS_MAX_CONCURRENCY: "3",
    N8N_RUNNERS_TASK_TIMEOUT: "3",
    N8N_RUNNERS_MAX_OLD_SPACE_SIZE: "64",
    N8N_RUNNERS_MAX_PAYLOAD: "2000000",
    N8N_RUNNERS_HEALTH_CHECK_SERVER_ENABLED: "true",
    N8N_RUNNERS_HEALTH_CHECK_SERVER_PORT: "0"
  })
  await runnersReady(broker)
}, 60_000)
afterAll(cleanup)

const js = (code: string, rest: Record<string, unknown> = {}) =>
  submit(broker, { taskType: "javascript", code, ...rest })

describe("tasks through the mock broker and the runner", () => {
  it("registers with its name and the task types it can run", async () => {
    const [info] = await runnersReady(broker)
    // Three offers per task type (max concurrency 3).
    expect(info).toMatchObject({ name: "Secure Task Runner", types: ["javascript", "python"], openOffers: 6 })
  })

  it("runs an all-items task, relaying console calls in order before the result", async () => {
    const outcome = await js(
      "console.log('first')\nconsole.log('second', { n: 2 })\nreturn $input.all().map(i => ({ json: { n: i.json.n * 10 } }))",
      {
        items: [{ json: { n: 1 } }, { json: { n: 2 } }]
      }
    )
    expect(outcome.status).toBe("success")
    expect(outcome.result).toEqual([{ json: { n: 10 } }, { json: { n: 20 } }])
    expect(outcome.logs).toEqual([["'first'"], ["'second'", "{\"n\":2}"]])
  })

  it("runs a per-item task, with pairedItem at the original positions", async () => {
    const outcome = await js("return { json: { n: $json.n + 1 } }", {
      nodeMode: "runOnceForEachItem",
      items: [{ json: { n: 1 } }, { json: { n: 2 } }, { json: { n: 3 } }]
    })
    expect(outcome.result).toEqual([
      { json: { n: 2 }, pairedItem: { item: 0 } },
      { json: { n: 3 }, pairedItem: { item: 1 } },
      { json: { n: 4 }, pairedItem: { item: 2 } }
    ])
  })

  it("runs per-item chunks beyond the first 1000 items with the right indexes", async () => {
    const items = Array.from({ length: 1500 }, (_, n) => ({ json: { n } }))
    const outcome = await js("return { json: { n: $json.n, at: $itemIndex } }", {
      nodeMode: "runOnceForEachItem",
      items
    })
    const result = outcome.result as Array<{ json: { n: number; at: number }; pairedItem: { item: number } }>
    expect(result).toHaveLength(1500)
    expect(result[1234]).toEqual({ json: { n: 1234, at: 1234 }, pairedItem: { item: 1234 } })
  })

  it("a large input (over 64 KiB) reaches the snippet whole, all-items and per item", async () => {
    const items = Array.from({ length: 3000 }, (_, n) => ({ json: { n, text: `item ${n} ${"é".repeat(20)}` } }))
    const all = await js(
      "return [{ json: { count: items.length, sum: items.reduce((s, i) => s + i.json.n, 0), last: items.at(-1).json.text } }]",
      { items }
    )
    expect(all.result).toEqual([{ json: { count: 3000, sum: 4498500, last: `item 2999 ${"é".repeat(20)}` } }])
    const each = await js("return { json: { n: $json.n * 2 } }", { items, nodeMode: "runOnceForEachItem" })
    expect((each.result as Array<{ json: { n: number } }>).map((i) => i.json.n).slice(-2)).toEqual([5996, 5998])
  })

  it("continueOnFail turns a failure into an item", async () => {
    expect((await js("throw new Error('nope')", { continueOnFail: true })).result).toEqual([{
      json: { error: "nope [line 1]" }
    }])
  })

  it("fetches only the data the code uses ($env on request)", async () => {
    const outcome = await js("return [{ json: { base: $env.API_BASE } }]", {
      env: { API_BASE: "https://example.test" }
    })
    expect(outcome.result).toEqual([{ json: { base: "https://example.test" } }])
  })
})

describe("every error kind reaches the broker in n8n's shape", () => {
  it("a security violation (static analysis)", async () => {
    expect((await js("return process.env")).error).toEqual({
      message: "Security violations detected",
      description: "Line 1: Access to 'process' is disallowed, because it reaches the runner process."
    })
  })

  it("a syntax error, as n8n's runner reports it (V8's message, no line)", async () => {
    const { error } = await js("const a = 1\nconst b = )")
    expect(error).toMatchObject({ message: "Unexpected token ')'", description: "SyntaxError" })
    expect(error).not.toHaveProperty("lineNumber")
  })

  it("a runtime error, with line and type (per item too: n8n 2.41's runner does not name the item)", async () => {
    expect((await js("const x = null\nreturn x.y")).error).toMatchObject({
      message: "Cannot read properties of null (reading 'y') [line 2]",
      description: "TypeError",
      lineNumber: 2
    })
    expect(
      (await js("if ($json.n === 2) throw new RangeError('two')\nreturn {}", {
        nodeMode: "runOnceForEachItem",
        items: [{ json: { n: 1 } }, { json: { n: 2 } }]
      })).error
    ).toMatchObject({
      message: "two [line 1]",
      description: "RangeError",
      lineNumber: 1
    })
  })

  it("the runner's own timeout, before the broker's", async () => {
    expect((await js("while (true) {}")).error).toMatchObject({ message: "Task execution timed out after 3 seconds" })
  })

  it("out of memory", async () => {
    expect((await js("const a = []\nwhile (true) a.push(new Array(100000).fill({ x: 1 }))")).error?.["message"])
      .toMatch(
        /^The task ran out of memory \(limit 64 MB\)/
      )
  })

  it("a result over the payload limit", async () => {
    expect((await js("return [{ json: { s: 'x'.repeat(3000000) } }]")).error?.["message"]).toMatch(
      /^The result is \d+ bytes; the limit is/
    )
  })

  it("a module that is not allowed (also stopped at run time)", async () => {
    expect((await js("return require('fs')")).error).toEqual({
      message: "Security violations detected",
      description: "Line 1: Module 'fs' is disallowed. Allowed built-in modules: none"
    })
  })
})

describe("capacity and cancellation", () => {
  it("max concurrency + 2 submissions at once: none lost, all complete", async () => {
    const outcomes = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) => js(`await new Promise(r => setTimeout(r, 300))\nreturn [{ json: { i: ${i} } }]`)
      )
    )
    expect(outcomes.map((o) => o.status)).toEqual(["success", "success", "success", "success", "success"])
    expect(outcomes.map((o) => (o.result as Array<{ json: { i: number } }>)[0]!.json.i)).toEqual([0, 1, 2, 3, 4])
  })

  it("cancel mid-task kills it, sends nothing after, and the runner carries on", async () => {
    const pending = js("await new Promise(r => setTimeout(r, 60000))\nreturn []", { id: "to-cancel" })
    await untilRunning(broker, "to-cancel")
    expect((await fetch(`${broker.url}/api/tasks/to-cancel/cancel`, { method: "POST" })).status).toBe(200)
    expect((await pending).error).toEqual({ message: "Task cancelled: Task cancelled by user" })
    await runner.waitFor(/Cancelled task \S+: Task cancelled by user/)
    expect((await js("return [{ json: { ok: true } }]")).result).toEqual([{ json: { ok: true } }])
  })
})

describe("operations", () => {
  it("serves /healthz and Prometheus metrics", async () => {
    const port = (await runner.waitFor(/Health server listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]!
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.text()).toBe("OK")
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(metrics).toMatch(/^# HELP taskrunner_executions_total /m)
    expect(metrics).toMatch(/^taskrunner_executions_total\{outcome="success",type="javascript"\} \d+$/m)
    expect(metrics).toMatch(/^taskrunner_execution_failures_total\{kind="timeout",type="javascript"\} 1$/m)
    expect(metrics).toMatch(/^taskrunner_timeouts_total\{type="javascript"\} 1$/m)
    expect(metrics).toMatch(/^taskrunner_out_of_memory_total\{type="javascript"\} 1$/m)
    expect(metrics).toMatch(/^taskrunner_execution_duration_seconds_bucket\{type="javascript",le="\+Inf"\} \d+$/m)
    expect(metrics).toMatch(/^taskrunner_running_tasks 0$/m)
    expect(metrics).toMatch(/^taskrunner_open_offers \d+$/m)
    expect(metrics).toMatch(/^taskrunner_child_memory_bytes [1-9]\d*$/m)
    expect(metrics).toMatch(/^taskrunner_connected 1$/m)
  })

  it("writes one audit line per task, without code or items", async () => {
    await js("return [{ json: { secretValue: 'hunter2' } }]", { workflow: { id: "wf-audit", name: "Audited" } })
    const line = await runner.waitFor(/\{[^\n]*"audit":"task"[^\n]*"workflowId":"wf-audit"[^\n]*\}/)
    const entry = JSON.parse(line[0]) as { message: string; annotations: Record<string, unknown> }
    expect(entry.annotations).toMatchObject({
      taskType: "javascript",
      outcome: "success",
      workflowName: "Audited",
      nodeName: "Code"
    })
    expect(line[0]).not.toContain("hunter2")
    expect(line[0]).not.toContain("secretValue")
  })
})
