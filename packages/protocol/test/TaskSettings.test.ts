import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { MessageCodec } from "../src/index.js"
import { fixture } from "./fixtures.js"

const settingsOf = (name: string): unknown => JSON.parse(fixture("payload", name).text)

describe("python task settings (spec 4.1)", () => {
  it("decodes n8n's settings with items inline, keeping every item key", () => {
    const decoded = MessageCodec.decodeTaskSettings.python(settingsOf("python-settings"))
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isLeft(decoded)) return
    expect(decoded.right.nodeMode).toBe("runOnceForAllItems")
    expect(decoded.right.continueOnFail).toBe(true)
    expect(decoded.right.items).toHaveLength(2)
    // Items are passed through by reference: `index` and `binary` survive untouched.
    expect(decoded.right.items[1]).toEqual({
      json: { n: 2 },
      binary: { data: { mimeType: "text/plain", data: "aGk=" } },
      index: 1
    })
  })

  it("decodes the tool variant with a query", () => {
    const decoded = MessageCodec.decodeTaskSettings.python(settingsOf("python-tool-settings"))
    expect(Either.isRight(decoded) && decoded.right.query).toEqual({ city: "Berlin" })
  })

  it("needs only code, nodeMode and items (the parser's defaults cover the rest)", () => {
    const decoded = MessageCodec.decodeTaskSettings.python({
      code: "return _items",
      nodeMode: "runOnceForEachItem",
      items: []
    })
    expect(Either.isRight(decoded)).toBe(true)
  })

  it("rejects an unknown nodeMode, naming the accepted values", () => {
    const decoded = MessageCodec.decodeTaskSettings.python({ code: "", nodeMode: "sometimes", items: [] })
    expect(Either.isLeft(decoded) && decoded.left.message).toBe(
      `Malformed "broker:tasksettings" message at settings.nodeMode: expected "runOnceForAllItems" | "runOnceForEachItem", got "sometimes"`
    )
  })

  it("rejects an item without a json object", () => {
    const decoded = MessageCodec.decodeTaskSettings.python({
      code: "",
      nodeMode: "runOnceForAllItems",
      items: [{ json: 1 }]
    })
    expect(Either.isLeft(decoded) && decoded.left.path).toBe("settings.items[0]")
    expect(Either.isLeft(decoded) && decoded.left.detail).toMatch(/an item object with a `json` object/)
  })

  it("rejects missing items", () => {
    const decoded = MessageCodec.decodeTaskSettings.python({ code: "", nodeMode: "runOnceForAllItems" })
    expect(Either.isLeft(decoded) && decoded.left.path).toBe("settings.items")
  })
})

describe("javascript task settings (spec 4.2)", () => {
  const base = { code: "return items", workflowMode: "manual", continueOnFail: false }

  it("decodes the settings of a broker:tasksettings fixture", () => {
    const message = MessageCodec.decodeBrokerMessage(fixture("broker", "tasksettings").text)
    if (Either.isLeft(message) || message.right.type !== "broker:tasksettings") {
      throw new Error("fixture did not decode")
    }
    const settings = MessageCodec.decodeTaskSettings.javascript(message.right.settings)
    expect(Either.isRight(settings) && settings.right.chunk).toEqual({ startIndex: 1000, count: 1000 })
  })

  it("accepts every node mode, including the raw runCode mode", () => {
    for (const nodeMode of ["runOnceForAllItems", "runOnceForEachItem", "runCode"]) {
      expect(Either.isRight(MessageCodec.decodeTaskSettings.javascript({ ...base, nodeMode }))).toBe(true)
    }
  })

  it("forbids chunk outside per-item mode", () => {
    const decoded = MessageCodec.decodeTaskSettings.javascript({
      ...base,
      nodeMode: "runOnceForAllItems",
      chunk: { startIndex: 0, count: 10 }
    })
    expect(Either.isLeft(decoded) && decoded.left.message).toBe(
      `Malformed "broker:tasksettings" message at settings: chunk is only allowed with nodeMode "runOnceForEachItem", got "runOnceForAllItems"`
    )
  })

  it("rejects a negative chunk index", () => {
    const decoded = MessageCodec.decodeTaskSettings.javascript({
      ...base,
      nodeMode: "runOnceForEachItem",
      chunk: { startIndex: -1, count: 10 }
    })
    expect(Either.isLeft(decoded) && decoded.left.path).toBe("settings.chunk.startIndex")
  })

  it("rejects non-object settings", () => {
    const decoded = MessageCodec.decodeTaskSettings.javascript("return 1")
    expect(Either.isLeft(decoded) && decoded.left.path).toBe("settings")
  })
})

describe("data-request response (spec 4.3)", () => {
  const message = MessageCodec.decodeBrokerMessage(fixture("broker", "taskdataresponse").text)
  if (Either.isLeft(message) || message.right.type !== "broker:taskdataresponse") {
    throw new Error("fixture did not decode")
  }
  const data = message.right.data

  it("decodes what the runner reads and keeps every other key", () => {
    const decoded = MessageCodec.decodeDataRequestResponse(data)
    if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
    const response = decoded.right
    expect(response.inputData.main?.[0]).toEqual([{ json: { n: 1 }, pairedItem: { item: 0 } }])
    expect(response.runExecutionData.resultData.runData["Webhook"]?.[0]?.data?.["main"]?.[0]?.[0]?.json).toEqual({
      n: 1
    })
    expect(response.envProviderState).toEqual({ env: {}, isEnvAccessBlocked: false, isProcessAvailable: true })
    expect(response.workflow.nodes.map((node) => node.name)).toEqual(["Webhook", "Code"])
    // Untyped keys (n8n's `version`, `startData`, node `position`) are kept.
    expect(response.runExecutionData["version"]).toBe(1)
    expect(response.node["position"]).toEqual([200, 0])
    expect(response).toEqual(data)
  })

  it("accepts an inputData of {} when input was not requested", () => {
    const decoded = MessageCodec.decodeDataRequestResponse({ ...(data as object), inputData: {} })
    expect(Either.isRight(decoded)).toBe(true)
  })

  it("names a wrong field", () => {
    const decoded = MessageCodec.decodeDataRequestResponse({ ...(data as object), runIndex: "0" })
    expect(Either.isLeft(decoded) && decoded.left.message).toBe(
      `Malformed "broker:taskdataresponse" message at data.runIndex: expected number, got "0"`
    )
  })
})

describe("task error payload (spec 4.6)", () => {
  it("decodes the Python shape", () => {
    const decoded = MessageCodec.decodeTaskErrorPayload(JSON.parse(fixture("payload", "python-error").text))
    expect(Either.isRight(decoded) && decoded.right.message).toBe("Security violations detected")
  })

  it("decodes the JavaScript shape with lineNumber, itemIndex and extra keys", () => {
    const message = MessageCodec.decodeRunnerMessage(fixture("runner", "taskerror").text)
    if (Either.isLeft(message) || message.right.type !== "runner:taskerror") throw new Error("fixture did not decode")
    const decoded = MessageCodec.decodeTaskErrorPayload(message.right.error)
    if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
    expect(decoded.right.lineNumber).toBe(3)
    expect(decoded.right.itemIndex).toBe(2)
    expect(decoded.right.description).toBe("TypeError")
    expect(decoded.right["context"]).toEqual({ itemIndex: 2 })
  })

  it("accepts a null description (a plain Error in the JS runner)", () => {
    expect(Either.isRight(MessageCodec.decodeTaskErrorPayload({ message: "boom", description: null }))).toBe(true)
  })
})
