import { afterAll, beforeAll, describe, expect, it, layer } from "@effect/vitest"
import { attackPython, benignPython } from "@taskrunner/corpus"
import { Effect, Either, Exit, Fiber, Layer, Scope } from "effect"
import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  writeFileSync
} from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CodeExecutor, defaultExecutorOptions } from "../src/index.js"
import type { CodeExecutorShape, ExecutionRequest, ExecutorOptions } from "../src/index.js"

const options: ExecutorOptions = { ...defaultExecutorOptions, poolSize: 1, heapMb: 256, taskTimeoutMs: 10_000 }

const py = (code: string, rest: Partial<ExecutionRequest> = {}): ExecutionRequest => ({
  language: "python",
  code,
  mode: { _tag: "AllItems" },
  items: [{ json: { n: 1 } }, { json: { n: 2 } }],
  continueOnFail: false,
  ...rest
})

const run = (request: ExecutionRequest) => Effect.flatMap(CodeExecutor, (executor) => executor.execute(request))
const fail = (request: ExecutionRequest) => Effect.flip(run(request))

/** Builds an executor outside Effect (for suites that need one per option set). */
const start = async (
  overrides: Partial<ExecutorOptions>
): Promise<{ executor: CodeExecutorShape; close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(CodeExecutor.layer({ ...options, ...overrides }), scope))
  return {
    executor: context.unsafeMap.get(CodeExecutor.key) as CodeExecutorShape,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const probe = await start({})
const available = probe.executor.languages.includes("python")
const unavailable = probe.executor.pythonUnavailable
await probe.close()

describe.skipIf(available)("Python", () => {
  it(`is skipped: ${unavailable}`, () => {
    expect(available).toBe(false)
  })
})

/** A program posing as python3. */
const fakePython = (name: string, script: string) => {
  const path = join(mkdtempSync(join(tmpdir(), "fake-python-")), name)
  writeFileSync(path, `#!/bin/sh\n${script}\n`)
  chmodSync(path, 0o755)
  return path
}
/** Starts an executor with `pythonPath` and returns why Python is not offered. */
const unusable = async (pythonPath: string) => {
  const { close, executor } = await start({ pythonPath })
  await close()
  expect(executor.languages).toEqual(["javascript"])
  return executor.pythonUnavailable ?? ""
}

describe("an unusable interpreter", () => {
  it("is not offered, and the reason names the path and the problem", async () => {
    expect(await unusable("/nonexistent/python3")).toBe("no Python 3.10 or newer (/nonexistent/python3: not found)")
    expect(await unusable(fakePython("garbage", "echo not json"))).toMatch(
      /garbage: is not a CPython that answers the probe/
    )
    expect(await unusable(fakePython("wrong-shape", "echo '{\"version\": \"3.11\"}'"))).toMatch(
      /wrong-shape: is not a CPython that answers the probe/
    )
    expect(
      await unusable(fakePython("old", "echo '{\"version\": [3, 8, 1], \"stdlib\": [], \"site\": [], \"ext\": []}'"))
    ).toMatch(
      /old: Python 3\.8\.1 is older than 3\.10/
    )
    expect(await unusable(fakePython("crashes", "echo boom >&2; exit 3"))).toMatch(/crashes: does not start \(boom\)/)
  })
})

describe.runIf(available)("Python tasks in the fork server", () => {
  layer(CodeExecutor.layer({ ...options, stdlibAllow: ["json"] }), { timeout: 60_000, excludeTestServices: true })(
    "results (spec 7.5)",
    (it) => {
      it.effect("all items: the value as it is, None as null, _query for tools", () =>
        Effect.gen(function*() {
          expect((yield* run(py("return _items"))).result).toEqual([{ json: { n: 1 } }, { json: { n: 2 } }])
          expect((yield* run(py("return None"))).result).toBeNull()
          expect((yield* run(py("return {'q': _query}", { context: { _query: { city: "Oslo" } } }))).result).toEqual({
            q: { city: "Oslo" }
          })
        }))

      it.effect("per item: None skipped, json/binary keys honoured, plain values wrapped, pairedItem set", () =>
        Effect.gen(function*() {
          const { result } = yield* run(py(
            "n = _item['json']['n']\nif n == 1: return None\nif n == 2: return {'json': {'w': n}}\nif n == 3: return {'name': 'f', 'binary': {'data': {'x': 1}}}\nreturn n * 10",
            { mode: { _tag: "PerItem", startIndex: 0 }, items: [1, 2, 3, 4].map((n) => ({ json: { n } })) }
          ))
          expect(result).toEqual([
            { json: { w: 2 }, pairedItem: { item: 1 } },
            { json: { name: "f" }, pairedItem: { item: 2 }, binary: { data: { x: 1 } } },
            { json: 40, pairedItem: { item: 3 } }
          ])
        }))

      it.effect("continueOnFail: one error item, prints dropped; per item the whole batch fails into it", () =>
        Effect.gen(function*() {
          const all = yield* run(py("print('lost')\nraise ValueError('bad value')", { continueOnFail: true }))
          expect(all).toEqual({ result: [{ json: { error: "bad value" } }], console: [] })
          const each = yield* run(py("if _item['json']['n'] == 2: raise KeyError('k')\nreturn {'ok': 1}", {
            mode: { _tag: "PerItem", startIndex: 0 },
            continueOnFail: true
          }))
          expect(each.result).toEqual([{ json: { error: "'k'" } }])
        }))

      it.effect("print: n8n's formatting, relayed in order", () =>
        Effect.gen(function*() {
          const seen: Array<ReadonlyArray<string | null>> = []
          const { console } = yield* run(py(
            "l = [1]\nl.append(l)\nprint('text', 3, 2.5, None, True, {'a': [1, 'é']})\nprint(l)\nreturn []",
            { onConsole: (args) => seen.push(args) }
          ))
          expect(console).toEqual([["'text'", "3", "2.5", "None", "True", "{\"a\": [1, \"é\"]}"], ["[Circular list]"]])
          expect(seen).toEqual(console)
        }))

      it.effect("print: at most 100 calls, then how many more there were", () =>
        Effect.gen(function*() {
          const { console } = yield* run(py("for i in range(250):\n    print(i)\nreturn []"))
          expect(console).toHaveLength(101)
          expect(console[100]).toEqual(["[Output truncated - 150 more print statements]"])
        }))

      it.effect("allowed modules import; others are refused at run time too", () =>
        Effect.gen(function*() {
          expect((yield* run(py("import json\nreturn {'s': json.dumps([1])}"))).result).toEqual({ s: "[1]" })
          expect(yield* fail(py("import os"))).toMatchObject({
            _tag: "RuntimeError",
            message: "Security violation detected",
            description: "Import of standard library module 'os' is disallowed. Allowed stdlib modules: json"
          })
          expect(yield* fail(py("import requests"))).toMatchObject({
            description: "Import of external package 'requests' is disallowed. Allowed external packages: none"
          })
        }))
    }
  )

  layer(CodeExecutor.layer(options), { timeout: 60_000, excludeTestServices: true })("errors (spec 7.10)", (it) => {
    it.effect("a user exception: its message, its description attribute when it has one", () =>
      Effect.gen(function*() {
        expect(yield* fail(py("return 1 / 0"))).toMatchObject({
          _tag: "RuntimeError",
          message: "division by zero",
          description: ""
        })
        expect(yield* fail(py("e = ValueError('custom')\ne.description = 'more detail'\nraise e"))).toMatchObject({
          message: "custom",
          description: "more detail"
        })
      }))

    it.effect("SystemExit: Process exited with code N", () =>
      Effect.gen(function*() {
        expect((yield* fail(py("raise SystemExit(3)"))).message).toBe("Process exited with code 3")
      }))

    it.effect("denied builtins are simply absent", () =>
      Effect.gen(function*() {
        for (const name of ["eval", "exec", "open", "getattr", "type", "vars", "globals", "__build_class__"]) {
          expect((yield* fail(py(name === "__build_class__" ? "class A: pass" : `${name}`))).message).toMatch(
            new RegExp(`name '${name}' is not defined|__build_class__ not found`)
          )
        }
      }))

    it.effect("str.format is checked at run time, whatever builds the template", () =>
      Effect.gen(function*() {
        expect(yield* fail(py("t = ''.join(['{0.', '__class__', '}'])\nreturn t.format(1)"))).toMatchObject({
          message: "Security violation detected",
          description:
            "String pattern accessing '__class__' is disallowed, because it can be used to bypass security restrictions."
        })
        expect((yield* run(py("return '{0} {1[k]}'.format('a', {'k': 'b'})"))).result).toBe("a b")
        // On the type, as a bound method taken first, through format_map: all checked.
        for (
          const code of [
            "return str.format('{0.__class__.__base__.__subclasses__}', ())",
            "f = '{0.__class__}'.format\nreturn f(())",
            "return '{x.__class__}'.format_map({'x': 1})"
          ]
        ) {
          expect((yield* fail(py(code))).message, code).toBe("Security violation detected")
        }
        expect((yield* run(py("return str.format('{} and {:>3}', 'a', 7)"))).result).toBe("a and   7")
      }))

    it.effect("a sync infinite loop times out (SIGTERM, then SIGKILL)", () =>
      Effect.gen(function*() {
        const error = yield* fail(py("while True:\n    pass", { timeoutMs: 1000 }))
        expect(error._tag).toBe("TimedOut")
        expect(error.message).toBe("Task execution timed out after 1 second")
        // The server is still there for the next task.
        expect((yield* run(py("return 1"))).result).toBe(1)
      }))

    it.effect("a memory bomb is out of memory", () =>
      Effect.gen(function*() {
        expect((yield* fail(py("a = []\nwhile True:\n    a.append(' ' * 10**7)")))._tag).toBe("OutOfMemory")
      }))

    it.effect("interrupting a task stops its child; the server carries on", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(run(py("while True:\n    pass", { timeoutMs: 30_000 })))
        yield* Effect.sleep(300)
        yield* Fiber.interrupt(fiber)
        expect((yield* run(py("return 'after'"))).result).toBe("after")
      }))
  })
})

