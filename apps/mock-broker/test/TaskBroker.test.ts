import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer } from "node:net"
import { resolveSubmission } from "../src/TaskSubmission.js"
import { quiet, ScriptedRunner, startBroker, submit } from "./harness.js"
import type { RunningBroker } from "./harness.js"

const brokers: Array<RunningBroker> = []
const start = async (overrides: Parameters<typeof startBroker>[0] = {}) => {
  const broker = await startBroker(overrides)
  brokers.push(broker)
  return broker
}
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.stop()))
})

const js = { taskType: "javascript", code: "return $input.all()" }

describe("handshake and registration", () => {
  it("sends inforequest, registers on runner:info, and drops anything sent before it", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.connect(broker)
    runner.offer("javascript") // before registration: dropped silently
    runner.send({ type: "runner:info", name: "Scripted Runner", types: ["javascript"] })
    await runner.next("broker:runnerregistered")
    const pending = submit(broker, js)
    // The early offer was dropped, so nothing is accepted until the runner offers again.
    expect(await runner.receives("broker:taskofferaccept", 300)).toBe(false)
    runner.offer("javascript")
    const { taskId } = await runner.acceptNext()
    runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.status).toBe("success")
  })

  it("ignores a second runner:info", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.send({ type: "runner:info", name: "Renamed", types: ["python"] })
    await quiet(100)
    const [listed] = (await (await fetch(`${broker.url}/api/runners`)).json()) as Array<{ name: string }>
    expect(listed?.name).toBe("Scripted Runner")
    expect(await runner.receives("broker:runnerregistered", 100)).toBe(false)
  })
})

describe("a JavaScript task end to end", () => {
  it("settings without items, data request, log RPCs in order, taskdone", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, {
      ...js,
      items: [{ json: { n: 1 } }, { json: { n: 2 } }],
      workflow: { id: "wf-7", name: "Orders" }
    })
    const { settings, taskId } = await runner.acceptNext()
    expect(taskId).toMatch(/^[\w-]{8}$/)
    expect(settings).toEqual({
      code: "return $input.all()",
      nodeMode: "runOnceForAllItems",
      workflowMode: "manual",
      continueOnFail: false,
      additionalProperties: {}
    })
    runner.send({
      type: "runner:taskdatarequest",
      taskId,
      requestId: "req-1",
      requestParams: { dataOfNodes: [], prevNode: false, input: { include: true }, env: false }
    })
    const response = await runner.next<{
      type: string
      requestId: string
      data: { inputData: unknown; workflow: { id: string } }
    }>("broker:taskdataresponse")
    expect(response.requestId).toBe("req-1")
    expect(response.data.inputData).toEqual({ main: [[{ json: { n: 1 } }, { json: { n: 2 } }]] })
    expect(response.data.workflow.id).toBe("wf-7")
    runner.send({ type: "runner:rpc", callId: "c1", taskId, name: "logNodeOutput", params: ["'first'"] })
    runner.send({ type: "runner:rpc", callId: "c2", taskId, name: "logNodeOutput", params: ["'second'", "{\"a\":1}"] })
    const ack = await runner.next<Record<string, unknown>>("broker:rpcresponse")
    expect(ack).toEqual({ type: "broker:rpcresponse", callId: "c1", taskId, status: "success" })
    runner.send({ type: "runner:taskdone", taskId, data: { result: [{ n: 2 }, { n: 4 }] } })
    const { body, status } = await pending
    expect(status).toBe(200)
    expect(body).toMatchObject({
      taskId,
      taskIds: [taskId],
      runnerId: runner.id,
      status: "success",
      logs: [["'first'"], ["'second'", "{\"a\":1}"]]
    })
    // n8n normalises the result: bare objects are wrapped into {json}.
    expect(body.result).toEqual([{ json: { n: 2 } }, { json: { n: 4 } }])
    expect(typeof body["durationMs"]).toBe("number")
  })

  it("RPCs outside the allowed list are refused; allowed helpers are done for real", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    runner.send({ type: "runner:rpc", callId: "x", taskId, name: "process.exit", params: [] })
    expect(await runner.next("broker:rpcresponse")).toEqual({
      type: "broker:rpcresponse",
      callId: "x",
      taskId,
      status: "error",
      data: "Method not allowed"
    })
    // Allowed helpers are done for real: here a request nobody answers fails with the reason.
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number }
        server.close(() => resolve(port))
      })
    })
    runner.send({
      type: "runner:rpc",
      callId: "y",
      taskId,
      name: "helpers.httpRequest",
      params: [{ url: `http://127.0.0.1:${closed}/` }]
    })
    const answer = await runner.next<{ status: string; data: string }>("broker:rpcresponse")
    expect(answer.status).toBe("error")
    expect(answer.data).toMatch(/ECONNREFUSED/)
    runner.send({
      type: "runner:rpc",
      callId: "z",
      taskId,
      name: "helpers.binaryToString",
      params: [{ type: "Buffer", data: [104, 105] }]
    })
    expect(await runner.next("broker:rpcresponse")).toMatchObject({ callId: "z", status: "success", data: "hi" })
    runner.send({
      type: "runner:nodetypesrequest",
      taskId,
      requestId: "nt1",
      requestParams: [{ name: "n8n-nodes-base.set", version: 3 }]
    })
    expect(await runner.next("broker:nodetypes")).toEqual({
      type: "broker:nodetypes",
      taskId,
      requestId: "nt1",
      nodeTypes: []
    })
    runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.status).toBe("success")
  })

  it("a runner error is wrapped the way n8n wraps it", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    runner.send({
      type: "runner:taskerror",
      taskId,
      error: {
        name: "ExecutionError",
        message: "x is not defined [line 2]",
        description: "ReferenceError",
        lineNumber: 2,
        stack: "ReferenceError: x is not defined\n at ...",
        level: "error"
      }
    })
    const { body } = await pending
    expect(body.status).toBe("error")
    expect(body.error).toEqual({ message: "x is not defined [line 2]", description: "ReferenceError", lineNumber: 2 })
  })

  it("validates the result like n8n (JavaScript wording)", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    runner.send({ type: "runner:taskdone", taskId, data: { result: "just a string" } })
    expect((await pending).body.error).toEqual({
      message: "Code doesn't return items properly",
      description: "Please return an array of objects, one for each item you would like to output."
    })
  })
})

