import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { createServer } from "node:http"
import type { Server } from "node:http"
import { WebSocket, WebSocketServer } from "ws"
import { cleanup, startRunner } from "./harness.js"
import type { Started } from "./harness.js"

/**
 * A broker scripted by the test, to send what a real broker never would: the runner must log
 * and ignore malformed frames, stay connected, and keep serving tasks.
 */
let server: Server
let url: string
let runner: Started
let socket: WebSocket
const inbox: Array<Record<string, unknown>> = []

const next = async (type: string, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const index = inbox.findIndex((m) => m["type"] === type)
    if (index >= 0) return inbox.splice(index, 1)[0]!
    if (Date.now() > deadline) throw new Error(`no ${type}; got ${JSON.stringify(inbox.map((m) => m["type"]))}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const dataResponse = (items: ReadonlyArray<unknown>) => ({
  workflow: { id: "w", name: "W", active: false, connections: {}, nodes: [] },
  inputData: { main: [items] },
  connectionInputSource: null,
  node: { id: "n", name: "Code", type: "n8n-nodes-base.code", typeVersion: 2, parameters: {} },
  runExecutionData: { resultData: { runData: {} } },
  runIndex: 0,
  itemIndex: 0,
  activeNodeName: "Code",
  mode: "manual"
})

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true })
  server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ data: { token: "a".repeat(64) } }))
  })
  server.on("upgrade", (req, s, head) =>
    wss.handleUpgrade(req, s, head, (ws) => {
      socket = ws
      ws.on("message", (data) => inbox.push(JSON.parse(String(data)) as Record<string, unknown>))
      ws.send(JSON.stringify({ type: "broker:inforequest" }))
    }))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  runner = startRunner({ url }, { N8N_RUNNERS_MAX_CONCURRENCY: "2", N8N_RUNNERS_TASK_TYPES: "javascript" })
  await next("runner:info")
  socket.send(JSON.stringify({ type: "broker:runnerregistered" }))
}, 30_000)

afterAll(async () => {
  await cleanup()
  server.close()
})

const runTask = async (taskId: string, settings: Record<string, unknown>) => {
  const offer = await next("runner:taskoffer")
  socket.send(JSON.stringify({ type: "broker:taskofferaccept", taskId, offerId: offer["offerId"] }))
  expect(await next("runner:taskaccepted")).toEqual({ type: "runner:taskaccepted", taskId })
  socket.send(JSON.stringify({ type: "broker:tasksettings", taskId, settings }))
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
    for (const frame of frames) socket.send(frame)
    socket.send(Buffer.from([0xff, 0xfe, 0xfd]))
    await runner.waitFor(/Ignored a message from the broker: Malformed broker frame: invalid JSON/)
    await runner.waitFor(/unknown message type \\?"broker:selfdestruct\\?"/)
    await runner.waitFor(/Failed to find task unknown/)
    expect(socket.readyState).toBe(WebSocket.OPEN)
  })

  it("still runs tasks afterwards", async () => {
    await runTask("t-good", {
      code: "return $input.all().map(i => ({ json: { n: i.json.n + 1 } }))",
      nodeMode: "runOnceForAllItems",
      continueOnFail: false
    })
    const request = await next("runner:taskdatarequest")
    expect(request["requestParams"]).toEqual({ dataOfNodes: [], prevNode: false, input: { include: true }, env: false })
    socket.send(
      JSON.stringify({
        type: "broker:taskdataresponse",
        taskId: "t-good",
        requestId: request["requestId"],
        data: dataResponse([{ json: { n: 1 } }])
      })
    )
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
    socket.send(JSON.stringify({ type: "broker:taskofferaccept", taskId: "t-proto", offerId: offer["offerId"] }))
    await next("runner:taskaccepted")
    socket.send(
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
    socket.send(
      JSON.stringify({
        type: "broker:taskdataresponse",
        taskId: "t-data",
        requestId: request["requestId"],
        data: { nope: true }
      })
    )
    expect(await next("runner:taskerror")).toMatchObject({
      taskId: "t-data",
      error: {
        message: expect.stringMatching(/^Malformed "broker:taskdataresponse" message at data\.workflow: is missing/)
      }
    })
  })
})