/** Code that writes `frame` (a Python bytes literal) to the task's result pipe, then exits. */
const writesToPipe = (frame: string) =>
  [
    "import os, stat",
    "for fd in range(3, 64):",
    "    try:",
    "        if stat.S_ISFIFO(os.fstat(fd).st_mode):",
    `            os.write(fd, ${frame})`,
    "    except OSError:",
    "        pass",
    "os._exit(0)"
  ].join("\n")

describe.runIf(available)("how a Python child ended, in n8n's words (spec 7.4, 7.10)", () => {
  layer(CodeExecutor.layer({ ...options, stdlibAllow: "*" }), { timeout: 60_000, excludeTestServices: true })(
    "exits",
    (it) => {
      it.effect("exit codes and signals", () =>
        Effect.gen(function*() {
          expect(yield* fail(py("import os\nos._exit(5)"))).toMatchObject({
            _tag: "ProcessFailed",
            message: "Task subprocess exited with code 5"
          })
          expect(yield* fail(py("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))).toMatchObject({
            _tag: "Killed",
            message: "Process was forcefully killed (SIGKILL)"
          })
          expect((yield* fail(py("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)"))).message).toBe(
            "Task was cancelled"
          )
          expect((yield* fail(py("import os\nos._exit(0)"))).message).toBe("Process completed but returned no result")
        }))

      it.effect("what came through the pipe", () =>
        Effect.gen(function*() {
          expect((yield* fail(py(writesToPipe("b'\\x00\\x00\\x00\\x00'")))).message).toBe(
            "Invalid pipe message length: 0 bytes"
          )
          expect((yield* fail(py(writesToPipe("b'\\x00\\x00\\x00\\x10abc'")))).message).toBe(
            "Failed to read result from child process"
          )
          expect((yield* fail(py(writesToPipe("b'\\x00\\x00\\x00\\x03[1]'")))).message).toBe(
            "Invalid pipe message content: expected an object"
          )
          expect((yield* fail(py(writesToPipe("b'\\x00\\x00\\x00\\x0d{\"result\": 1}'")))).message).toMatch(
            /^Invalid pipe message content: .*print_args/
          )
          // The server is unharmed.
          expect((yield* run(py("return 'fine'"))).result).toBe("fine")
        }))
    }
  )
})

describe.runIf(available)("Python result limits", () => {
  it("a result over the payload limit", async () => {
    const { close, executor } = await start({ maxResultBytes: 1000 })
    const answer = await Effect.runPromise(Effect.either(executor.execute(py("return 'x' * 2000"))))
    await close()
    expect(Either.isLeft(answer) && answer.left).toMatchObject({ _tag: "ResultTooLarge", limitBytes: 1000 })
  })

  it("a result JSON cannot represent", async () => {
    const { close, executor } = await start({})
    const answer = await Effect.runPromise(Effect.either(executor.execute(py("return float('nan')"))))
    await close()
    expect(Either.isLeft(answer) && answer.left.message).toMatch(/The result cannot be converted to JSON/)
  })
})

describe.runIf(available)("the import guard and string.Formatter (analyser off, everything allowed but os)", () => {
  let executor: CodeExecutorShape
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ close, executor } = await start({ stdlibAllow: ["datetime", "string", "time"], poolSize: 1 }))
  })
  afterAll(() => close())
  const outcome = (code: string) => Effect.runPromise(Effect.either(executor.execute(py(code, { timeoutMs: 5000 }))))

  it("an __import__ call dressed up as CPython's own (empty fromlist list) gets no module", async () => {
    expect(await outcome("return [str(__import__(n, fromlist=[])) for n in ('os', 'sys', 'builtins')]")).toEqual(
      Either.right({ result: ["None", "None", "None"], console: [] })
    )
  })

  it("while CPython's own imports from C code still work (strftime, strptime)", async () => {
    expect(
      await outcome(
        "from datetime import datetime\nd = datetime(2026, 11, 21, 8, 30)\nreturn [d.strftime('%Y-%m-%d %H:%M'), datetime.strptime('2026-01-02', '%Y-%m-%d').day]"
      )
    ).toEqual(Either.right({ result: ["2026-11-21 08:30", 2], console: [] }))
  })

  it("string.Formatter templates are checked too", async () => {
    const answer = await outcome("import string\nreturn string.Formatter().format('{0.__class__}', 1)")
    expect(Either.isLeft(answer) && answer.left.message).toBe("Security violation detected")
    expect(await outcome("import string\nreturn string.Formatter().format('{0}-{1}', 1, 2)")).toEqual(
      Either.right({ result: "1-2", console: [] })
    )
  })
})