describe("a Python task", () => {
  it("carries the items inline with node and workflow names, and validates with Python wording", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker, ["python"])
    runner.offer("python")
    const items = [{ json: { n: 1 }, pairedItem: { item: 0 } }]
    const pending = submit(broker, {
      taskType: "python",
      code: "return [1]",
      items,
      continueOnFail: true,
      nodeName: "My Code",
      workflow: { id: "wf-1", name: "Flow" }
    })
    const { settings, taskId } = await runner.acceptNext()
    expect(settings).toEqual({
      code: "return [1]",
      nodeMode: "runOnceForAllItems",
      workflowMode: "manual",
      continueOnFail: true,
      items,
      nodeId: "code-node",
      nodeName: "My Code",
      workflowId: "wf-1",
      workflowName: "Flow"
    })
    runner.send({ type: "runner:taskdone", taskId, data: { result: [1] } })
    expect((await pending).body.error).toEqual({
      message: "Code doesn't return items properly",
      description: "Please return an array of dictionaries, one for each item you would like to output."
    })
  })
})

describe("offers and matching", () => {
  it("an expired offer is not used; -1 never expires", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer("javascript", 50)
    await quiet(120)
    const first = submit(broker, js)
    expect(await runner.receives("broker:taskofferaccept", 300)).toBe(false)
    const forever = runner.offer("javascript", -1)
    const accept = await runner.next<{ offerId: string; taskId: string }>("broker:taskofferaccept")
    expect(accept.offerId).toBe(forever)
    runner.send({ type: "runner:taskaccepted", taskId: accept.taskId })
    await runner.next("broker:tasksettings")
    runner.send({ type: "runner:taskdone", taskId: accept.taskId, data: { result: [] } })
    expect((await first).body.status).toBe("success")
  })

  it("matches by task type and warns when only other types are offered", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker, ["javascript", "python"])
    runner.offer("python")
    const pending = submit(broker, js)
    expect(await runner.receives("broker:taskofferaccept", 200)).toBe(false)
    expect(
      broker.logs.some((l) =>
        /No matching task offer for request ".+" \(type "javascript"\)\. Available offer types: \[python\]/.test(l)
      )
    )
      .toBe(true)
    runner.offer("javascript")
    const { taskId } = await runner.acceptNext()
    runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.status).toBe("success")
  })

  it("takes offers first in, first out across runners", async () => {
    const broker = await start()
    const a = await ScriptedRunner.register(broker)
    const b = await ScriptedRunner.register(broker)
    b.offer()
    await quiet(50)
    a.offer()
    await quiet(50)
    const pending = submit(broker, js)
    const { taskId } = await b.acceptNext()
    expect(await a.receives("broker:taskofferaccept", 100)).toBe(false)
    b.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.runnerId).toBe(b.id)
  })

  it("a rejection sends the request back to matching", async () => {
    const broker = await start()
    const a = await ScriptedRunner.register(broker)
    const b = await ScriptedRunner.register(broker)
    a.offer()
    await quiet(30)
    b.offer()
    await quiet(30)
    const pending = submit(broker, js)
    const accept = await a.next<{ taskId: string }>("broker:taskofferaccept")
    a.send({
      type: "runner:taskrejected",
      taskId: accept.taskId,
      reason: "No open task slots - runner already at capacity"
    })
    const { taskId } = await b.acceptNext()
    b.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.runnerId).toBe(b.id)
    expect(
      broker.logs.some((l) => l.includes(`Task (${accept.taskId}) rejected by Runner with reason "No open task slots`))
    )
      .toBe(true)
  })

  it("no answer within the accept window: cancel, drop the runner's offers, re-match", async () => {
    const broker = await start()
    const slow = await ScriptedRunner.register(broker)
    const fast = await ScriptedRunner.register(broker)
    slow.offer()
    slow.offer()
    await quiet(30)
    fast.offer()
    await quiet(30)
    const pending = submit(broker, js)
    const ignored = await slow.next<{ taskId: string }>("broker:taskofferaccept")
    const cancel = await slow.next<{ taskId: string; reason: string }>("broker:taskcancel", 2000)
    expect(cancel).toEqual({
      type: "broker:taskcancel",
      taskId: ignored.taskId,
      reason: "Acknowledgement window elapsed"
    })
    // The slow runner's second offer was dropped, so the request went to the fast runner.
    const { taskId } = await fast.acceptNext()
    fast.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.runnerId).toBe(fast.id)
    // A late accept for the cancelled task is ignored.
    slow.send({ type: "runner:taskaccepted", taskId: ignored.taskId })
    expect(await slow.receives("broker:tasksettings", 200)).toBe(false)
    expect(broker.logs.some((l) => l.includes(`Runner (${slow.id}) took too long to acknowledge acceptance of task`)))
      .toBe(true)
  })

  it("a runner that misses three accept windows in a row is disconnected as unresponsive", async () => {
    const broker = await start({ taskAcceptTimeoutMs: 150 })
    const silent = await ScriptedRunner.register(broker)
    const pending = submit(broker, js)
    for (let strike = 0; strike < 3; strike++) {
      silent.offer()
      await silent.next("broker:taskofferaccept")
      await silent.next("broker:taskcancel", 1000)
      await quiet(200)
    }
    expect((await silent.closed).code).toBe(1002)
    const healthy = await ScriptedRunner.register(broker)
    healthy.offer()
    const { taskId } = await healthy.acceptNext()
    healthy.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.status).toBe("success")
  })

  it("a deferred request waits for the next offer (the launcher's handshake)", async () => {
    const broker = await start()
    const launcher = await ScriptedRunner.register(broker)
    launcher.offer("javascript", -1)
    const pending = submit(broker, js)
    const accept = await launcher.next<{ taskId: string }>("broker:taskofferaccept")
    launcher.send({ type: "runner:taskdeferred", taskId: accept.taskId })
    launcher.close()
    await quiet(100)
    const real = await ScriptedRunner.register(broker)
    real.offer()
    const { taskId } = await real.acceptNext()
    real.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.runnerId).toBe(real.id)
  })
})

