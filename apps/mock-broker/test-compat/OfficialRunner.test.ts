import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ensureOfficialRunner, officialRunnerVersion } from "@taskrunner/compat"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fetchGrant, startBroker, submit } from "../test/harness.js"
import type { RunningBroker } from "../test/harness.js"

/**
 * n8n's own JavaScript runner (`@n8n/task-runner`, pinned) connects to our mock broker and
 * executes tasks: the proof that the broker side of our protocol is what n8n's runners expect.
 */
let broker: RunningBroker
let runner: ChildProcess
let output = ""

const registered = async () => {
  for (let i = 0; i < 200; i++) {
    const list = (await (await fetch(`${broker.url}/api/runners`)).json()) as Array<
      { name: string; openOffers: number }
    >
    if (list.some((r) => r.name === "JS Task Runner" && r.openOffers > 0)) return list
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`the official runner did not register; its output:\n${output}`)
}

beforeAll(async () => {
  const start = ensureOfficialRunner()
  broker = await startBroker({ taskAcceptTimeoutMs: 2000 })
  runner = spawn(process.execPath, [start], {
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "/tmp",
      N8N_RUNNERS_GRANT_TOKEN: await fetchGrant(broker.url),
      N8N_RUNNERS_TASK_BROKER_URI: broker.url,
      N8N_RUNNERS_MAX_CONCURRENCY: "5"
    }
  })
  runner.stdout?.on("data", (d) => (output += String(d)))
  runner.stderr?.on("data", (d) => (output += String(d)))
  await registered()
}, 120_000)

afterAll(async () => {
  runner?.kill("SIGKILL")
  await broker?.stop()
})

describe(`n8n's official JS runner ${officialRunnerVersion} against our broker`, () => {
  it("registers with its name, type and a full set of offers", async () => {
    const [listed] = await registered()
    expect(listed).toMatchObject({ name: "JS Task Runner", types: ["javascript"] })
  })

  it("runs an all-items task", async () => {
    const { body } = await submit(broker, {
      taskType: "javascript",
      code: "return $input.all().map(i => ({json: {n: i.json.n * 2}}))",
      items: [{ json: { n: 1 } }, { json: { n: 2 } }, { json: { n: 3 } }]
    })
    expect(body.status).toBe("success")
    expect(body.result).toEqual([{ json: { n: 2 } }, { json: { n: 4 } }, { json: { n: 6 } }])
  })

  it("runs a per-item task and relays console.log through logNodeOutput, in order", async () => {
    const { body } = await submit(broker, {
      taskType: "javascript",
      nodeMode: "runOnceForEachItem",
      code: "console.log('item', $json.n, {n: $json.n}); return {json: {m: $json.n + 1}}",
      items: [{ json: { n: 1 } }, { json: { n: 2 } }]
    })
    expect(body.status).toBe("success")
    expect(body.result).toEqual([{ json: { m: 2 }, pairedItem: { item: 0 } }, {
      json: { m: 3 },
      pairedItem: { item: 1 }
    }])
    expect(body.logs).toEqual([["'item'", "1", "{\"n\":1}"], ["'item'", "2", "{\"n\":2}"]])
  })

  it("reads other nodes' output and $env through data requests", async () => {
    const { body } = await submit(broker, {
      taskType: "javascript",
      code: "return [{json: {name: $('Lookup').first().json.name, base: $env.API_BASE}}]",
      runData: { Lookup: [{ json: { name: "Ada" } }] },
      env: { API_BASE: "https://example.test" }
    })
    expect(body.status).toBe("success")
    expect(body.result).toEqual([{ json: { name: "Ada", base: "https://example.test" } }])
  })

  it("reports a user error with its line number", async () => {
    const { body } = await submit(broker, { taskType: "javascript", code: "const x = null\nreturn x.y" })
    expect(body.status).toBe("error")
    expect(body.error).toMatchObject({
      message: "Cannot read properties of null (reading 'y') [line 2]",
      description: "TypeError",
      lineNumber: 2
    })
  })

  it("is cancelled through broker:taskcancel", async () => {
    const pending = submit(broker, {
      taskType: "javascript",
      code: "await new Promise(r => setTimeout(r, 10000)); return []",
      id: "long"
    })
    for (let i = 0; i < 100; i++) {
      const list = (await (await fetch(`${broker.url}/api/tasks`)).json()) as Array<{ id: string; status: string }>
      if (list.some((t) => t.id === "long" && t.status === "running")) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect((await fetch(`${broker.url}/api/tasks/long/cancel`, { method: "POST" })).status).toBe(200)
    expect((await pending).body.error?.["message"]).toBe("Task cancelled: Task cancelled by user")
    // The runner is still healthy afterwards.
    const next = await submit(broker, { taskType: "javascript", code: "return [{json: {ok: true}}]" })
    expect(next.body.result).toEqual([{ json: { ok: true } }])
  })
})