describe.runIf(available)("Python failures while reporting are still reported (objects that misbehave)", () => {
  let executor: CodeExecutorShape
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ close, executor } = await start({
      poolSize: 1,
      builtinsDeny: defaultExecutorOptions.builtinsDeny.filter((name) => name !== "__build_class__")
    }))
  })
  afterAll(() => close())
  const outcome = (code: string, continueOnFail = false) =>
    Effect.runPromise(Effect.either(executor.execute(py(code, { timeoutMs: 5000, continueOnFail }))))
  const raisingStr = "class Bad(Exception):\n    def __str__(self):\n        raise ValueError('nope')\n"

  it("a result whose __str__ raises", async () => {
    const answer = await outcome(
      "class B:\n    def __str__(self):\n        raise ValueError('nope')\nreturn [{'json': {'x': B()}}]"
    )
    expect(Either.isLeft(answer) && answer.left.message).toBe("The result cannot be converted to JSON: nope")
  })

  it("an exception whose __str__ raises: its type name, also with continueOnFail", async () => {
    const answer = await outcome(`${raisingStr}raise Bad()`)
    expect(Either.isLeft(answer) && answer.left.message).toBe("Bad")
    expect(await outcome(`${raisingStr}raise Bad()`, true)).toEqual(
      Either.right({ result: [{ json: { error: "Bad" } }], console: [] })
    )
  })

  it("an exception whose description raises", async () => {
    const answer = await outcome(
      "class D(Exception):\n    @property\n    def description(self):\n        raise ValueError()\nraise D('plain')"
    )
    expect(Either.isLeft(answer) && answer.left.message).toBe("plain")
  })

  it("a str subclass's templates are checked too", async () => {
    const answer = await outcome("class S(str):\n    pass\nreturn S('{0.__class__}').format(1)")
    expect(Either.isLeft(answer) && answer.left.message).toBe("Security violation detected")
  })

  it("print never raises into the user's code", async () => {
    expect(await outcome(`print({(1, 2): 3})\n${raisingStr}print(Bad())\nreturn 'printed'`)).toEqual(
      Either.right({ result: "printed", console: [["{(1, 2): 3}"], ["[Unprintable Bad]"]] })
    )
  })
})

