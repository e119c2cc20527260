import { afterAll, describe, expect, it, layer } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CodeExecutor, defaultExecutorOptions } from "../src/index.js"
import type { ExecutionRequest } from "../src/index.js"

const options = { ...defaultExecutorOptions, poolSize: 2, heapMb: 128, taskTimeoutMs: 10_000 }

const js = (code: string, rest: Partial<ExecutionRequest> = {}): ExecutionRequest => ({
  language: "javascript",
  code,
  mode: { _tag: "AllItems" },
  items: [{ json: { n: 1 } }, { json: { n: 2 } }],
  continueOnFail: false,
  ...rest
})

/** Waits until `check` holds (polling), failing after `timeoutMs`: for pool state that settles in the background. */
const eventually = (check: Effect.Effect<boolean, never, CodeExecutor>, timeoutMs = 15_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`condition not met within ${timeoutMs} ms`))
      yield* Effect.sleep(50)
    }
  })

/** A process id no process has now. */
const deadPid = () => {
  for (let pid = 4_000_000;; pid--) {
    try {
      process.kill(pid, 0)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") return pid
    }
  }
}

const stats = Effect.flatMap(CodeExecutor, (executor) => executor.stats)

const run = (request: ExecutionRequest) => Effect.flatMap(CodeExecutor, (executor) => executor.execute(request))
const fail = (request: ExecutionRequest) => Effect.flip(run(request))

layer(CodeExecutor.layer(options), { timeout: 60_000 })("results", (it) => {
  it.effect("all items: the user's value as it is", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js("return items.map(i => ({ json: { n: i.json.n * 2 } }))"))
      expect(result).toEqual([{ json: { n: 2 } }, { json: { n: 4 } }])
      expect((yield* run(js("return { json: { single: true } }"))).result).toEqual({ json: { single: true } })
      // null (and no return at all) become [] as in n8n's runner.
      expect((yield* run(js("return null"))).result).toEqual([])
      expect((yield* run(js("const x = 1"))).result).toEqual([])
    }))

  it.effect("a result larger than a message may be (8 MiB) comes through whole", () =>
    Effect.gen(function*() {
      // Regression: the result frame arrives in the same chunk as the `done` before it, and was
      // checked against the 4 MiB message limit.
      const { result } = yield* run(js("return [{ json: { s: 'x'.repeat(8 * 1024 * 1024) } }]"))
      expect((result as Array<{ json: { s: string } }>)[0]?.json.s.length).toBe(8 * 1024 * 1024)
    }))

  it.effect("top-level await works", () =>
    Effect.gen(function*() {
      const { result } = yield* run(
        js("const v = await new Promise(r => setTimeout(() => r(42), 10))\nreturn [{ json: { v } }]")
      )
      expect(result).toEqual([{ json: { v: 42 } }])
    }))

  it.effect("per item: wrapped with pairedItem at the original position, falsy results skipped", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js(
        "if ($json.skip) return null\nif ($json.bin) return { binary: { f: { data: 'x' } } }\nreturn $json.wrap ? { json: { w: $itemIndex } } : { plain: $json.n }",
        {
          mode: { _tag: "PerItem", startIndex: 1000 },
          items: [{ json: { n: 1 } }, { json: { skip: true } }, { json: { wrap: true } }, { json: { bin: true } }]
        }
      ))
      expect(result).toEqual([
        { json: { plain: 1 }, pairedItem: { item: 1000 } },
        { json: { w: 1002 }, pairedItem: { item: 1002 } },
        { json: {}, pairedItem: { item: 1003 }, binary: { f: { data: "x" } } }
      ])
    }))

  it.effect("per item: item, $json and $input.item are the current item", () =>
    Effect.gen(function*() {
      const { result } = yield* run(
        js("return { json: { a: item.json.n, b: $json.n, c: $input.item.json.n, all: $input.all().length } }", {
          mode: { _tag: "PerItem", startIndex: 0 }
        })
      )
      expect(result).toEqual([
        { json: { a: 1, b: 1, c: 1, all: 2 }, pairedItem: { item: 0 } },
        { json: { a: 2, b: 2, c: 2, all: 2 }, pairedItem: { item: 1 } }
      ])
    }))

  it.effect("raw mode returns the value untouched", () =>
    Effect.gen(function*() {
      expect((yield* run(js("return 'plain'", { mode: { _tag: "Raw" } }))).result).toBe("plain")
    }))

  it.effect("continueOnFail: all items gives one error item", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js("throw new Error('boom')", { continueOnFail: true }))
      // n8n's runner puts the whole error message (with its line) in the item.
      expect(result).toEqual([{ json: { error: "boom [line 1]" } }])
    }))

  it.effect("continueOnFail: per item gives an error item for the failing item and goes on", () =>
    Effect.gen(function*() {
      const { result } = yield* run(
        js("if ($json.n === 1) throw new TypeError('bad'); return { json: { ok: $json.n } }", {
          mode: { _tag: "PerItem", startIndex: 5 },
          continueOnFail: true
        })
      )
      expect(result).toEqual([
        { json: { error: "bad [line 1]" }, pairedItem: { item: 5 } },
        { json: { ok: 2 }, pairedItem: { item: 6 } }
      ])
    }))

  it.effect("context values become globals, copied into the task's realm", () =>
    Effect.gen(function*() {
      const { result } = yield* run(
        js("return [{ json: { v: $vars.region, proto: Object.getPrototypeOf($vars) === Object.prototype } }]", {
          context: { $vars: { region: "eu" } }
        })
      )
      expect(result).toEqual([{ json: { v: "eu", proto: true } }])
    }))
})

