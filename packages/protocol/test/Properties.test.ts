import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc } from "effect"
import type { Schema } from "effect"
import { BrokerMessage, MessageCodec, RunnerMessage, TaskSettings, WorkerMessage } from "../src/index.js"
import { fixtures } from "./fixtures.js"

const runs = { numRuns: 200 }

const roundTrips = <M extends { readonly type: string }>(
  schema: Schema.Schema<M>,
  encode: (message: M) => Either.Either<string, unknown>,
  decode: (frame: string) => Either.Either<unknown, unknown>
) =>
  fc.assert(
    fc.property(Arbitrary.make(schema), (message) => {
      const frame = encode(message)
      if (Either.isLeft(frame)) throw new Error(`encode failed: ${String(frame.left)}`)
      const decoded = decode(frame.right)
      if (Either.isLeft(decoded)) throw new Error(`decode failed: ${String(decoded.left)} for ${frame.right}`)
      // JSON is the contract: compare as JSON (it cannot tell -0 from 0).
      expect(JSON.stringify(decoded.right)).toBe(frame.right)
    }),
    runs
  )

describe("encode/decode round-trips for every message", () => {
  for (const [type, schema] of Object.entries(BrokerMessage.schemas)) {
    it(
      type,
      () =>
        roundTrips(
          schema as Schema.Schema<BrokerMessage.BrokerMessage>,
          MessageCodec.encodeBrokerMessage,
          (f) => MessageCodec.decodeBrokerMessage(f)
        )
    )
  }
  for (const [type, schema] of Object.entries(RunnerMessage.schemas)) {
    it(
      type,
      () =>
        roundTrips(
          schema as Schema.Schema<RunnerMessage.RunnerMessage>,
          MessageCodec.encodeRunnerMessage,
          (f) => MessageCodec.decodeRunnerMessage(f)
        )
    )
  }

  it("python settings", () =>
    fc.assert(
      fc.property(Arbitrary.make(TaskSettings.PythonTaskSettings), (settings) => {
        const decoded = MessageCodec.decodeTaskSettings.python(JSON.parse(JSON.stringify(settings)))
        expect(Either.isRight(decoded)).toBe(true)
      }),
      runs
    ))
})

const assertSameJson = <M extends { readonly type: string }>(
  schema: Schema.Schema<M>,
  checked: (message: M) => Either.Either<string, unknown>,
  unchecked: (message: M) => Either.Either<string, unknown>
) =>
  fc.assert(
    // A key named `__proto__` never reaches an encoder: every decoder refuses it (the checked
    // encoder would drop it, the writer keep it).
    fc.property(Arbitrary.make(schema).filter((m) => !JSON.stringify(m).includes("\"__proto__\"")), (message) => {
      const expected = checked(message)
      const actual = unchecked(message)
      if (Either.isLeft(expected) || Either.isLeft(actual)) throw new Error("an encoder refused a valid message")
      expect(JSON.parse(actual.right)).toEqual(JSON.parse(expected.right))
    }),
    runs
  )

describe("the unchecked writers give the checked encoders' JSON", () => {
  for (const [type, schema] of Object.entries(RunnerMessage.schemas)) {
    it(
      type,
      () =>
        assertSameJson(
          schema as Schema.Schema<RunnerMessage.RunnerMessage>,
          MessageCodec.encodeRunnerMessage,
          MessageCodec.writeRunnerMessage
        )
    )
  }
  it("messages to a child process", () =>
    assertSameJson(WorkerMessage.ToWorker, MessageCodec.encodeToWorker, MessageCodec.writeToWorker))
})

const noThrow = (frame: MessageCodec.Frame) => {
  const broker = MessageCodec.decodeBrokerMessage(frame, { maxBytes: 1 << 20 })
  const runner = MessageCodec.decodeRunnerMessage(frame, { maxBytes: 1 << 20 })
  if (!Either.isEither(broker) || !Either.isEither(runner)) throw new Error("the decoder returned something else")
  if (({} as Record<string, unknown>)["polluted"] !== undefined) throw new Error("Object.prototype was polluted")
}

describe("the decoder never throws and never pollutes prototypes", () => {
  it("random strings", () => fc.assert(fc.property(fc.string({ unit: "binary" }), noThrow), { numRuns: 500 }))

  it("random bytes", () =>
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (b) => noThrow(Buffer.from(b))), { numRuns: 500 }))

  it("random JSON objects, with and without a known type and hostile keys", () => {
    const types = [...Object.keys(BrokerMessage.schemas), ...Object.keys(RunnerMessage.schemas), "x:y"]
    const hostileKey = fc.constantFrom("__proto__", "constructor", "prototype", "\\u005f_proto__", "toString")
    const key = fc.oneof(fc.string({ maxLength: 10 }), hostileKey)
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 1 }),
        fc.dictionary(key, tie("v"), { maxKeys: 4 }),
        fc.array(tie("v"), { maxLength: 3 })
      )
    })).v
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.dictionary(key, value, { maxKeys: 6 }), (type, fields) => {
        // Build the text by hand so a `__proto__` key really reaches the frame.
        const body = Object.entries(fields).map(([k, v]) =>
          `${JSON.stringify(k).replace("\\\\u005f", "\\u005f")}:${JSON.stringify(v) ?? "null"}`
        )
        noThrow(`{"type":${JSON.stringify(type)}${body.length > 0 ? "," : ""}${body.join(",")}}`)
      }),
      { numRuns: 500 }
    )
  })

  it("mutations of every fixture (truncation, byte flips)", () => {
    const frames = [...fixtures("broker").values(), ...fixtures("runner").values()].map((f) => f.compact)
    fc.assert(
      fc.property(
        fc.constantFrom(...frames),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (frame, at, byte, cut) => {
          const bytes = Buffer.from(frame, "utf8")
          const i = at % bytes.length
          if (cut) noThrow(bytes.subarray(0, i))
          else {
            bytes[i] = byte
            noThrow(bytes)
          }
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("deep nesting", () => {
    const deep = `{"type":"runner:taskerror","taskId":"t","error":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
    noThrow(deep)
    noThrow(`{"type":"runner:taskerror","taskId":"t","error":${"{\"a\":".repeat(50_000)}1${"}".repeat(50_000)}}`)
  })
})
