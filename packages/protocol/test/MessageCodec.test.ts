import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { BrokerMessage, MessageCodec, RunnerMessage } from "../src/index.js"
import type { MalformedFrame } from "../src/index.js"
import { fixture, fixtures } from "./fixtures.js"

const left = <A>(result: Either.Either<A, MalformedFrame>): MalformedFrame => {
  if (Either.isRight(result)) throw new Error(`expected a decoding failure, got ${JSON.stringify(result.right)}`)
  return result.left
}

const right = <A, E>(result: Either.Either<A, E>): A => {
  if (Either.isLeft(result)) throw new Error(`expected success, got ${String(result.left)}`)
  return result.right
}

describe("fixtures: every message type of the spec", () => {
  const brokerTypes = Object.keys(BrokerMessage.schemas)
  const runnerTypes = Object.keys(RunnerMessage.schemas)

  it("has exactly one fixture per message type", () => {
    expect([...fixtures("broker").keys()].map((n) => `broker:${n}`).sort()).toEqual([...brokerTypes].sort())
    expect([...fixtures("runner").keys()].map((n) => `runner:${n}`).sort()).toEqual([...runnerTypes].sort())
    expect(brokerTypes).toHaveLength(9)
    expect(runnerTypes).toHaveLength(10)
  })

  for (const type of brokerTypes) {
    it(`${type}: decodes and re-encodes to the same JSON`, () => {
      const { compact, text } = fixture("broker", type.slice("broker:".length))
      const decoded = right(MessageCodec.decodeBrokerMessage(text))
      expect(decoded.type).toBe(type)
      expect(right(MessageCodec.encodeBrokerMessage(decoded))).toBe(compact)
      // Binary frames (Buffer, ArrayBuffer, fragments) decode the same as text frames.
      const bytes = Buffer.from(text, "utf8")
      expect(right(MessageCodec.decodeBrokerMessage(bytes))).toEqual(decoded)
      expect(right(MessageCodec.decodeBrokerMessage(new Uint8Array(bytes).buffer))).toEqual(decoded)
      expect(right(MessageCodec.decodeBrokerMessage([bytes.subarray(0, 5), bytes.subarray(5)]))).toEqual(decoded)
    })
  }

  for (const type of runnerTypes) {
    it(`${type}: decodes and re-encodes to the same JSON`, () => {
      const { compact, text } = fixture("runner", type.slice("runner:".length))
      const decoded = right(MessageCodec.decodeRunnerMessage(text))
      expect(decoded.type).toBe(type)
      expect(right(MessageCodec.encodeRunnerMessage(decoded))).toBe(compact)
    })
  }

  it("a launcher offer that never expires (validFor -1) is valid", () => {
    const frame = `{"type":"runner:taskoffer","offerId":"0123456789abcdef","taskType":"python","validFor":-1}`
    expect(right(MessageCodec.encodeRunnerMessage(right(MessageCodec.decodeRunnerMessage(frame))))).toBe(frame)
  })

  it("a Python runner's taskdone carries only the result", () => {
    const frame = `{"type":"runner:taskdone","taskId":"t1","data":{"result":null}}`
    expect(right(MessageCodec.encodeRunnerMessage(right(MessageCodec.decodeRunnerMessage(frame))))).toBe(frame)
  })

  it("an rpcresponse without data (the helper returned undefined) is valid", () => {
    const frame = `{"type":"broker:rpcresponse","callId":"c1","taskId":"t1","status":"success"}`
    expect(right(MessageCodec.encodeBrokerMessage(right(MessageCodec.decodeBrokerMessage(frame))))).toBe(frame)
  })

  it("the dataOfNodes \"all\" form of a data request is valid", () => {
    const frame = JSON.stringify({
      type: "runner:taskdatarequest",
      taskId: "t1",
      requestId: "r1",
      requestParams: { dataOfNodes: "all", prevNode: true, input: { include: true }, env: true }
    })
    expect(right(MessageCodec.encodeRunnerMessage(right(MessageCodec.decodeRunnerMessage(frame))))).toBe(frame)
  })
})

describe("encoding", () => {
  it("never writes undefined keys and keeps camelCase", () => {
    const encoded = right(
      MessageCodec.encodeRunnerMessage({ type: "runner:taskdone", taskId: "t", data: { result: [] } })
    )
    expect(encoded).toBe(`{"type":"runner:taskdone","taskId":"t","data":{"result":[]}}`)
  })

  it("refuses a message that does not match its schema, naming the field", () => {
    const bad = { type: "runner:taskoffer", offerId: "o", taskType: "javascript", validFor: -5 } as const
    const result = MessageCodec.encodeRunnerMessage(bad)
    expect(Either.isLeft(result)).toBe(true)
    expect(Either.isLeft(result) && result.left.message).toMatch(/runner:taskoffer.*validFor/)
  })

  it("refuses a value JSON cannot represent instead of throwing", () => {
    const result = MessageCodec.encodeRunnerMessage({ type: "runner:taskdone", taskId: "t", data: { result: 10n } })
    expect(Either.isLeft(result)).toBe(true)
  })
})

const decode = (frame: MessageCodec.Frame) => left(MessageCodec.decodeRunnerMessage(frame, { maxBytes: 1024 }))

