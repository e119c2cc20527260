import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { analyzeJavaScript, defaultJsPolicy, makePythonAnalyzer } from "@taskrunner/analyzer"
import { attackJavaScript, attackPython, benignJavaScript, benignPython } from "@taskrunner/corpus"
import { wrapJavaScript } from "@taskrunner/protocol"
import { FastCheck as fc } from "effect"
import { execFileSync } from "node:child_process"
import { Script } from "node:vm"
import { WebSocket } from "ws"
import { cleanup, dataResponse, ScriptedBroker, startRunner } from "./harness.js"
import type { Started } from "./harness.js"

/**
 * Property-based fuzzing: random and mutated broker frames into a live runner (it stays up,
 * answers what it must, and other tasks complete), random task settings, and random code through
 * both analysers (never a throw, never an accepted snippet that does not parse).
 */

// ---------------------------------------------------------------------------------------------
// A broker scripted by the test, speaking to a real runner over a real WebSocket.

let broker: ScriptedBroker
let runner: Started

const next = (match: (m: Record<string, unknown>) => boolean, what: string, timeoutMs = 20_000) =>
  broker.take(match, what, timeoutMs)
const ofType = (type: string, taskId?: string) => (m: Record<string, unknown>) =>
  m["type"] === type && (taskId === undefined || m["taskId"] === taskId)

const send = (frame: string | Buffer) => broker.send(frame)
const sendJson = (message: Record<string, unknown>) => broker.send(message)

let taskCounter = 0

/** An offer the runner still honours (a second of margin). */
const live = (m: Record<string, unknown>) =>
  m["type"] === "runner:taskoffer" && Date.now() - (broker.arrived.get(m) ?? 0) < Number(m["validFor"]) - 1000

/**
 * Runs one task the way a broker does (offer -> accept -> settings -> data -> answer) and
 * returns the runner's answer: `runner:taskdone` or `runner:taskerror`.
 */
const runTask = async (settings: Record<string, unknown>, items: ReadonlyArray<unknown> = [{ json: { n: 1 } }]) => {
  const taskId = `task-${++taskCounter}`
  // The oldest offer that has not expired (expired ones are dropped, as a broker would).
  for (const stale of broker.inbox.filter((m) => ofType("runner:taskoffer")(m) && !live(m))) {
    broker.inbox.splice(broker.inbox.indexOf(stale), 1)
  }
  const offer = await next(live, "a live offer")
  sendJson({ type: "broker:taskofferaccept", taskId, offerId: offer["offerId"] })
  const accepted = await next(
    (m) => (m["type"] === "runner:taskaccepted" || m["type"] === "runner:taskrejected") && m["taskId"] === taskId,
    "an answer to the accept"
  )
  if (accepted["type"] === "runner:taskrejected") return accepted
  sendJson({ type: "broker:tasksettings", taskId, settings })
  for (;;) {
    const message = await next(
      (m) =>
        m["taskId"] === taskId &&
        ["runner:taskdatarequest", "runner:taskdone", "runner:taskerror", "runner:rpc"].includes(String(m["type"])),
      `an answer to task ${taskId}`
    )
    if (message["type"] === "runner:taskdatarequest") {
      sendJson({
        type: "broker:taskdataresponse",
        taskId,
        requestId: message["requestId"],
        data: dataResponse(items)
      })
      continue
    }
    if (message["type"] === "runner:rpc") {
      // Helper calls get an error answer (this broker serves none); console output needs none.
      if (message["name"] !== "logNodeOutput") {
        sendJson({ type: "broker:rpcresponse", callId: message["callId"], taskId, status: "error", data: "no helpers" })
      }
      continue
    }
    return message
  }
}

const ordinaryTaskWorks = async () => {
  const answer = await runTask({
    code: "return $input.all().map(i => ({ json: { n: i.json.n + 1 } }))",
    nodeMode: "runOnceForAllItems",
    continueOnFail: false
  })
  expect(answer).toMatchObject({ type: "runner:taskdone", data: { result: [{ json: { n: 2 } }] } })
}

beforeAll(async () => {
  broker = await ScriptedBroker.start()
  runner = startRunner(broker, {
    N8N_RUNNERS_MAX_CONCURRENCY: "3",
    N8N_RUNNERS_TASK_TYPES: "javascript",
    N8N_RUNNERS_TASK_TIMEOUT: "5",
    N8N_RUNNERS_WORKER_REUSE: "50"
  })
  await next(ofType("runner:info"), "runner:info")
  sendJson({ type: "broker:runnerregistered" })
  await next(ofType("runner:taskoffer"), "a first offer")
})