/** Writes a frame header claiming `claimed` bytes, then `chunks` MiB, to the task's own result pipe. */
const flood = (claimed: number, chunks: number) =>
  [
    "import os, stat, struct",
    "fd = next(f for f in range(3, 64) if os.path.exists(f'/proc/self/fd/{f}') and stat.S_ISFIFO(os.fstat(f).st_mode))",
    `os.write(fd, struct.pack('>I', ${claimed}))`,
    "block = b' ' * (1 << 20)",
    `for _ in range(${chunks}):`,
    "    os.write(fd, block)",
    "os._exit(0)"
  ].join("\n")

describe.runIf(available)("what a task writes to its own result pipe cannot hurt the server", () => {
  it("more than the result limit: ResultTooLarge, and the server carries on", async () => {
    const { close, executor } = await start({ stdlibAllow: "*", maxResultBytes: 1 << 20 })
    const answer = await Effect.runPromise(Effect.either(executor.execute(py(flood(3 * 2 ** 20, 3)))))
    const next = await Effect.runPromise(executor.execute(py("return 'next'")))
    const stats = await Effect.runPromise(executor.pythonStats)
    await close()
    expect(Either.isLeft(answer) && answer.left._tag).toBe("ResultTooLarge")
    expect(next.result).toBe("next")
    expect(stats?.started).toBe(1)
  })

  it("a result passes through the server without being held there", async () => {
    const { close, executor } = await start({ stdlibAllow: "*", heapMb: 512, maxResultBytes: 3 * 2 ** 30 })
    await Effect.runPromise(executor.execute(py("return 1")))
    const pid = forkServerPid()
    const peak = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1])
    const before = peak()
    const answer = await Effect.runPromise(executor.execute(py("return 'x' * (96 << 20)")))
    const after = peak()
    await close()
    expect((answer.result as string).length).toBe(96 * 2 ** 20)
    // The server's peak memory does not grow with the result (kB).
    expect(after - before).toBeLessThan(8 * 1024)
  }, 60_000)
})

/** The fork server's process (the interpreter, not bwrap) of an executor of this process. */
const forkServerPid = (): number | undefined => {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      const exe = readlinkSync(`/proc/${entry}/exe`)
      if (
        /python/.test(exe) && argv.includes("serve") &&
        argv.some((a) => a.includes(`taskrunner-executor-${process.pid}-`))
      ) return Number(entry)
    } catch {
      // gone, or not ours to look at
    }
  }
  return undefined
}

/** Whether `needle` is anywhere in the writable memory of process `pid`. */
const memoryContains = (pid: number, needle: string): boolean => {
  const mem = openSync(`/proc/${pid}/mem`, "r")
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
      const match = /^([0-9a-f]+)-([0-9a-f]+) rw/.exec(line)
      if (match === null) continue
      const start = Number.parseInt(match[1]!, 16)
      const length = Number.parseInt(match[2]!, 16) - start
      const buffer = Buffer.alloc(length)
      try {
        readSync(mem, buffer, 0, length, start)
      } catch {
        continue
      }
      if (buffer.includes(needle)) return true
    }
    return false
  } finally {
    closeSync(mem)
  }
}