layer(CodeExecutor.layer(options), { timeout: 60_000 })("console", (it) => {
  it.effect("formats like n8n: strings quoted, the rest JSON, circular references replaced", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<string | null>> = []
      const { console } = yield* run(js(
        "const o = { a: 1 }\no.self = o\nconsole.log('text', 5, null, undefined, { b: [1, 'x'] }, o, globalThis, () => 1, 10n)\nconsole.info('silent')\nreturn []",
        { onConsole: (args) => seen.push(args) }
      ))
      expect(console).toEqual([[
        "'text'",
        "5",
        "null",
        null,
        "{\"b\":[1,\"x\"]}",
        "{\"a\":1,\"self\":\"[Circular Reference]\"}",
        "[[ExecutionContext]]",
        null,
        "\"10n\""
      ]])
      expect(seen).toEqual(console)
    }))

  it.effect("keeps at most 100 calls and then says how many more there were", () =>
    Effect.gen(function*() {
      const { console } = yield* run(js("for (let i = 0; i < 250; i++) console.log(i)\nreturn []"))
      expect(console).toHaveLength(101)
      expect(console[99]).toEqual(["99"])
      expect(console[100]).toEqual(["[Output truncated - 150 more print statements]"])
    }))

  it.effect("caps the size of one call", () =>
    Effect.gen(function*() {
      const { console } = yield* run(js("console.log('x'.repeat(200000))\nreturn []"))
      expect(console[0]![0]!.length).toBeLessThan(70_000)
      expect(console[0]![0]).toMatch(/… \[truncated\]$/)
    }))

  it.effect("console calls made before a failure are still reported", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<string | null>> = []
      yield* fail(js("console.log('before')\nthrow new Error('after')", { onConsole: (args) => seen.push(args) }))
      expect(seen).toEqual([["'before'"]])
    }))
})