describe("timeouts", () => {
  it("the task timeout cancels the task on the runner and fails it with n8n's message", async () => {
    const broker = await start({ taskTimeoutMs: 1000 })
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    expect(await runner.next("broker:taskcancel", 2500)).toEqual({
      type: "broker:taskcancel",
      taskId,
      reason: "Task execution timed out"
    })
    const { body } = await pending
    expect(body.error?.["message"]).toBe("Task execution timed out after 1 second")
    expect(String(body.error?.["description"])).toMatch(
      /^The task runner was taking too long on this task, so the task was aborted\./
    )
    // A late taskdone is ignored.
    runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
  })

  it("no runner within the request timeout: n8n's request-timeout error", async () => {
    const broker = await start({ taskRequestTimeoutMs: 600 })
    const { body } = await submit(broker, js)
    expect(body.status).toBe("error")
    expect(body.taskId).toBeNull()
    expect(body.error?.["message"]).toBe("Task request timed out")
    expect(String(body.error?.["description"])).toMatch(
      /^Your Code node task was not matched to a runner within the timeout period \(waited 1 second\)\. This indicates that the task runner is currently down, or not ready, or at capacity, so it cannot service your task\./
    )
    expect(body.error?.["extra"]).toEqual({ elapsedSeconds: 1 })
  })
})