describe.runIf(available && process.getuid?.() === 0)("the fork server's memory", () => {
  it("keeps no copy of a finished task's code, items or result (later children would inherit it)", async () => {
    const { close, executor } = await start({ poolSize: 1 })
    const code = "CODE-SECRET-" + "7f3a".repeat(8)
    const item = "ITEM-SECRET-" + "c0de".repeat(8)
    const result = "RESULT-SECRET-" + "beef".repeat(8)
    const answer = await Effect.runPromise(executor.execute(py(
      `marker = '${code}'\nreturn [{'json': {'r': 'RESULT-SECRET-' + 'beef' * 8, 'i': _items[0]['json']['s']}}]`,
      { items: [{ json: { s: item } }] }
    )))
    expect(answer.result).toEqual([{ json: { r: result, i: item } }])
    const pid = forkServerPid()
    expect(pid).toBeDefined()
    const found = [code, item, result].filter((secret) => memoryContains(pid!, secret))
    await close()
    expect(found).toEqual([])
  })

  it("holds no part of a running task's result while the rest is on its way", async () => {
    const { close, executor } = await start({ poolSize: 1, stdlibAllow: "*" })
    const secret = "STREAM-SECRET-" + "a11c".repeat(8)
    const running = Effect.runPromise(executor.execute(py([
      "import json, os, stat, struct, time",
      "fd = next(f for f in range(3, 64) if os.path.exists(f'/proc/self/fd/{f}') and stat.S_ISFIFO(os.fstat(f).st_mode))",
      // The secret lies where a later, shorter read would not overwrite it.
      `body = json.dumps({'result': [' ' * 50000 + '${secret}' + ' ' * 150000], 'print_args': []}).encode()`,
      "os.write(fd, struct.pack('>I', len(body)) + body[:100000])",
      "time.sleep(1.5)",
      "os.write(fd, body[100000:])",
      "os._exit(0)"
    ].join("\n"))))
    await new Promise((resolve) => setTimeout(resolve, 700))
    const pid = forkServerPid()
    const found = memoryContains(pid!, secret)
    const answer = await running
    await close()
    expect((answer.result as Array<string>)[0]!.trim()).toBe(secret)
    expect(found).toBe(false)
  })
})

/** Calls system calls a task must not make (or share state through) and reports each one's errno. */
const forbiddenCalls = [
  "import ctypes, errno, os",
  "libc = ctypes.CDLL(None, use_errno=True)",
  "def call(name, *args):",
  "    ctypes.set_errno(0)",
  "    result = libc[name](*args)",
  "    return errno.errorcode.get(ctypes.get_errno(), 'ok') if result == -1 else 'ok'",
  "return {",
  "    'shmget': call('shmget', 0, 4096, 0o1600),",
  "    'msgget': call('msgget', 0, 0o1600),",
  "    'semget': call('semget', 0, 1, 0o1600),",
  "    'mq_open': call('mq_open', b'/taskrunner-q', 0o102, 0o600, None),",
  "    'ptrace': call('ptrace', 0, 0, None, None),",
  "    'unshare': call('unshare', 0x10000000),",
  "    'clone_newnet': call('syscall', 56 if os.uname().machine == 'x86_64' else 220, 0x40000000 | 17, 0, 0, 0, 0),",
  "    'keyctl': call('syscall', 250 if os.uname().machine == 'x86_64' else 219, 0, 0, 0, 0, 0),",
  "    'bpf': call('syscall', 321 if os.uname().machine == 'x86_64' else 280, 0, 0, 0),",
  "    'clone3': call('syscall', 435, None, 0),",
  "    'fork': (lambda pid: (os.waitpid(pid, 0), 'ok')[1] if pid else os._exit(0))(os.fork()),",
  "}"
].join("\n")

const forbiddenVerdicts = {
  shmget: "EPERM",
  msgget: "EPERM",
  semget: "EPERM",
  mq_open: "EPERM",
  ptrace: "EPERM",
  unshare: "EPERM",
  clone_newnet: "EPERM",
  keyctl: "EPERM",
  bpf: "EPERM",
  clone3: "ENOSYS",
  fork: "ok"
}