layer(CodeExecutor.layer(options), { timeout: 60_000 })("errors", (it) => {
  it.effect("a thrown error: n8n's message with the user's line, the type as description, user frames only", () =>
    Effect.gen(function*() {
      const error = yield* fail(js("const a = 1\nconst b = null\nreturn b.c"))
      expect(error).toMatchObject({
        _tag: "RuntimeError",
        message: "Cannot read properties of null (reading 'c') [line 3]",
        description: "TypeError",
        lineNumber: 3
      })
      expect(error._tag === "RuntimeError" && error.stack).toMatch(/^TypeError: Cannot read properties of null/)
      expect(error._tag === "RuntimeError" && error.stack).not.toMatch(/jsWorker|node:internal/)
    }))

  it.effect("a stack the code reads shows its own frames and built-ins, not the child's script or Node's internals", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js(
        "function f() { try { null.x } catch (e) { return e.stack } }\n" +
          "const timer = await new Promise((resolve) => setTimeout(() => resolve(f()), 1))\n" +
          "const mapped = [1].map(() => new Error('in map').stack)[0]\n" +
          "try { Error.prepareStackTrace = () => 'mine' } catch {}\nconst swapped = new Error('after').stack\n" +
          "return [{ json: { timer, mapped, top: new Error('top').stack, swapped } }]"
      ))
      const { mapped, swapped, timer, top } = (result as Array<{ json: Record<string, string> }>)[0]!.json
      // Lines are the wrapper's (one more than the user's), as in the error the runner reports.
      expect(timer).toMatch(
        /^TypeError: Cannot read properties of null \(reading 'x'\)\n {4}at f \(code\.js:2:\d+\)\n {4}at code\.js:3:\d+$/
      )
      expect(mapped).toMatch(
        /^Error: in map\n {4}at code\.js:4:\d+\n {4}at Array\.map \(<anonymous>\)\n {4}at VmCodeWrapper \(code\.js:4:\d+\)$/
      )
      expect(top).toMatch(/^Error: top\n {4}at VmCodeWrapper \(code\.js:7:\d+\)$/)
      // The hook cannot be swapped (Error is frozen; the code is sloppy, so the write fails silently).
      expect(swapped).toMatch(/^Error: after\n {4}at VmCodeWrapper \(code\.js:6:\d+\)$/)
    }))

  it.effect("a plain Error has a null description; per item, the line (n8n 2.41's runner does not name the item)", () =>
    Effect.gen(function*() {
      expect(yield* fail(js("throw new Error('plain')"))).toMatchObject({
        message: "plain [line 1]",
        description: null
      })
      expect(
        yield* fail(
          js("\nif ($json.n === 2) throw new RangeError('two')\nreturn { json: {} }", {
            mode: { _tag: "PerItem", startIndex: 7 }
          })
        )
      )
        .toMatchObject({
          _tag: "RuntimeError",
          message: "two [line 2]",
          description: "RangeError",
          lineNumber: 2
        })
    }))

  it.effect("thrown non-errors and errors from timers", () =>
    Effect.gen(function*() {
      expect(yield* fail(js("throw 'just a string'"))).toMatchObject({
        _tag: "RuntimeError",
        // As n8n's runner: a thrown non-error is reported as its JSON text.
        message: "\"just a string\"",
        description: null
      })
      expect(yield* fail(js("setTimeout(() => { throw new Error('late') }, 5)\nawait new Promise(() => {})")))
        // An anonymous callback has no named frame in the code: no line (as n8n's runner finds lines).
        .toMatchObject({ _tag: "RuntimeError", message: "late" })
    }))

  it.effect("code that does not compile is a syntax error (the analyser normally catches it first)", () =>
    Effect.gen(function*() {
      expect(yield* fail(js("return (1"))).toMatchObject({ _tag: "CodeSyntaxError" })
    }))

  it.effect("a result that is not JSON, or nested too deeply", () =>
    Effect.gen(function*() {
      expect(yield* fail(js("return [{ json: { n: 10n } }]"))).toMatchObject({
        message: /The result cannot be converted to JSON/
      })
      expect(yield* fail(js("let v = []\nfor (let i = 0; i < 2000; i++) v = [v]\nreturn v"))).toMatchObject({
        message: /The result is nested \d+ levels deep; the limit is 1000/
      })
    }))
})