afterAll(async () => {
  await cleanup()
  broker.close()
})

// ---------------------------------------------------------------------------------------------
// Frames

const brokerTypes = [
  "broker:inforequest",
  "broker:runnerregistered",
  "broker:taskofferaccept",
  "broker:tasksettings",
  "broker:taskcancel",
  "broker:taskdataresponse",
  "broker:rpcresponse",
  "broker:nodetypes"
]
const hostileKey = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "type", "taskId")
const key = fc.oneof(fc.string({ maxLength: 8 }), hostileKey)
const json = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.jsonValue({ maxDepth: 1 }),
    fc.dictionary(key, tie("v"), { maxKeys: 4 }),
    fc.array(tie("v"), { maxLength: 3 })
  )
})).v
const validFrames = [
  { type: "broker:inforequest" },
  { type: "broker:runnerregistered" },
  { type: "broker:taskofferaccept", taskId: "fuzz-task", offerId: "no-such-offer" },
  { type: "broker:tasksettings", taskId: "fuzz-unknown", settings: { code: "return []", nodeMode: "runCode" } },
  { type: "broker:taskcancel", taskId: "fuzz-unknown", reason: "fuzz" },
  { type: "broker:taskdataresponse", taskId: "fuzz-unknown", requestId: "r", data: dataResponse([]) },
  { type: "broker:rpcresponse", callId: "c", taskId: "fuzz-unknown", status: "success", data: 1 },
  { type: "broker:nodetypes", nodeTypes: [] }
].map((m) => JSON.stringify(m))

/** A frame a broker should never send: random text or bytes, a random object, or a damaged real frame. */
const badFrame: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.constantFrom(...brokerTypes, "broker:x", "runner:info"), fc.dictionary(key, json, { maxKeys: 5 })).map((
    [type, fields]
  ) =>
    `{"type":${JSON.stringify(type)}${
      Object.entries(fields).map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`).join("")
    }}`
  ),
  fc.tuple(fc.constantFrom(...validFrames), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map((
    [frame, at, byte, cut]
  ) => {
    const bytes = Buffer.from(frame)
    const i = at % bytes.length
    if (cut) return bytes.subarray(0, i)
    bytes[i] = byte
    return bytes
  }),
  fc.constantFrom(
    `{"type":"broker:taskcancel","taskId":${"[".repeat(20_000)}${"]".repeat(20_000)}}`,
    `{"type":"broker:rpcresponse","__proto__":{"polluted":true}}`,
    `{"type":"broker:tasksettings","taskId":"x","settings":${JSON.stringify({ code: "x".repeat(100_000) })}}`
  )
)

describe("random and damaged broker frames into a live runner", () => {
  it("never take it down: it stays connected, and answers and runs tasks afterwards", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(badFrame, { minLength: 1, maxLength: 20 }), async (frames) => {
        for (const frame of frames) send(frame)
        // An information request is always answered, whatever came before it.
        sendJson({ type: "broker:inforequest" })
        await next(ofType("runner:info"), "runner:info after the frames")
        expect(runner.alive, runner.output.slice(-2000)).toBe(true)
        expect(broker.socket.readyState).toBe(WebSocket.OPEN)
      }),
      { numRuns: 200 }
    )
    await ordinaryTaskWorks()
  })

  it("every well-formed accept is answered: accepted for a live offer, rejected for any other", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 30 }), async (offerId) => {
        const taskId = `accept-${++taskCounter}`
        sendJson({ type: "broker:taskofferaccept", taskId, offerId })
        const answer = await next(
          (m) => m["taskId"] === taskId && String(m["type"]).startsWith("runner:task"),
          "an answer to the accept"
        )
        expect(answer).toEqual({ type: "runner:taskrejected", taskId, reason: expect.any(String) })
      }),
      { numRuns: 40 }
    )
    await ordinaryTaskWorks()
  })

  it("random settings fail their own task clearly, and never another", async () => {
    const settings = fc.oneof(
      fc.dictionary(key, json, { maxKeys: 6 }),
      fc.record({
        code: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom(...benignJavaScript.map((s) => s.code))),
        nodeMode: fc.oneof(fc.constantFrom("runOnceForAllItems", "runOnceForEachItem", "runCode"), json),
        continueOnFail: fc.oneof(fc.boolean(), json),
        chunk: fc.oneof(fc.constant(undefined), fc.record({ startIndex: json, count: json })),
        additionalProperties: fc.oneof(fc.constant(undefined), fc.dictionary(key, json, { maxKeys: 3 }))
      }, { requiredKeys: [] })
    )
    await fc.assert(
      fc.asyncProperty(settings, async (random) => {
        const answer = await runTask(random as Record<string, unknown>)
        // Answered at once: bad settings fail the task, they do not leave it to its deadline.
        expect(JSON.stringify(answer)).not.toMatch(/timed out/)
        expect(["runner:taskdone", "runner:taskerror"]).toContain(answer["type"])
        // An error names what went wrong (a non-empty message).
        const message = answer["type"] === "runner:taskerror"
          ? (answer["error"] as Record<string, unknown>)["message"]
          : "done"
        expect(typeof message === "string" && message.length > 0, JSON.stringify(answer)).toBe(true)
        expect(runner.alive).toBe(true)
      }),
      { numRuns: 150 }
    )
    await ordinaryTaskWorks()
  })
})

// ---------------------------------------------------------------------------------------------
// Code through the analysers

/** Does V8 accept the snippet as the executor compiles it? */
const v8Parses = (code: string): boolean => {
  try {
    return new Script(`(${wrapJavaScript(code)})`) instanceof Script
  } catch {
    return false
  }
}

/** Random edits of real snippets: cut, duplicate, insert a fragment, swap characters. */
const mutated = (sources: ReadonlyArray<string>) =>
  fc.tuple(
    fc.constantFrom(...sources),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom("cut", "dup", "insert", "swap"),
        fc.constantFrom("(", ")", "{", "}", "[", "'", "\"", "`", "\\", "\n", ":", "#", "=", ".", "__", "constructor")
      ),
      { maxLength: 4 }
    )
  ).map(([source, edits]) => {
    let code = source
    for (const [at, kind, fragment] of edits) {
      const i = code.length === 0 ? 0 : at % code.length
      if (kind === "cut") code = code.slice(0, i) + code.slice(i + 1 + (at % 7))
      else if (kind === "dup") code = code.slice(0, i) + code.slice(i, i + 10) + code.slice(i)
      else if (kind === "insert") code = code.slice(0, i) + fragment + code.slice(i)
      else code = code.slice(0, i) + code.slice(i + 1, i + 2) + code.slice(i, i + 1) + code.slice(i + 2)
    }
    return code
  })