describe("connections", () => {
  it("a runner that disconnects mid-task fails the task with Node execution failed", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    await runner.acceptNext()
    runner.close()
    const { body } = await pending
    expect(body.error?.["message"]).toBe("Node execution failed")
    expect(String(body.error?.["description"])).toMatch(
      /^This can happen for various reasons\. Please try executing the node again\./
    )
  })

  it("pings every heartbeat interval and closes with 1002 on a missed pong", async () => {
    const broker = await start({ heartbeatIntervalMs: 150 })
    const healthy = await ScriptedRunner.register(broker)
    const deaf = await ScriptedRunner.register(broker, ["javascript"], { autoPong: false })
    deaf.offer()
    const pending = submit(broker, js)
    await deaf.acceptNext()
    expect((await deaf.closed).code).toBe(1002)
    expect((await pending).body.error?.["message"]).toBe("Task execution aborted because runner became unresponsive")
    await quiet(200)
    expect(healthy.pings).toBeGreaterThanOrEqual(2)
    expect(healthy.socket.readyState).toBe(healthy.socket.OPEN)
  })

  it("a second runner with the same id replaces the first; the first's tasks fail", async () => {
    const broker = await start()
    const first = await ScriptedRunner.register(broker, ["javascript"], { id: "same-id" })
    first.offer()
    const pending = submit(broker, js)
    await first.acceptNext()
    const second = await ScriptedRunner.register(broker, ["javascript"], { id: "same-id" })
    expect((await first.closed).code).toBe(1000)
    expect((await pending).body.error?.["message"]).toBe("Node execution failed")
    expect(
      broker.logs.some((l) =>
        l.includes(`registered as "same-id", an ID another live runner holds, and replaced its connection.`)
      )
    )
      .toBe(true)
    second.offer()
    const next = submit(broker, js)
    const { taskId } = await second.acceptNext()
    second.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await next).body.status).toBe("success")
  })

  it("messages for tasks the broker does not track are ignored", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.send({ type: "runner:taskdone", taskId: "unknown1", data: { result: [] } })
    runner.send({ type: "runner:taskaccepted", taskId: "unknown2" })
    runner.send({ type: "runner:rpc", callId: "c", taskId: "unknown3", name: "logNodeOutput", params: [] })
    expect(await runner.receives("broker:rpcresponse", 200)).toBe(false)
    expect(runner.socket.readyState).toBe(runner.socket.OPEN)
  })
})