// Real time is the point here (deadlines), so the test clock is left out.
layer(CodeExecutor.layer({ ...options, maxResultBytes: 10_000, taskTimeoutMs: 4000 }), {
  timeout: 60_000,
  excludeTestServices: true
})("limits", (it) => {
  it.effect("a result over the payload limit", () =>
    Effect.gen(function*() {
      expect(yield* fail(js("return [{ json: { s: 'x'.repeat(20000) } }]"))).toMatchObject({
        _tag: "ResultTooLarge",
        limitBytes: 10_000
      })
    }))

  it.effect("a synchronous infinite loop times out", () =>
    Effect.gen(function*() {
      const error = yield* fail(js("while (true) {}"))
      expect(error._tag).toBe("TimedOut")
      expect(error.message).toBe("Task execution timed out after 4 seconds")
    }))

  it.effect("a promise that never settles times out", () =>
    Effect.gen(function*() {
      expect((yield* fail(js("await new Promise(() => {})")))._tag).toBe("TimedOut")
    }))

  it.effect("a heap bomb is out of memory", () =>
    Effect.gen(function*() {
      const error = yield* fail(
        js("const a = []\nwhile (true) a.push(new Array(100000).fill({ x: 1 }))", { timeoutMs: 30_000 })
      )
      expect(error._tag).toBe("OutOfMemory")
      expect(error.message).toMatch(/ran out of memory \(limit 128 MB\)/)
    }))

  it.effect("an off-heap Buffer bomb is out of memory", () =>
    Effect.gen(function*() {
      const error = yield* fail(
        js("const a = []\nwhile (true) a.push(Buffer.alloc(256 * 1024 * 1024))", { timeoutMs: 30_000 })
      )
      expect(error._tag).toBe("OutOfMemory")
    }))

  it.effect("a per-call timeout overrides the default", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const error = yield* fail(js("while (true) {}", { timeoutMs: 300 }))
      expect(error._tag).toBe("TimedOut")
      // Well under the 4 s default of this executor.
      expect(Date.now() - started).toBeLessThan(3000)
    }))
})

layer(CodeExecutor.layer({ ...options, allowBuiltin: ["crypto"] }), { timeout: 60_000 })("modules", (it) => {
  it.effect("allow-listed modules load, read-only", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js(
        "const crypto = require('crypto')\nconst h = crypto.createHash('sha256').update('x').digest('hex')\nlet refused = ''\ntry { crypto.createHash = () => 1 } catch (e) { refused = e.message }\nreturn [{ json: { h, refused } }]"
      ))
      expect(result).toEqual([{
        json: {
          h: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
          refused: "Modules are read-only in Code nodes"
        }
      }])
    }))

  it.effect("others are refused at run time too (the analyser is not the only guard)", () =>
    Effect.gen(function*() {
      for (const name of ["fs", "child_process", "worker_threads", "net", "./x", "lodash"]) {
        expect(yield* fail(js(`return require('${name}')`))).toMatchObject({
          _tag: "RuntimeError",
          message: `Module '${name}' is disallowed [line 1]`
        })
      }
    }))

  it.effect("no process, no eval, no Function from strings, no host objects through the console", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js([
        "const tries = {}",
        "tries.process = typeof process",
        "try { eval('1') } catch (e) { tries.eval = e.constructor.name }",
        "try { console.log.constructor('return process')() } catch (e) { tries.fromConsole = e.constructor.name }",
        "try { (async () => {}).constructor('return 1') } catch (e) { tries.async = e.constructor.name }",
        "try { ({}).__proto__ } catch (e) { tries.proto = e.constructor.name }",
        "tries.wasm = typeof WebAssembly",
        "return [{ json: tries }]"
      ].join("\n")))
      expect(result).toEqual([{
        json: {
          process: "undefined",
          eval: "EvalError",
          fromConsole: "EvalError",
          async: "EvalError",
          proto: "Error",
          wasm: "undefined"
        }
      }])
    }))
})