describe.runIf(available)("Python isolation", () => {
  let executor: CodeExecutorShape
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ close, executor } = await start({ stdlibAllow: "*", poolSize: 1 }))
  })
  afterAll(() => close())
  const isRoot = process.getuid?.() === 0

  const outcome = (code: string) => Effect.runPromise(Effect.either(executor.execute(py(code, { timeoutMs: 5000 }))))

  it("the environment is empty", async () => {
    expect(await outcome("import os\nreturn dict(os.environ)")).toEqual(Either.right({ result: {}, console: [] }))
  })

  it.runIf(isRoot)("each task runs as a user of its own, not dumpable, and cannot signal other processes", async () => {
    const answer = await outcome([
      "import os",
      "killed = []",
      "for pid in os.listdir('/proc'):",
      "    if pid.isdigit() and int(pid) != os.getpid():",
      "        try:",
      "            os.kill(int(pid), 0)",
      "            killed.append(pid)",
      "        except OSError:",
      "            pass",
      "return {'uid': os.getuid(), 'signalled': killed}"
    ].join("\n"))
    expect(Either.isRight(answer)).toBe(true)
    const result = Either.isRight(answer)
      ? (answer.right.result as { uid: number; signalled: Array<string> })
      : undefined
    expect(result?.uid).toBeGreaterThanOrEqual(61_000)
    expect(result?.signalled).toEqual([])
  })

  it("the system call filter refuses shared IPC, tracing, namespaces, keyrings and BPF; fork works", async () => {
    expect(await outcome(forbiddenCalls)).toEqual(Either.right({ result: forbiddenVerdicts, console: [] }))
  })

  it("a task that stops itself times out; the server carries on", async () => {
    const stopped = await Effect.runPromise(Effect.either(executor.execute(py(
      "import ctypes, os, signal\nctypes.CDLL(None).ptrace(0, 0, None, None)\nos.kill(os.getpid(), signal.SIGSTOP)\nreturn 'resumed'",
      { timeoutMs: 1000 }
    ))))
    expect(Either.isLeft(stopped) && stopped.left._tag).toBe("TimedOut")
    expect(await outcome("return 'next'")).toEqual(Either.right({ result: "next", console: [] }))
  })

  it.runIf(isRoot)("a fork bomb is stopped by the per-user process limit, and the server survives", async () => {
    const answer = await outcome(
      "import os\nn = 0\ntry:\n    while n < 10000:\n        if os.fork() == 0:\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    return {'stopped_at': n, 'errno': e.errno}\nreturn {'stopped_at': n}"
    )
    const result = Either.isRight(answer) ? (answer.right.result as { stopped_at: number; errno?: number }) : undefined
    expect(result?.errno, JSON.stringify(answer)).toBe(11) // EAGAIN
    expect(result?.stopped_at).toBeLessThanOrEqual(16)
    expect(await outcome("return 'alive'")).toEqual(Either.right({ result: "alive", console: [] }))
  })

  const leftoverTask =
    "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    time.sleep(60)\n    os._exit(0)\nreturn {'leftover': pid}"

  it("a task whose leftover process holds the result pipe still finishes", async () => {
    const answer = await outcome(leftoverTask)
    expect(Either.isRight(answer) && answer.right.result, JSON.stringify(answer)).toMatchObject({
      leftover: expect.any(Number)
    })
  })

  it.runIf(isRoot)("the processes a task leaves behind are killed when it ends", async () => {
    const answer = await outcome(leftoverTask)
    const leftover = Either.isRight(answer) ? (answer.right.result as { leftover: number }).leftover : 0
    expect(leftover).toBeGreaterThan(0)
    expect(await outcome(`import os\nreturn os.path.exists('/proc/${leftover}')`)).toEqual(
      Either.right({ result: false, console: [] })
    )
  })

  it("a task that closes its pipe and keeps running times out, while other tasks run", async () => {
    const stubborn = outcome(
      "import os\nfor fd in range(3, 256):\n    try:\n        os.close(fd)\n    except OSError:\n        pass\nwhile True:\n    pass"
    )
    expect(await outcome("return 'meanwhile'")).toEqual(Either.right({ result: "meanwhile", console: [] }))
    const answer = await stubborn
    expect(Either.isLeft(answer) && answer.left._tag).toBe("TimedOut")
  })

  it.runIf(isRoot)("an interrupted task's user is not handed to the next task until its child is gone", async () => {
    const stubborn = Effect.runFork(
      executor.execute(
        py("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)", {
          timeoutMs: 10_000
        })
      )
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    await Effect.runPromise(Fiber.interrupt(stubborn))
    // The stubborn child lives on for a second (SIGTERM ignored) and is then killed with every
    // process of its user: a task given the same user meanwhile would die with it.
    const next = await outcome("import os, time\ntime.sleep(1.5)\nreturn 'survived'")
    expect(next).toEqual(Either.right({ result: "survived", console: [] }))
  })

  it("a task sees no descriptor of the server's or of other tasks: only its own result pipe", async () => {
    const sleeper = Effect.runPromise(Effect.either(executor.execute(py("import time\ntime.sleep(1)\nreturn 1"))))
    await new Promise((resolve) => setTimeout(resolve, 200))
    const answer = await outcome(
      "import os, stat\nopen_ = []\nfor fd in range(0, 1024):\n    try:\n        mode = os.fstat(fd).st_mode\n    except OSError:\n        continue\n    open_.append('fifo' if stat.S_ISFIFO(mode) else 'chr' if stat.S_ISCHR(mode) else 'other')\nreturn open_"
    )
    // stdin, stdout, stderr on /dev/null, and one pipe.
    expect(answer).toEqual(Either.right({ result: ["chr", "chr", "chr", "fifo"], console: [] }))
    expect(await sleeper).toEqual(Either.right({ result: 1, console: [] }))
  })

  it("a task cannot leave its process group to dodge the deadline; the others are unharmed", async () => {
    const serversBefore = (await Effect.runPromise(executor.pythonStats))?.started
    const dodger = Effect.runPromise(Effect.either(executor.execute(py(
      "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntry:\n    os.setpgid(0, os.getpgid(os.getppid()))\nexcept OSError:\n    pass\nwhile True:\n    time.sleep(0.05)",
      { timeoutMs: 1000 }
    ))))
    const innocent = await outcome("import time\ntime.sleep(1.5)\nreturn 'unharmed'")
    expect(innocent).toEqual(Either.right({ result: "unharmed", console: [] }))
    const answer = await dodger
    expect(Either.isLeft(answer) && answer.left._tag).toBe("TimedOut")
    // The server itself stopped it: the runner did not have to kill the server (and with it
    // every other task) to get rid of it.
    expect(await outcome("return 'next'")).toEqual(Either.right({ result: "next", console: [] }))
    expect((await Effect.runPromise(executor.pythonStats))?.started).toBe(serversBefore)
  })

  it("ctypes and the standard library's other C extensions load in the jail (their libraries are bound); tasks are not dumpable", async () => {
    expect(
      await outcome(
        // PR_GET_DUMPABLE (3): 0 once the child made itself not dumpable (through ctypes).
        "import sqlite3, ctypes\nreturn [ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), sqlite3.connect(':memory:').execute('select 41 + 1').fetchone()[0]]"
      )
    ).toEqual(Either.right({ result: [0, 42], console: [] }))
  })

  it.runIf(isRoot)("a task cannot leave files in the jail's /tmp for later tasks", async () => {
    const written = await outcome(
      "import os\ntry:\n    os.close(os.open('/tmp/left-behind', os.O_CREAT | os.O_WRONLY, 0o666))\n    return 'written'\nexcept PermissionError:\n    return 'refused'"
    )
    expect(written).toEqual(Either.right({ result: "refused", console: [] }))
  })
})