describe("malformed frames", () => {
  it("are logged, never crash the broker, and do not disturb other runners", async () => {
    const broker = await start()
    const bad = await ScriptedRunner.register(broker)
    const good = await ScriptedRunner.register(broker)
    for (
      const frame of [
        "{",
        "[]",
        "{\"type\":\"runner:explode\"}",
        "{\"type\":\"runner:taskoffer\",\"offerId\":1}",
        "{\"__proto__\":{}}"
      ]
    ) {
      bad.sendRaw(frame)
    }
    bad.sendRaw(Buffer.from([0xff, 0xfe, 0x00]))
    await quiet(100)
    expect(broker.logs.filter((l) => l.includes(`Runner "${bad.id}" sent an invalid message`))).toHaveLength(6)
    expect(broker.logs.some((l) => l.includes(`unknown message type "runner:explode"`))).toBe(true)
    expect(bad.socket.readyState).toBe(bad.socket.OPEN)
    good.offer()
    const pending = submit(broker, js)
    const { taskId } = await good.acceptNext()
    good.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.status).toBe("success")
  })

  it("a malformed taskdone fails that task with a clear error instead of leaving it hanging", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    runner.send({ type: "runner:taskdone", taskId, data: "not an object" })
    const { body } = await pending
    expect(body.error?.["message"]).toBe("The task runner sent an invalid message")
    expect(String(body.error?.["description"])).toMatch(/Malformed "runner:taskdone" message at data/)
  })
})

describe("cancellation", () => {
  it("cancels a running task by the caller's id: broker:taskcancel, then n8n's cancel error", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, { ...js, id: "my-task" })
    const { taskId } = await runner.acceptNext()
    const res = await fetch(`${broker.url}/api/tasks/my-task/cancel`, { method: "POST" })
    expect(await res.json()).toEqual({ cancelled: true })
    expect(await runner.next("broker:taskcancel")).toEqual({
      type: "broker:taskcancel",
      taskId,
      reason: "Task cancelled by user"
    })
    expect((await pending).body.error).toEqual({ message: "Task cancelled: Task cancelled by user" })
  })

  it("cancels by task id, and a request still waiting for a runner", async () => {
    const broker = await start()
    const pending = submit(broker, { ...js, id: "waiting" })
    await quiet(50)
    expect((await fetch(`${broker.url}/api/tasks/waiting/cancel`, { method: "POST" })).status).toBe(200)
    expect((await pending).body.error?.["message"]).toBe("Task cancelled: Task cancelled by user")
    expect((await fetch(`${broker.url}/api/tasks/nothing/cancel`, { method: "POST" })).status).toBe(404)

    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const second = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    expect((await fetch(`${broker.url}/api/tasks/${taskId}/cancel`, { method: "POST" })).status).toBe(200)
    expect((await second).body.error?.["message"]).toBe("Task cancelled: Task cancelled by user")
  })

  it("refuses a second submission with the id of one still running", async () => {
    const broker = await start()
    const first = submit(broker, { ...js, id: "dup" })
    await quiet(50)
    const second = await submit(broker, { ...js, id: "dup" })
    expect(second.status).toBe(409)
    await fetch(`${broker.url}/api/tasks/dup/cancel`, { method: "POST" })
    await first
  })

  it("lists pending, running and finished submissions", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, { ...js, id: "listed" })
    const { taskId } = await runner.acceptNext()
    const running = (await (await fetch(`${broker.url}/api/tasks`)).json()) as Array<Record<string, unknown>>
    expect(running).toMatchObject([{ id: "listed", status: "running", taskIds: [taskId], runnerId: runner.id }])
    runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    await pending
    const done = (await (await fetch(`${broker.url}/api/tasks`)).json()) as Array<Record<string, unknown>>
    expect(done).toMatchObject([{ id: "listed", status: "success", error: null }])
  })
})