describe("the pool", () => {
  it.live(
    "keeps children warm, runs each task in a fresh process by default, and refills",
    () =>
      Effect.gen(function*() {
        const executor = yield* CodeExecutor
        yield* eventually(Effect.map(stats, (s) => s.idle === 2))
        const first = yield* executor.execute(js("return [{ json: { pid: globalThis.__marker ?? 'fresh' } }]"))
        yield* executor.execute(js("globalThis.__marker = 'dirty'\nreturn []"))
        const third = yield* executor.execute(js("return [{ json: { pid: globalThis.__marker ?? 'fresh' } }]"))
        expect(first.result).toEqual(third.result)
        yield* eventually(Effect.map(stats, (s) => s.idle === 2 && s.processes === 2))
        expect((yield* executor.stats).started).toBe(5)
      }).pipe(Effect.provide(CodeExecutor.layer(options))),
    60_000
  )

  it.live(
    "reuse mode runs tasks in fresh contexts, and never reuses a child that timed out",
    () =>
      Effect.gen(function*() {
        const executor = yield* CodeExecutor
        yield* eventually(Effect.map(stats, (s) => s.idle === 1))
        const startedBefore = (yield* executor.stats).started
        yield* executor.execute(
          js("globalThis.__marker = 'dirty'\nsetTimeout(() => console.log('late timer'), 200)\nreturn []")
        )
        const next = yield* executor.execute(
          js("await new Promise(r => setTimeout(r, 400))\nreturn [{ json: { m: globalThis.__marker ?? 'clean' } }]")
        )
        expect(next.result).toEqual([{ json: { m: "clean" } }])
        expect(next.console).toEqual([])
        expect((yield* executor.stats).started).toBe(startedBefore)
        yield* Effect.flip(executor.execute(js("while (true) {}", { timeoutMs: 300 })))
        yield* executor.execute(js("return []"))
        yield* eventually(Effect.map(stats, (s) => s.started > startedBefore))
      }).pipe(Effect.provide(CodeExecutor.layer({ ...options, poolSize: 1, workerReuse: 10 }))),
    60_000
  )

  it.live(
    "a task cannot change the host's intrinsics a reused child's own code uses (found by the attack corpus)",
    () =>
      Effect.gen(function*() {
        const executor = yield* CodeExecutor
        // The host's %TypedArray%.prototype is reachable through Buffer; a getter planted there
        // would run inside the child's own code for every later task.
        const hook = yield* executor.execute(js(
          "const T = Object.getPrototypeOf(Object.getPrototypeOf(Buffer.prototype))\nlet hooked = true\ntry {\n  Object.defineProperty(T, 'length', { get() { return 0 }, configurable: true })\n} catch { hooked = false }\nconst G = Object.getPrototypeOf(function* () {})\ntry { G.prototype.next = () => ({ done: true }) } catch {}\nreturn [{ json: { hooked } }]"
        ))
        expect(hook.result).toEqual([{ json: { hooked: false } }])
        const victim = yield* executor.execute(js("return [{ json: { who: 'victim', n: items.length } }]"))
        expect(victim.result).toEqual([{ json: { who: "victim", n: 2 } }])
      }).pipe(Effect.provide(CodeExecutor.layer({ ...options, poolSize: 1, workerReuse: 10 }))),
    60_000
  )

  it.live("interrupting a task kills its process", () =>
    Effect.gen(function*() {
      const executor = yield* CodeExecutor
      const fiber = yield* Effect.fork(executor.execute(js("while (true) {}", { timeoutMs: 30_000 })))
      yield* eventually(Effect.map(stats, (s) => s.busy === 1))
      yield* Fiber.interrupt(fiber)
      expect((yield* executor.stats).busy).toBe(0)
      // SIGTERM, then SIGKILL a second later: the looping process is gone, only the warm one is left.
      yield* eventually(Effect.map(stats, (s) => s.idle === 1 && s.processes === 1))
    }).pipe(Effect.provide(CodeExecutor.layer({ ...options, poolSize: 1 }))), 60_000)
})