describe("malformed frames give typed errors, never throw", () => {
  it("truncated JSON", () => {
    const error = decode(`{"type":"runner:taskaccepted","taskId":"t`)
    expect(error._tag).toBe("MalformedFrame")
    expect(error.reason).toBe("InvalidJson")
    expect(error.message).toMatch(/^Malformed runner frame: invalid JSON/)
  })

  it("non-object JSON", () => {
    for (const frame of ["[]", "42", "null", `"runner:info"`, "true"]) {
      expect(decode(frame).reason).toBe("NotAnObject")
    }
    expect(decode("[1]").detail).toBe("expected a JSON object, got an array")
  })

  it("a missing or non-string type", () => {
    expect(decode(`{"taskId":"t"}`).reason).toBe("MissingType")
    expect(decode(`{"type":7}`).reason).toBe("MissingType")
  })

  it("an unknown type names it", () => {
    const error = decode(`{"type":"runner:selfdestruct"}`)
    expect(error.reason).toBe("UnknownType")
    expect(error.message).toBe(`Malformed runner frame: unknown message type "runner:selfdestruct"`)
    // A broker message sent the wrong way is unknown to the runner-side decoder, and vice versa.
    expect(decode(`{"type":"broker:drain"}`).reason).toBe("UnknownType")
    expect(left(MessageCodec.decodeBrokerMessage(`{"type":"runner:info"}`)).reason).toBe("UnknownType")
  })

  it("a wrong field type gives the path and what was expected", () => {
    const error = decode(`{"type":"runner:taskoffer","offerId":"o","taskType":"javascript","validFor":"soon"}`)
    expect(error.reason).toBe("InvalidField")
    expect(error.messageType).toBe("runner:taskoffer")
    expect(error.path).toBe("validFor")
    expect(error.message).toBe(`Malformed "runner:taskoffer" message at validFor: expected number, got "soon"`)
  })

  it("a missing field is named", () => {
    const error = decode(`{"type":"runner:taskrejected","taskId":"t"}`)
    expect(error.path).toBe("reason")
    expect(error.detail).toBe("is missing")
  })

  it("a nested wrong field gives the full path", () => {
    const error = decode(JSON.stringify({
      type: "runner:taskdatarequest",
      taskId: "t",
      requestId: "r",
      requestParams: { dataOfNodes: ["A", 3], prevNode: false, input: { include: true }, env: false }
    }))
    expect(error.path).toBe("requestParams.dataOfNodes[1]")
  })

  it("a huge string in the wrong place is reported without echoing it", () => {
    const huge = "x".repeat(5_000_000)
    const error = left(MessageCodec.decodeRunnerMessage(`{"type":"runner:taskaccepted","taskId":7,"pad":"${huge}"}`))
    expect(error.path).toBe("taskId")
    const errorWithHugeValue = left(
      MessageCodec.decodeRunnerMessage(`{"type":"runner:taskoffer","offerId":"o","taskType":"js","validFor":"${huge}"}`)
    )
    expect(errorWithHugeValue.message.length).toBeLessThan(300)
  })

  it("a frame over the byte limit is rejected before parsing", () => {
    const error = decode(`{"type":"runner:taskaccepted","taskId":"${"y".repeat(2000)}"}`)
    expect(error.reason).toBe("TooLarge")
    expect(decode(Buffer.alloc(2048, 0x20)).reason).toBe("TooLarge")
  })

  it("invalid UTF-8 in a binary frame", () => {
    const error = decode(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
    expect(error.reason).toBe("InvalidUtf8")
  })

  it("__proto__ keys anywhere are refused, also when written with escapes", () => {
    const plain = decode(
      `{"type":"runner:taskdone","taskId":"t","data":{"result":[{"json":{"__proto__":{"polluted":1}}}]}}`
    )
    expect(plain.reason).toBe("ForbiddenKey")
    expect(plain.path).toBe(`data.result[0].json.__proto__`)
    const escaped = decode(`{"type":"runner:taskerror","taskId":"t","error":{"\\u005f_proto__":{"polluted":1}}}`)
    expect(escaped.reason).toBe("ForbiddenKey")
    const top = decode(`{"__proto__":{"polluted":1},"type":"runner:taskdeferred","taskId":"t"}`)
    expect(top.reason).toBe("ForbiddenKey")
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
  })

  it("decoded objects keep the ordinary prototype and strip unknown envelope fields", () => {
    const decoded = right(MessageCodec.decodeBrokerMessage(
      `{"type":"broker:tasksettings","taskId":"t","addedInN8n3":true,"settings":{"constructor":{"prototype":{"x":1}},"code":"1"}}`
    ))
    expect(decoded).toEqual({
      type: "broker:tasksettings",
      taskId: "t",
      settings: { constructor: { prototype: { x: 1 } }, code: "1" }
    })
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    if (decoded.type !== "broker:tasksettings") throw new Error("wrong type")
    expect(Object.getPrototypeOf(decoded.settings)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined()
  })

  it("extra fields are tolerated (n8n adds fields over time)", () => {
    const decoded = right(
      MessageCodec.decodeBrokerMessage(`{"type":"broker:drain","reason":"upgrade","budgetMs":24000}`)
    )
    expect(decoded).toEqual({ type: "broker:drain" })
  })
})
