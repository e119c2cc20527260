import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { cleanup, runnersReady, startBroker, startRunner, submit, untilRunning } from "./harness.js"
import type { Broker, Started } from "./harness.js"

/** Python tasks through the mock broker and the runner (real processes, real jail). */
let broker: Broker
let runner: Started
let offered = false
beforeAll(async () => {
  broker = await startBroker()
  runner = startRunner(broker, {
    N8N_RUNNERS_MAX_CONCURRENCY: "3",
    N8N_RUNNERS_TASK_TIMEOUT: "3",
    N8N_RUNNERS_STDLIB_ALLOW: "json,datetime",
    N8N_RUNNERS_MAX_OLD_SPACE_SIZE: "256"
  })
  const [info] = await runnersReady(broker)
  offered = info?.types.includes("python") ?? false
}, 60_000)
afterAll(cleanup)

const python = (code: string, rest: Record<string, unknown> = {}) =>
  submit(broker, { taskType: "python", code, ...rest })
const items = [{ json: { n: 1 } }, { json: { n: 2 } }]

describe("python tasks end to end", () => {
  it("the runner offers python (the machine has Python >= 3.10)", () => {
    expect(offered, runner.output).toBe(true)
  })

  it("all items: the value as it is, prints relayed before the result", async () => {
    const outcome = await python(
      "print('sum is', sum(i['json']['n'] for i in _items))\nprint({'a': 1})\nreturn [{'json': {'double': i['json']['n'] * 2}} for i in _items]",
      { items }
    )
    expect(outcome.status).toBe("success")
    expect(outcome.result).toEqual([{ json: { double: 2 } }, { json: { double: 4 } }])
    expect(outcome.logs).toEqual([["'sum is'", "3"], ["{\"a\": 1}"]])
  })

  it("per item: wrapped with pairedItem", async () => {
    const outcome = await python("return {'m': _item['json']['n'] * 10}", { nodeMode: "runOnceForEachItem", items })
    expect(outcome.result).toEqual([{ json: { m: 10 }, pairedItem: { item: 0 } }, {
      json: { m: 20 },
      pairedItem: { item: 1 }
    }])
  })

  it("allow-listed modules work", async () => {
    const outcome = await python(
      "import json\nfrom datetime import date\nreturn [{'json': {'s': json.dumps([date(2026, 1, 2).isoformat()])}}]"
    )
    expect(outcome.result).toEqual([{ json: { s: "[\"2026-01-02\"]" } }])
  })
})

describe("python errors carry n8n's texts", () => {
  it("static analysis: Security violations detected", async () => {
    expect((await python("import os\nx = ().__class__")).error).toEqual({
      message: "Security violations detected",
      description:
        "Line 1: Import of standard library module 'os' is disallowed. Allowed stdlib modules: datetime, json\nLine 2: Access to attribute '__class__' is disallowed, because it can be used to bypass security restrictions."
    })
  })

  it("a syntax error: only a message", async () => {
    expect((await python("x = 1\ny = (")).error).toEqual({ message: expect.stringMatching(/\(line 2\)$/) })
  })

  it("a runtime error: the exception's message", async () => {
    expect((await python("return 1 / 0")).error).toEqual({ message: "division by zero", description: "" })
  })

  it("a runtime security violation (an import the analyser could not see)", async () => {
    expect((await python("t = ''.join(['{0.', '__cla', 'ss__}'])\nreturn t.format(1)")).error).toEqual({
      message: "Security violation detected",
      description:
        "String pattern accessing '__class__' is disallowed, because it can be used to bypass security restrictions."
    })
  })

  it("SystemExit", async () => {
    expect((await python("raise SystemExit(4)")).error?.["message"]).toBe("Process exited with code 4")
  })

  it("the runner's timeout", async () => {
    expect((await python("while True:\n    pass")).error).toEqual({
      message: "Task execution timed out after 3 seconds",
      description: ""
    })
  })

  it("out of memory", async () => {
    expect((await python("a = []\nwhile True:\n    a.append(' ' * 10**7)")).error?.["message"]).toMatch(
      /^The task ran out of memory/
    )
  })
})

describe("python with other work", () => {
  it("cancel mid-task; the runner carries on", async () => {
    const pending = python("while True:\n    pass", { id: "py-cancel" })
    await untilRunning(broker, "py-cancel")
    expect((await fetch(`${broker.url}/api/tasks/py-cancel/cancel`, { method: "POST" })).status).toBe(200)
    expect((await pending).error).toEqual({ message: "Task cancelled: Task cancelled by user" })
    expect((await python("return [{'json': {'after': True}}]")).result).toEqual([{ json: { after: true } }])
  })

  it("a JavaScript and a Python task at the same time on one runner", async () => {
    const started = Date.now()
    const [js, py] = await Promise.all([
      submit(broker, {
        taskType: "javascript",
        code: "await new Promise(r => setTimeout(r, 800))\nreturn [{ json: { lang: 'js' } }]"
      }),
      python("n = 0\nfor i in range(3_000_000):\n    n += i\nreturn [{'json': {'lang': 'py', 'n': n}}]")
    ])
    expect(js.result).toEqual([{ json: { lang: "js" } }])
    expect(py.result).toEqual([{ json: { lang: "py", n: 4499998500000 } }])
    expect(js.runnerId).toBe(py.runnerId)
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})

describe("without a usable Python", () => {
  it("the runner offers only javascript and logs why", async () => {
    const other = await startBroker()
    const alone = startRunner(other, { N8N_RUNNERS_PYTHON: "/nonexistent/python3" })
    const [info] = await runnersReady(other)
    expect(info?.types).toEqual(["javascript"])
    await alone.waitFor(/Python tasks are not offered: no Python 3\.10 or newer \(\/nonexistent\/python3: not found\)/)
    const outcome = await submit(other, { taskType: "javascript", code: "return [{json: {ok: true}}]" })
    expect(outcome.result).toEqual([{ json: { ok: true } }])
  })
})

describe("descriptors the runner inherited", () => {
  it("are closed at start, so no task of either language can reach them", async () => {
    const other = await startBroker()
    const leaky = startRunner(other, { N8N_RUNNERS_STDLIB_ALLOW: "os,stat", NODE_FUNCTION_ALLOW_BUILTIN: "fs" }, true)
    const ours = (leaky.child.stdio as ReadonlyArray<unknown>)[40] as NodeJS.ReadableStream
    const ended = new Promise<void>((resolve) => {
      ours.on("end", () => resolve())
      ours.resume()
    })
    await runnersReady(other)
    await leaky.waitFor(/Closed \d+ file descriptor\(s\) inherited from the parent process \([\d, ]*\b40\b/)
    const python = await submit(other, {
      taskType: "python",
      code:
        "import os, stat\ntry:\n    return [{'json': {'fd40': stat.S_ISSOCK(os.fstat(40).st_mode)}}]\nexcept OSError:\n    return [{'json': {'fd40': 'closed'}}]"
    })
    const javascript = await submit(other, {
      taskType: "javascript",
      code:
        "const fs = require('fs')\ntry { return [{ json: { fd40: fs.fstatSync(40).isSocket() } }] } catch { return [{ json: { fd40: 'closed' } }] }"
    })
    expect([python.result, javascript.result], JSON.stringify([python.error, javascript.error])).toEqual([[{
      json: { fd40: "closed" }
    }], [{ json: { fd40: "closed" } }]])
    // Nothing holds the runner's copy any more: not the runner, not a jailed child.
    await ended
  })
})