// An external package in a folder of its own, as NODE_PATH points the runner at one in n8n's image.
const externalRoot = join(tmpdir(), `taskrunner-external-${process.pid}`)
mkdirSync(join(externalRoot, "node_modules", "greeter"), { recursive: true })
writeFileSync(
  join(externalRoot, "node_modules", "greeter", "package.json"),
  JSON.stringify({ name: "greeter", version: "1.0.0", main: "index.js" })
)
writeFileSync(
  join(externalRoot, "node_modules", "greeter", "index.js"),
  "exports.greet = (name) => `hello ${name}`\n"
)

describe("external packages", () => {
  afterAll(() => rmSync(externalRoot, { recursive: true, force: true }))
  for (const [label, dir] of [["the folder", externalRoot], ["its node_modules", join(externalRoot, "node_modules")]]) {
    it.live(
      `an allow-listed package loads from ${label}, in warm and cold children alike`,
      () =>
        Effect.gen(function*() {
          const executor = yield* CodeExecutor
          const code = "const { greet } = require('greeter')\nreturn [{ json: { said: greet('n8n') } }]"
          // One child is ready; the second task gets one started for it, cold.
          const outputs = yield* Effect.all([executor.execute(js(code)), executor.execute(js(code))], {
            concurrency: "unbounded"
          })
          for (const output of outputs) expect(output.result).toEqual([{ json: { said: "hello n8n" } }])
          expect((yield* executor.stats).startedCold).toBeGreaterThanOrEqual(1)
          expect((yield* Effect.flip(executor.execute(js("return require('lodash')")))).message).toMatch(
            /Cannot find module 'lodash'|disallowed/
          )
        }).pipe(
          Effect.provide(
            CodeExecutor.layer({ ...options, poolSize: 1, allowExternal: ["greeter"], externalModulesDir: dir })
          )
        ),
      60_000
    )
  }
})

describe("warm and cold starts", () => {
  it.live(
    "a pool at rest starts warm children; tasks that find none ready get cold ones, which answer the same",
    () =>
      Effect.gen(function*() {
        const executor = yield* CodeExecutor
        yield* eventually(Effect.map(executor.stats, (s) => s.idle === 2))
        expect((yield* executor.stats).startedCold).toBe(0)
        // n8n's globals and a data lookup: what the warm-up would have run first.
        const code = "return $input.all().map((item) => ({ json: { ...item.json, twice: item.json.n * 2 } }))"
        const outputs = yield* Effect.all(Array.from({ length: 6 }, () => executor.execute(js(code))), {
          concurrency: "unbounded"
        })
        for (const output of outputs) {
          expect(output.result).toEqual([{ json: { n: 1, twice: 2 } }, { json: { n: 2, twice: 4 } }])
        }
        const after = yield* executor.stats
        // Two of the six found a ready child; each of the others had one started for it, cold.
        expect(after.startedCold).toBeGreaterThanOrEqual(4)
        // Once the burst is over and the pool has been full for a while, it starts warm children again.
        yield* eventually(Effect.map(executor.stats, (s) => s.idle === 2))
        yield* Effect.sleep(1100)
        const settled = yield* executor.stats
        const first = yield* executor.execute(js("return items"))
        expect(first.result).toHaveLength(2)
        yield* eventually(Effect.map(executor.stats, (s) => s.idle === 2 && s.started > settled.started))
        expect((yield* executor.stats).startedCold).toBe(settled.startedCold)
      }).pipe(Effect.provide(CodeExecutor.layer(options))),
    60_000
  )
})