describe("per-item JavaScript tasks are split into 1000-item chunks, as n8n does", () => {
  it("runs one task per chunk and joins the results in order", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    const items = Array.from({ length: 2500 }, (_, n) => ({ json: { n } }))
    const pending = submit(broker, { ...js, nodeMode: "runOnceForEachItem", items })
    const chunks: Array<unknown> = []
    for (let i = 0; i < 3; i++) {
      runner.offer()
      const { settings, taskId } = await runner.acceptNext()
      const chunk = settings["chunk"] as { startIndex: number; count: number }
      chunks.push(chunk)
      runner.send({
        type: "runner:taskdatarequest",
        taskId,
        requestId: `r${i}`,
        requestParams: { dataOfNodes: [], prevNode: false, input: { include: true, chunk }, env: false }
      })
      const response = await runner.next<{ data: { inputData: { main: Array<Array<{ json: { n: number } }>> } } }>(
        "broker:taskdataresponse"
      )
      const slice = response.data.inputData.main[0]!
      expect(slice).toHaveLength(chunk.count)
      expect(slice[0]!.json.n).toBe(chunk.startIndex)
      const result = slice.map((item, k) => ({
        json: { double: item.json.n * 2 },
        pairedItem: { item: chunk.startIndex + k }
      }))
      runner.send({ type: "runner:taskdone", taskId, data: { result } })
    }
    expect(chunks).toEqual([{ startIndex: 0, count: 1000 }, { startIndex: 1000, count: 1000 }, {
      startIndex: 2000,
      count: 500
    }])
    const { body } = await pending
    expect(body.status).toBe("success")
    expect(body["taskIds"]).toHaveLength(3)
    const result = body.result as Array<{ json: { double: number }; pairedItem: { item: number } }>
    expect(result).toHaveLength(2500)
    expect(result[2499]).toEqual({ json: { double: 4998 }, pairedItem: { item: 2499 } })
  })

  it("checks each per-item result like n8n", async () => {
    const broker = await start()
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, { ...js, nodeMode: "runOnceForEachItem", items: [{ json: {} }, { json: {} }] })
    const { taskId } = await runner.acceptNext()
    runner.send({
      type: "runner:taskdone",
      taskId,
      data: { result: [{ json: { ok: true }, pairedItem: { item: 0 } }, { json: 7, pairedItem: { item: 1 } }] }
    })
    expect((await pending).body.error).toEqual({
      message: "A 'json' property isn't an object",
      description: "In the returned data, every key named 'json' must point to an object.",
      itemIndex: 1
    })
  })
})

describe("drain (SIGTERM)", () => {
  it("sends broker:drain, lets running tasks finish, then closes with 1001", async () => {
    const broker = await start({ gracefulShutdownTimeoutMs: 5000 })
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    const stopping = broker.stop()
    await runner.next("broker:drain")
    // New requests are refused at once while draining (the HTTP server no longer accepts connections).
    const late = await Effect.runPromise(
      broker.broker.submit(resolveSubmission({ taskType: "javascript", code: "" }, "late"))
    )
    expect(late.error?.message).toBe("Task request timed out")
    runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    expect((await pending).body.status).toBe("success")
    expect((await runner.closed).code).toBe(1001)
    await stopping
  })

  it("aborts tasks still running at the drain deadline with n8n's shutdown texts", async () => {
    const broker = await start({ gracefulShutdownTimeoutMs: 1000 })
    const runner = await ScriptedRunner.register(broker)
    runner.offer()
    const pending = submit(broker, js)
    const { taskId } = await runner.acceptNext()
    const stopping = broker.stop()
    await runner.next("broker:drain")
    expect(await runner.next("broker:taskcancel", 2000)).toEqual({
      type: "broker:taskcancel",
      taskId,
      reason: "Task aborted because this n8n instance is shutting down"
    })
    expect((await pending).body.error?.["message"]).toBe("Task aborted because the n8n instance was shutting down")
    expect((await runner.closed).code).toBe(1001)
    await stopping
  })
})
