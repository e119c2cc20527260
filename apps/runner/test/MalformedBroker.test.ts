import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { WebSocket } from "ws"
import { cleanup, dataResponse, ScriptedBroker, startRunner } from "./harness.js"
import type { Started } from "./harness.js"

/**
 * A broker scripted by the test, to send what a real broker never would: the runner must log
 * and ignore malformed frames, stay connected, and keep serving tasks.
 */
let broker: ScriptedBroker
let runner: Started

const next = (type: string, timeoutMs = 10_000) => broker.take((m) => m["type"] === type, type, timeoutMs)

beforeAll(async () => {
  broker = await ScriptedBroker.start()
  runner = startRunner(broker, { N8N_RUNNERS_MAX_CONCURRENCY: "2", N8N_RUNNERS_TASK_TYPES: "javascript" })
  await next("runner:info")
  broker.send({ type: "broker:runnerregistered" })
}, 30_000)

afterAll(async () => {
  await cleanup()
  broker.close()
})

const runTask = async (taskId: string, settings: Record<string, unknown>) => {
  const offer = await next("runner:taskoffer")
  broker.send({ type: "broker:taskofferaccept", taskId, offerId: offer["offerId"] })
  expect(await next("runner:taskaccepted")).toEqual({ type: "runner:taskaccepted", taskId })
  broker.send({ type: "broker:tasksettings", taskId, settings })
}

describe("a broker that sends malformed frames", () => {
  it("is logged and ignored; the runner stays connected", async () => {
    const frames = [
      "{",
      "[]",
      "42",
      "{\"type\":\"broker:selfdestruct\"}",
      "{\"type\":\"broker:taskofferaccept\",\"taskId\":7}",
      "{\"type\":\"broker:tasksettings\",\"taskId\":\"unknown\",\"settings\":{}}",
      "{\"type\":\"broker:taskcancel\",\"taskId\":\"unknown\",\"reason\":\"x\"}",
      "{\"type\":\"broker:rpcresponse\",\"__proto__\":{\"polluted\":true}}"
    ]
    for (const frame of frames) broker.send(frame)
    broker.send(Buffer.from([0xff, 0xfe, 0xfd]))
    await runner.waitFor(/Ignored a message from the broker: Malformed broker frame: invalid JSON/)
    await runner.waitFor(/unknown message type \\?"broker:selfdestruct\\?"/)
    await runner.waitFor(/Failed to find task unknown/)
    expect(broker.socket.readyState).toBe(WebSocket.OPEN)
  })

  it("still runs tasks afterwards", async () => {
    await runTask("t-good", {
      code: "return $input.all().map(i => ({ json: { n: i.json.n + 1 } }))",
      nodeMode: "runOnceForAllItems",
      continueOnFail: false
    })
    const request = await next("runner:taskdatarequest")
    expect(request["requestParams"]).toEqual({ dataOfNodes: [], prevNode: false, input: { include: true }, env: false })
    broker.send({
      type: "broker:taskdataresponse",
      taskId: "t-good",
      requestId: request["requestId"],
      data: dataResponse([{ json: { n: 1 } }])
    })
    expect(await next("runner:taskdone")).toEqual({
      type: "runner:taskdone",
      taskId: "t-good",
      // As n8n's runner: the custom data is always sent (empty here).
      data: { result: [{ json: { n: 2 } }], customData: {} }
    })
  })

  it("answers malformed settings with a task error naming the field, and other tasks are unaffected", async () => {
    await runTask("t-bad", { code: "return []", nodeMode: "sometimes" })
    const error = await next("runner:taskerror")
    expect(error).toMatchObject({
      taskId: "t-bad",
      error: { message: expect.stringMatching(/at settings\.nodeMode: expected "runOnceForAllItems"/) }
    })
    await runTask("t-raw", { code: "return 'raw'", nodeMode: "runCode" })
    expect(await next("runner:taskdone")).toEqual({ type: "runner:taskdone", taskId: "t-raw", data: { result: "raw" } })
  })

  it("settings the runner refuses to read (a __proto__ key) fail that task at once, not at its deadline", async () => {
    const offer = await next("runner:taskoffer")
    broker.send({ type: "broker:taskofferaccept", taskId: "t-proto", offerId: offer["offerId"] })
    await next("runner:taskaccepted")
    broker.send(
      "{\"type\":\"broker:tasksettings\",\"taskId\":\"t-proto\",\"settings\":{\"code\":\"return []\",\"__proto__\":{\"x\":1}}}"
    )
    expect(await next("runner:taskerror", 3000)).toMatchObject({
      taskId: "t-proto",
      error: { message: expect.stringMatching(/__proto__/) }
    })
  })

  it("a malformed data response fails that task clearly", async () => {
    await runTask("t-data", { code: "return $input.all()", nodeMode: "runOnceForAllItems" })
    const request = await next("runner:taskdatarequest")
    broker.send({
      type: "broker:taskdataresponse",
      taskId: "t-data",
      requestId: request["requestId"],
      data: { nope: true }
    })
    expect(await next("runner:taskerror")).toMatchObject({
      taskId: "t-data",
      error: {
        message: expect.stringMatching(/^Malformed "broker:taskdataresponse" message at data\.workflow: is missing/)
      }
    })
  })
})