describe("the input after the code (the runner fetches it while the child compiles)", () => {
  const reuse = CodeExecutor.layer({ ...options, poolSize: 1, workerReuse: 10 })

  it.live("the input can come later; the code was with the child before it", () =>
    Effect.gen(function*() {
      const executor = yield* CodeExecutor
      const input = Effect.as(Effect.sleep(300), { items: [{ json: { late: true } }] })
      const { result } = yield* executor.execute(js("return items", { items: [], input }))
      expect(result).toEqual([{ json: { late: true } }])
      // The child counts as busy from the moment it got the code.
      const fiber = yield* Effect.fork(executor.execute(js("return items", { input: Effect.never })))
      yield* eventually(Effect.map(stats, (s) => s.busy === 1))
      yield* Fiber.interrupt(fiber)
      expect((yield* executor.stats).busy).toBe(0)
    }).pipe(Effect.provide(reuse)), 60_000)

  it.live(
    "a failed input fails the task with that error; the child it was meant for is not reused",
    () =>
      Effect.gen(function*() {
        const executor = yield* CodeExecutor
        yield* eventually(Effect.map(stats, (s) => s.idle === 1))
        const startedBefore = (yield* executor.stats).started
        const error = yield* Effect.flip(
          executor.execute<string>({ ...js("return items"), input: Effect.fail("the broker sent nonsense") })
        )
        expect(error).toBe("the broker sent nonsense")
        // The next task runs in a new process (the waiting child was retired), and runs normally.
        expect((yield* executor.execute(js("return [{ json: { ok: 1 } }]"))).result).toEqual([{ json: { ok: 1 } }])
        yield* eventually(Effect.map(stats, (s) => s.started > startedBefore))
      }).pipe(Effect.provide(reuse)),
    60_000
  )

  it.live(
    "code that does not compile is reported after its input, so a reused child stays in step",
    () =>
      Effect.gen(function*() {
        const executor = yield* CodeExecutor
        const input = Effect.as(Effect.sleep(100), { items: [{ json: { n: 1 } }] })
        const error = yield* Effect.flip(executor.execute(js("return (", { items: [], input })))
        expect(error._tag).toBe("CodeSyntaxError")
        // The same child runs the next tasks (it read the input it was sent before answering).
        const startedBefore = (yield* executor.stats).started
        for (let i = 0; i < 3; i++) {
          expect((yield* executor.execute(js("return items", { items: [{ json: { i } }] }))).result).toEqual([
            { json: { i } }
          ])
        }
        expect((yield* executor.stats).started).toBe(startedBefore)
      }).pipe(Effect.provide(reuse)),
    60_000
  )

  it.live(
    "the callback form: provide, done once; cancel kills the process and says nothing",
    () =>
      Effect.gen(function*() {
        const executor = yield* CodeExecutor
        const outcomes: Array<unknown> = []
        const handle = executor.startJavaScript(js("return items", { items: [] }), (outcome) => outcomes.push(outcome))
        handle.provide({ items: [{ json: { a: 1 } }] })
        handle.provide({ items: [{ json: { ignored: true } }] })
        yield* eventually(Effect.sync(() => outcomes.length === 1))
        const [outcome] = outcomes as Array<{ _tag: string; right: { result: unknown } }>
        expect(outcome?._tag).toBe("Right")
        expect(outcome?.right.result).toEqual([{ json: { a: 1 } }])
        const cancelled: Array<unknown> = []
        const looping = executor.startJavaScript(js("while (true) {}", { items: [] }), (o) => cancelled.push(o))
        looping.provide({ items: [] })
        yield* eventually(Effect.map(stats, (s) => s.busy === 1))
        looping.cancel()
        expect((yield* executor.stats).busy).toBe(0)
        yield* Effect.sleep(200)
        expect(cancelled).toEqual([])
      }).pipe(Effect.provide(CodeExecutor.layer({ ...options, poolSize: 1 }))),
    60_000
  )
})

/** This process's script folders. */
const ours = (pid: number) => readdirSync(tmpdir()).filter((e) => e.startsWith(`taskrunner-executor-${pid}-`))

describe("the children's script folder", () => {
  it.live(
    "is removed when the executor closes, and those of executors that died unclosed are swept",
    () =>
      Effect.gen(function*() {
        const stale = join(tmpdir(), `taskrunner-executor-${deadPid()}-test`)
        mkdirSync(stale, { recursive: true })
        yield* Effect.scoped(Effect.gen(function*() {
          yield* Layer.build(CodeExecutor.layer({ ...options, poolSize: 0, python: false }))
          expect(existsSync(stale)).toBe(false)
          expect(ours(process.pid)).toHaveLength(1)
        }))
        expect(ours(process.pid)).toHaveLength(0)
      }),
    60_000
  )
})