describe("random code through the JavaScript analyser", () => {
  const sources = [...benignJavaScript.map((s) => s.code), ...attackJavaScript.map((a) => a.code.slice(0, 2000))]
  it("never throws, and never accepts what V8 cannot parse", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 120 }), mutated(sources)), (code) => {
        const verdict = analyzeJavaScript(code, defaultJsPolicy)
        expect(["Accepted", "Rejected"]).toContain(verdict._tag)
        expect(verdict._tag === "Rejected" || v8Parses(code), code).toBe(true)
      }),
      { numRuns: 3000 }
    )
  })
})

describe("random code through the Python analyser", () => {
  const analyzer = makePythonAnalyzer({
    stdlibAllow: ["json", "math"],
    externalAllow: [],
    pythonPath: "python3",
    maxCodeLength: 100_000,
    timeoutMs: 10_000
  })
  afterAll(() => analyzer.close())
  const sources = [...benignPython.map((s) => s.code), ...attackPython.map((a) => a.code)]

  it("never throws, and never accepts what CPython cannot compile", async () => {
    const accepted: Array<string> = []
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 80 }), mutated(sources)), async (code) => {
        const verdict = await analyzer.analyze(code)
        expect(["Accepted", "Rejected"]).toContain(verdict._tag)
        if (verdict._tag === "Accepted") accepted.push(code)
      }),
      { numRuns: 600 }
    )
    // Every accepted snippet compiles as the runner wraps it (a function body): checked by the
    // interpreter itself, all at once.
    // (The executor's wrapping: the code indented into a function, then `pass`.)
    const check = [
      "import json, sys",
      "bad = []",
      "for code in json.load(sys.stdin):",
      "    body = '\\n'.join('    ' + line for line in code.split('\\n'))",
      "    try:",
      "        compile('def _user_function():\\n' + body + '\\n    pass\\n', '<fuzz>', 'exec')",
      "    except (SyntaxError, ValueError) as error:",
      "        bad.append([code, str(error)])",
      "print(json.dumps(bad))"
    ].join("\n")
    const bad = JSON.parse(execFileSync("python3", ["-c", check], { input: JSON.stringify(accepted) }).toString())
    expect(bad).toEqual([])
    expect(accepted.length).toBeGreaterThan(0)
  })
})
