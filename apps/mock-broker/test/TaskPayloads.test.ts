import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ScriptedRunner, startBroker, submit } from "./harness.js"
import type { RunningBroker } from "./harness.js"

let broker: RunningBroker
let runner: ScriptedRunner
beforeAll(async () => {
  broker = await startBroker()
  runner = await ScriptedRunner.register(broker, ["javascript", "python"])
})
afterAll(() => broker.stop())

const submission = {
  taskType: "javascript",
  code: "return $input.all()",
  items: [{ json: { n: 0 } }, { json: { n: 1 } }, { json: { n: 2 } }],
  runData: {
    Webhook: [{ json: { body: "hi" } }],
    "Edit Fields": [{ json: { name: "Ada" } }]
  },
  env: { API_BASE: "https://example.test" }
}

type Response = {
  workflow: { nodes: Array<{ name: string; type: string }>; connections: Record<string, unknown> }
  inputData: Record<string, unknown>
  connectionInputSource: unknown
  node: { name: string; parameters: Record<string, unknown> }
  runExecutionData: {
    resultData: { runData: Record<string, Array<{ data: { main: Array<unknown> } }>>; lastNodeExecuted?: string }
  }
  envProviderState: { env: Record<string, string> }
  activeNodeName: string
  additionalData: { executionId: string }
}

/** Runs one task whose runner asks for `requestParams`, and returns what the broker answered. */
const dataFor = async (
  requestParams: Record<string, unknown>,
  extra: Record<string, unknown> = {}
): Promise<Response> => {
  runner.offer()
  const pending = submit(broker, { ...submission, ...extra })
  const { taskId } = await runner.acceptNext()
  runner.send({ type: "runner:taskdatarequest", taskId, requestId: "r", requestParams })
  const { data } = await runner.next<{ data: Response }>("broker:taskdataresponse")
  runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
  await pending
  expect(data.additionalData.executionId).toBe((extra["executionId"] as string | undefined) ?? taskId)
  return data
}

const base = { dataOfNodes: [], prevNode: false, input: { include: false }, env: false }

describe("data-request responses honour every request parameter (spec 4.3)", () => {
  it("nothing requested: no input, no run data, no env", async () => {
    const data = await dataFor(base)
    expect(data.inputData).toEqual({})
    expect(data.runExecutionData.resultData.runData).toEqual({})
    expect(data.envProviderState.env).toEqual({})
    // The workflow, the node and the previous node are always there.
    expect(data.workflow.nodes.map((n) => n.name)).toEqual(["Webhook", "Edit Fields", "Code"])
    expect(data.workflow.connections).toEqual({
      Webhook: { main: [[{ node: "Edit Fields", type: "main", index: 0 }]] },
      "Edit Fields": { main: [[{ node: "Code", type: "main", index: 0 }]] }
    })
    expect(data.node.name).toBe("Code")
    expect(data.node.parameters["jsCode"]).toBe("return $input.all()")
    expect(data.activeNodeName).toBe("Code")
    expect(data.connectionInputSource).toEqual({
      main: [{ previousNode: "Edit Fields", previousNodeOutput: 0, previousNodeRun: 0 }]
    })
  })

  it("input.include: all input items", async () => {
    const data = await dataFor({ ...base, input: { include: true } })
    expect(data.inputData).toEqual({ main: [submission.items] })
  })

  it("input.chunk: only that slice", async () => {
    const data = await dataFor({ ...base, input: { include: true, chunk: { startIndex: 1, count: 1 } } })
    expect(data.inputData).toEqual({ main: [[{ json: { n: 1 } }]] })
  })

  it("dataOfNodes by name: only those nodes' run data", async () => {
    const data = await dataFor({ ...base, dataOfNodes: ["Webhook"] })
    expect(Object.keys(data.runExecutionData.resultData.runData)).toEqual(["Webhook"])
    expect(data.runExecutionData.resultData.runData["Webhook"]?.[0]?.data.main).toEqual([[{ json: { body: "hi" } }]])
  })

  it("prevNode: the previous node's run data too", async () => {
    const data = await dataFor({ ...base, dataOfNodes: ["Webhook"], prevNode: true })
    expect(Object.keys(data.runExecutionData.resultData.runData).sort()).toEqual(["Edit Fields", "Webhook"])
    expect(data.runExecutionData.resultData.lastNodeExecuted).toBe("Edit Fields")
  })

  it("dataOfNodes \"all\": every node", async () => {
    const data = await dataFor({ ...base, dataOfNodes: "all" })
    expect(Object.keys(data.runExecutionData.resultData.runData)).toEqual(["Webhook", "Edit Fields"])
  })

  it("env: the submission's env values", async () => {
    const data = await dataFor({ ...base, env: true })
    expect(data.envProviderState).toEqual({
      env: { API_BASE: "https://example.test" },
      isEnvAccessBlocked: false,
      isProcessAvailable: true
    })
  })

  it("a named previous node without run data, a custom node name, and given workflow nodes", async () => {
    const data = await dataFor(base, {
      runData: {},
      previousNode: "Trigger",
      nodeName: "Transform",
      workflow: {
        nodes: [{ name: "Trigger", type: "n8n-nodes-base.manualTrigger", typeVersion: 1 }],
        connections: { Trigger: { main: [[{ node: "Transform", type: "main", index: 0 }]] } }
      }
    })
    expect(data.workflow.nodes.map((n) => `${n.name}:${n.type}`)).toEqual([
      "Trigger:n8n-nodes-base.manualTrigger",
      "Transform:n8n-nodes-base.code"
    ])
    expect(data.connectionInputSource).toEqual({
      main: [{ previousNode: "Trigger", previousNodeOutput: 0, previousNodeRun: 0 }]
    })
  })
})

describe("submission extras", () => {
  it("executionId: the execution's id in the data response", async () => {
    const data = await dataFor({ dataOfNodes: [], prevNode: false, input: { include: false }, env: false }, {
      executionId: "exec-42"
    })
    expect(data.additionalData.executionId).toBe("exec-42")
  })

  it("query: a Python task's settings carry it (as for n8n's Code tool)", async () => {
    runner.offer("python")
    const pending = submit(broker, { taskType: "python", code: "return _query", query: { city: "Berlin" } })
    const { settings, taskId } = await runner.acceptNext()
    expect(settings["query"]).toEqual({ city: "Berlin" })
    runner.send({ type: "runner:taskdone", taskId, data: { result: [] } })
    await pending
  })
})