const refused = (name: string) =>
  `Security violation detected: Import of standard library module '${name}' is disallowed. Allowed stdlib modules: importlib, json, operator, os, string, sys`
const violation = (name: string) =>
  `Security violation detected: Access to attribute '${name}' is disallowed, because it can be used to bypass security restrictions.`

describe.runIf(available)("module views: the allow-lists hold for attribute chains", () => {
  let executor: CodeExecutorShape
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ close, executor } = await start({ stdlibAllow: ["json", "os", "operator", "string", "importlib", "sys"] }))
  })
  afterAll(() => close())
  const run = (code: string) =>
    Effect.runPromise(Effect.either(executor.execute(py(code)))).then((answer) =>
      Either.isRight(answer)
        ? answer.right.result
        : `${answer.left.message}: ${"description" in answer.left ? answer.left.description : ""}`
    )

  it("a module another module imported is refused unless it is allowed itself", async () => {
    expect(await run("import json\nreturn str(json.decoder.re.enum.sys.modules)")).toBe(refused("re"))
    expect(await run("from json.decoder import re\nreturn str(re)")).toBe(refused("re"))
    expect(await run("import importlib\nreturn str(importlib.import_module('json').decoder.re)")).toBe(refused("re"))
    expect(await run("import importlib\nreturn str(importlib.__import__('subprocess'))")).toBe(refused("subprocess"))
  })

  it("allowed modules, their submodules and their other members work as usual", async () => {
    expect(
      await run(
        "import json, os.path\nfrom json import decoder\nreturn [json.loads('[1]'), os.path.join('a', 'b'), decoder.JSONDecodeError.__name__, json.decoder.scanner is not None, str(json)[:15]]"
      )
    ).toEqual([[1], "a/b", "JSONDecodeError", true, "<module 'json' "])
    expect(await run("import os\nos.answer = 42\nreturn os.answer")).toBe(42)
  })

  it("__main__ is the task's own module, not the server's", async () => {
    expect(
      await run(
        "import sys\nm = sys.modules['__main__']\nreturn [m.__name__, '_items' in m.__dict__, 'os' in m.__dict__, '_libc' in m.__dict__]"
      )
    ).toEqual(["__main__", true, false, false])
  })

  it("operator and string.Formatter cannot reach what x.name and templates may not", async () => {
    expect(await run("import operator\nreturn operator.attrgetter('__class__')(1)")).toBe(violation("__class__"))
    expect(await run("from operator import attrgetter\nreturn str(attrgetter('a.__globals__'))")).toBe(
      violation("__globals__")
    )
    expect(await run("import operator\nreturn str(operator.methodcaller('__reduce__')(1))")).toBe(
      violation("__reduce__")
    )
    expect(await run("import operator\nreturn operator.methodcaller('format', 1)('{0.__class__}')")).toBe(
      "Security violation detected: String pattern accessing '__class__' is disallowed, because it can be used to bypass security restrictions."
    )
    expect(await run("import string\nreturn str(string.Formatter().get_field('0.__class__', [1], {}))")).toBe(
      "Security violation detected: String pattern accessing '__class__' is disallowed, because it can be used to bypass security restrictions."
    )
    expect(
      await run(
        "import operator, string\nreturn [operator.attrgetter('real')(5), operator.methodcaller('format', 2)('{0}!'), string.Formatter().get_field('0', [7], {})[0]]"
      )
    ).toEqual([5, "2!", 7])
  })
})

describe.runIf(available)("the Python attack corpus with the analyser switched off", () => {
  const secret = "CANARY-SECRET-4b1d"
  const canaryDir = mkdtempSync(join(tmpdir(), "py-canary-"))
  const canaryFile = join(canaryDir, "secret.txt")
  writeFileSync(canaryFile, secret)
  chmodSync(canaryFile, 0o600)
  let connections = 0
  const server = createServer((socket) => {
    connections++
    socket.destroy()
  })
  let executor: CodeExecutorShape
  let close: () => Promise<void>
  let port = 0
  beforeAll(async () => {
    process.env["TASKRUNNER_TEST_CANARY"] = secret
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    port = (server.address() as { port: number }).port
    ;({ close, executor } = await start({ poolSize: 1, heapMb: 128 }))
  })
  afterAll(async () => {
    server.close()
    await close()
  })

  for (const attack of attackPython) {
    it(`${attack.family}/${attack.id}: ${attack.runtime}`, async () => {
      const code = attack.code.replaceAll("{{CANARY_FILE}}", canaryFile).replaceAll("{{PORT}}", String(port))
      const started = Date.now()
      const answer = await Effect.runPromise(Effect.either(executor.execute(py(code, { timeoutMs: 3000 }))))
      const text = JSON.stringify(
        Either.isRight(answer) ? answer.right : { tag: answer.left._tag, message: answer.left.message }
      )
      // Whatever happened, no canary was reached.
      expect(text).not.toContain(secret)
      expect(connections).toBe(0)
      const observed = Either.isRight(answer)
        ? answer.right.console.length === 101 ? "capped" : "ran"
        : answer.left._tag === "TimedOut"
        ? "timeout"
        : answer.left._tag === "OutOfMemory"
        ? "oom"
        : "blocked"
      // "contained" only promises the canaries are safe; the others name what must happen.
      const acceptable = attack.runtime === "contained"
        ? ["ran", "blocked", "capped", "timeout", "oom"]
        : [attack.runtime]
      expect(acceptable, text).toContain(observed)
      expect(Date.now() - started).toBeLessThan(20_000)
    }, 30_000)
  }
})

describe.runIf(available)("the benign Python corpus runs and gives the right results", () => {
  let executor: CodeExecutorShape
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ close, executor } = await start({
      stdlibAllow: ["json", "datetime", "re", "math", "collections", "itertools", "dataclasses", "functools"],
      builtinsDeny: defaultExecutorOptions.builtinsDeny.filter((name) => name !== "__build_class__")
    }))
  })
  afterAll(() => close())

  for (const snippet of benignPython) {
    it(snippet.id, async () => {
      const answer = await Effect.runPromise(Effect.either(executor.execute(py(snippet.code, {
        items: snippet.items ?? [],
        ...(snippet.query === undefined ? {} : { context: { _query: snippet.query } })
      }))))
      expect(Either.isRight(answer) ? answer.right.result : answer.left.message).toEqual(snippet.expected)
    })
  }
})

describe.runIf(available)("strict mode: a fresh jailed interpreter per task", () => {
  let executor: CodeExecutorShape
  let close: () => Promise<void>
  beforeAll(async () => {
    ;({ close, executor } = await start({ pythonStrict: true, stdlibAllow: ["os"] }))
  })
  afterAll(() => close())

  it("runs tasks, each in a new process", async () => {
    const pid = async () =>
      Effect.runPromise(executor.execute(py("import os\nreturn os.getpid()"))).then((o) => o.result)
    const first = await pid()
    const second = await pid()
    expect(typeof first).toBe("number")
    // A new PID namespace each time at the bwrap and unshare tiers: both see themselves as a low pid.
    expect(executor.tier === "none" ? first !== second : true).toBe(true)
    const failing = await Effect.runPromise(Effect.either(executor.execute(py("return 1/0"))))
    expect(Either.isLeft(failing) && failing.left.message).toBe("division by zero")
  })

  it("times out like the fork server", async () => {
    const answer = await Effect.runPromise(
      Effect.either(executor.execute(py("while True:\n    pass", { timeoutMs: 1000 })))
    )
    expect(Either.isLeft(answer) && answer.left._tag).toBe("TimedOut")
  })

  it("installs the system call filter too", async () => {
    const { close: closeAll, executor: all } = await start({ pythonStrict: true, stdlibAllow: "*" })
    const filtered = await Effect.runPromise(Effect.either(all.execute(py(forbiddenCalls))))
    await closeAll()
    expect(filtered).toEqual(Either.right({ result: forbiddenVerdicts, console: [] }))
  })
})
