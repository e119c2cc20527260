/**
 * The child side of a JavaScript task: started inside the jail, it talks to the runner over fd 3
 * (4-byte big-endian length + UTF-8 JSON frames, both directions) and runs each task in a fresh
 * `vm` context that holds only the documented globals. Standalone on purpose: it loads nothing
 * but Node built-ins, so it starts fast and needs read access to this one file.
 */
import nodeModule = require("node:module")
import net = require("node:net")
import nodePath = require("node:path")
import vm = require("node:vm")
import installWorkflowApi = require("./workflowApi.cjs")

const { createRequire, isBuiltin } = nodeModule
const { Socket } = net
const { join } = nodePath
const { createContext, Script } = vm

// ---------------------------------------------------------------------------------------------
// Channel

// Captured before hardening replaces Buffer.allocUnsafe with a zero-filling version.
const allocate = Buffer.allocUnsafe.bind(Buffer)

const channel = new Socket({ fd: 3, readable: true, writable: true })
const pending: Array<Buffer> = []
let pendingBytes = 0
let waiter: ((frame: Buffer) => void) | undefined
const queued: Array<Buffer> = []

const takeBytes = (count: number): Buffer => {
  const out = allocate(count)
  let offset = 0
  while (offset < count) {
    const head = pending[0]!
    const needed = count - offset
    if (head.length <= needed) {
      head.copy(out, offset)
      offset += head.length
      pending.shift()
    } else {
      head.copy(out, offset, 0, needed)
      pending[0] = head.subarray(needed)
      offset += needed
    }
  }
  pendingBytes -= count
  return out
}

const onChunk = (chunk: Buffer) => {
  pending.push(chunk)
  pendingBytes += chunk.length
  for (;;) {
    if (pendingBytes < 4) break
    const header = pending[0]!.length >= 4 ? pending[0]! : takePeek(4)
    const length = header.readUInt32BE(0)
    if (pendingBytes < 4 + length) break
    takeBytes(4)
    const frame = takeBytes(length)
    if (frame.subarray(0, rpcResultPrefix.length).equals(rpcResultPrefix)) {
      answerRpc(frame)
      continue
    }
    if (waiter !== undefined) {
      const wake = waiter
      waiter = undefined
      wake(frame)
    } else {
      queued.push(frame)
    }
  }
}
channel.on("data", onChunk)

function takePeek(count: number): Buffer {
  const joined = Buffer.concat(pending)
  pending.length = 0
  pending.push(joined)
  return joined.subarray(0, count)
}

// Answers to helper calls arrive while a task runs (they never start a task).
const rpcResultPrefix = Buffer.from("{\"type\":\"rpcResult\"")
const rpcWaiters = new Map<number, (ok: boolean, answer: string | undefined) => void>()
let rpcIds = 0

function answerRpc(frame: Buffer) {
  let message: { id?: unknown; status?: unknown; data?: unknown }
  try {
    message = JSON.parse(frame.toString("utf8")) as typeof message
  } catch {
    return
  }
  const done = typeof message.id === "number" ? rpcWaiters.get(message.id) : undefined
  if (done === undefined) return
  rpcWaiters.delete(message.id as number)
  done(message.status === "success", message.data === undefined ? undefined : JSON.stringify(message.data))
}

// The runner closing the channel means: no more tasks.
channel.on("end", () => process.exit(0))
channel.on("error", () => process.exit(70))

const nextFrame = (): Promise<Buffer> =>
  queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((resolve) => (waiter = resolve))

const frameOf = (text: string): Buffer => {
  const body = Buffer.from(text, "utf8")
  const header = allocate(4)
  header.writeUInt32BE(body.length, 0)
  return Buffer.concat([header, body])
}

const send = (message: object): void => {
  channel.write(frameOf(JSON.stringify(message)))
}

/** Writes the frames in one go (one system call, one wake-up of the runner). */
const sendThen = (buffers: ReadonlyArray<Buffer>): Promise<void> =>
  new Promise((resolve) => {
    channel.cork()
    for (let i = 0; i < buffers.length - 1; i++) channel.write(buffers[i]!)
    channel.write(buffers[buffers.length - 1]!, () => resolve())
    channel.uncork()
  })

// ---------------------------------------------------------------------------------------------
// Host hardening: the user's code never gets host objects directly, but if one leaks (through
// an allowed module, or an error), it must not be able to change what the next task sees.

const freezeHost = () => {
  // The jail starts the process with an empty environment, but bwrap always sets PWD: clear
  // whatever is left, so nothing reaches the task through the environment.
  for (const name of Object.keys(process.env)) delete process.env[name]
  // Uninitialised memory could hold earlier tasks' data (patched before Buffer is frozen).
  const zeroed = (size: number) => Buffer.alloc(size)
  Buffer.allocUnsafe = zeroed
  Buffer.allocUnsafeSlow = zeroed
  // Every intrinsic a task could reach through a host value (Buffer, say) is frozen, with all it
  // leads to: properties, accessors and prototypes, not only the globals' first level. Hidden ones
  // (%TypedArray%, the iterator and generator prototypes) too: a getter planted on
  // %TypedArray%.prototype ran inside this script's own frame reading for every later task of a
  // reused child (found by the attack corpus).
  const seen = new Set<unknown>()
  const pending: Array<unknown> = []
  const freeze = (value: unknown) => {
    if ((typeof value !== "object" && typeof value !== "function") || value === null || seen.has(value)) return
    seen.add(value)
    pending.push(value)
  }
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    const value = Object.getOwnPropertyDescriptor(globalThis, name)?.value
    if (typeof value === "function") freeze(value)
  }
  for (const namespace of [Reflect, JSON, Math, Atomics, Intl]) freeze(namespace)
  const hidden = [
    Object.getPrototypeOf(Uint8Array),
    Object.getPrototypeOf(function*() {}),
    Object.getPrototypeOf(async function() {}),
    Object.getPrototypeOf(async function*() {}),
    Object.getPrototypeOf([][Symbol.iterator]()),
    Object.getPrototypeOf(new Map()[Symbol.iterator]()),
    Object.getPrototypeOf(new Set()[Symbol.iterator]()),
    Object.getPrototypeOf(""[Symbol.iterator]()),
    Object.getPrototypeOf("".matchAll(/x/g)),
    Object.getOwnPropertyDescriptor(Function.prototype, "caller")?.get
  ]
  for (const value of hidden) freeze(value)
  while (pending.length > 0) {
    const value = pending.pop() as object
    Object.freeze(value)
    freeze(Object.getPrototypeOf(value))
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key)
      freeze(descriptor?.value)
      freeze(descriptor?.get)
      freeze(descriptor?.set)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Console: formatted like n8n's runner (a string becomes 'text', the context object
// [[ExecutionContext]], anything else JSON with circular references replaced).

const maxConsoleCalls = 100
const maxArgLength = 64 * 1024
const maxConsoleBytes = 1024 * 1024

interface TaskState {
  /** Fails the running task at once (an error thrown outside the awaited chain). */
  abort: (error: unknown) => void
  consoleCalls: number
  consoleBytes: number
  dropped: number
  contextGlobal: unknown
  readonly timers: Set<NodeJS.Timeout | NodeJS.Immediate>
  failure: unknown
  running: boolean
}

const jsonForLog = (value: unknown): string => {
  const ancestors: Array<unknown> = []
  const text = JSON.stringify(value, function(this: unknown, _key, current: unknown) {
    if (typeof current === "bigint") return `${current}n`
    if (typeof current !== "object" || current === null) return current
    while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop()
    if (ancestors.includes(current)) return "[Circular Reference]"
    ancestors.push(current)
    return current
  })
  return text === undefined ? String(value) : text
}

const formatArg = (value: unknown, state: TaskState): string | null => {
  // n8n's runner sends what JSON makes of `undefined`: null.
  if (value === undefined) return null
  let text: string
  try {
    if (typeof value === "string") text = `'${value}'`
    else if (value === state.contextGlobal) text = "[[ExecutionContext]]"
    // JSON has no text for these: n8n's runner sends null.
    else if (typeof value === "function" || typeof value === "symbol") return null
    else text = jsonForLog(value)
  } catch {
    text = "[Unserializable]"
  }
  return text.length > maxArgLength ? `${text.slice(0, maxArgLength)}… [truncated]` : text
}

const consoleLog = (state: TaskState, args: ReadonlyArray<unknown>) => {
  if (!state.running) return
  if (state.consoleCalls >= maxConsoleCalls) {
    state.dropped++
    return
  }
  const formatted = args.map((arg) => formatArg(arg, state))
  const bytes = formatted.reduce((sum, s) => sum + (s?.length ?? 4), 0)
  if (state.consoleBytes + bytes > maxConsoleBytes) {
    state.dropped++
    return
  }
  state.consoleCalls++
  state.consoleBytes += bytes
  send({ type: "console", args: formatted })
}

// ---------------------------------------------------------------------------------------------
// Modules: the allow-list resolver, returning a read-only view of the module.

interface Allowance {
  readonly builtin: "*" | ReadonlyArray<string>
  readonly external: "*" | ReadonlyArray<string>
}

// Arguments: `warm` or `cold` (see `main`), then the directory of external modules, if any.
const warm = process.argv[2] !== "cold"
const externalDir = process.argv[3] ?? ""
const externalRequire = externalDir === "" ? undefined : createRequire(join(externalDir, "noop.js"))

const membrane = new WeakMap<object, object>()
const originals = new WeakMap<object, object>()

/** Native methods need their real receiver and arguments, not our proxies of them. */
const unwrap = (value: unknown): unknown =>
  (typeof value === "object" || typeof value === "function") && value !== null ? originals.get(value) ?? value : value

/** A read-only proxy: reads return read-only views; writes, deletes and prototype changes throw. */
const readOnly = <T extends unknown>(value: T): T => {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return value
  const existing = membrane.get(value as object)
  if (existing !== undefined) return existing as T
  const refuse = () => {
    throw new TypeError("Modules are read-only in Code nodes")
  }
  const proxy: object = new Proxy(value as object, {
    get(target, key, receiver) {
      const descriptor = Reflect.getOwnPropertyDescriptor(target, key)
      const result = Reflect.get(target, key, receiver === proxy ? target : receiver)
      // Non-configurable, non-writable data properties must be returned as they are (proxy invariant).
      if (descriptor !== undefined && descriptor.configurable === false && descriptor.writable === false) {
        if ((typeof result === "object" || typeof result === "function") && result !== null) Object.freeze(result)
        return result
      }
      return readOnly(result)
    },
    apply(target, thisArg, args) {
      return readOnly(Reflect.apply(target as (...a: Array<unknown>) => unknown, unwrap(thisArg), args.map(unwrap)))
    },
    construct(target, args, newTarget): object {
      const constructor = target as new(...a: Array<unknown>) => object
      return readOnly(Reflect.construct(constructor, args.map(unwrap), newTarget === proxy ? constructor : newTarget))
    },
    getPrototypeOf(target) {
      return readOnly(Reflect.getPrototypeOf(target))
    },
    set: refuse,
    defineProperty: refuse,
    deleteProperty: refuse,
    setPrototypeOf: refuse,
    preventExtensions: refuse
  })
  membrane.set(value as object, proxy)
  originals.set(proxy, value as object)
  return proxy as T
}

const packageRoot = (name: string) => {
  const parts = name.split("/")
  return name.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

const allows = (list: "*" | ReadonlyArray<string>, name: string, root: string) =>
  list === "*" || list.some((entry) => {
    const bare = entry.startsWith("node:") ? entry.slice(5) : entry
    return bare === name || bare === root
  })

/** Loads an allowed module, or explains why not (as a string, so the caller throws in its realm). */
const resolveModule = (allowance: Allowance, name: unknown): { module?: unknown; error?: string } => {
  if (typeof name !== "string") return { error: "require() needs a module name" }
  const builtin = isBuiltin(name)
  const bare = name.startsWith("node:") ? name.slice(5) : name
  if (builtin) {
    if (!allows(allowance.builtin, bare, bare.split("/")[0]!)) return { error: `Module '${name}' is disallowed` }
    return { module: readOnly(require(name)) }
  }
  if (name.startsWith(".") || name.startsWith("/") || name.includes("\\") || name.includes(":")) {
    return { error: `Module '${name}' is disallowed` }
  }
  if (!allows(allowance.external, bare, packageRoot(bare))) return { error: `Module '${name}' is disallowed` }
  if (externalRequire === undefined) return { error: `Cannot find module '${name}'` }
  try {
    return { module: readOnly(externalRequire(name)) }
  } catch (error) {
    return { error: error instanceof Error ? error.message : `Cannot find module '${name}'` }
  }
}

// ---------------------------------------------------------------------------------------------
// The context: built by a prelude that runs inside it, so every function the user's code can
// reach belongs to the context's own realm (whose Function cannot compile strings).

const preludeSource = `(function prelude(host) {
  "use strict";
  const g = globalThis;
  const define = (name, value) => Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  delete g.WebAssembly;
  const noop = () => {};
  define("console", Object.freeze({
    log: (...args) => host.log(args),
    info: noop, warn: noop, error: noop, debug: noop, trace: noop, dir: noop, table: noop, time: noop, timeEnd: noop
  }));
  define("require", (name) => {
    const answer = host.require(name);
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer.module;
  });
  for (const name of ["setTimeout", "setInterval"]) {
    define(name, (callback, delay, ...args) => host.timer(name, () => callback(...args), delay));
  }
  define("setImmediate", (callback, ...args) => host.timer("setImmediate", () => callback(...args), 0));
  for (const name of ["clearTimeout", "clearInterval", "clearImmediate"]) define(name, (id) => host.clearTimer(id));
  for (const [name, value] of Object.entries(host.values)) define(name, value);
  // A stack the task reads shows its own frames (code.js) and the built-ins between them, never
  // this process's: its script's path and function names are none of the task's business. Node
  // asks the context's Error for this hook; Error is frozen below, so the task cannot swap it.
  const errorText = Error.prototype.toString;
  Error.prepareStackTrace = (error, frames) => {
    let text;
    try { text = Reflect.apply(errorText, error, []); } catch { text = "Error"; }
    for (const frame of frames) {
      const file = frame.getFileName();
      if (file === "code.js" || file === undefined || file === null) text += "\\n    at " + frame.toString();
    }
    return text;
  };
  // Built-in constructors cannot be changed (Error.prepareStackTrace and friends).
  for (const name of Object.getOwnPropertyNames(g)) {
    const value = Object.getOwnPropertyDescriptor(g, name).value;
    if (typeof value === "function" && /^[A-Z]/.test(name)) Object.freeze(value);
  }
  Object.freeze(Reflect);
  // Node asks the context's global \`Error\` for a prepareStackTrace hook: the binding stays this one.
  Object.defineProperty(g, "Error", { value: g.Error, writable: false, configurable: false, enumerable: false });
  return {
    parse: (text) => JSON.parse(text),
    set: (name, value) => define(name, value),
    inputApi: (all, current) => Object.freeze({
      all: () => all,
      first: () => all[0],
      last: () => all[all.length - 1],
      get item() { return current(); },
      params: {}
    })
  };
})`

const preludeScript = new Script(preludeSource, { filename: "prelude.js" })

/** n8n's globals, evaluated in each task's context (see workflowApi.cts). */
const workflowApiScript = new Script(`(${installWorkflowApi.toString()})`, { filename: "workflow-api.js" })

/** luxon and jmespath (see scripts/embed-libraries.mjs), compiled on first use in this process. */
const libraryScripts = new Map<string, vm.Script>()
const libraryScript = (name: "luxon" | "jmespath"): vm.Script => {
  let script = libraryScripts.get(name)
  if (script === undefined) {
    const sources = require("./libraries.cjs") as Record<string, string>
    script = new Script(sources[name]!, { filename: `${name}.js` })
    libraryScripts.set(name, script)
  }
  return script
}

const hostValues = () => ({
  Buffer,
  TextEncoder,
  TextDecoder,
  URL,
  URLSearchParams,
  btoa,
  atob
})

interface Task {
  readonly code: string
  readonly mode: { readonly _tag: "AllItems" } | { readonly _tag: "PerItem"; readonly startIndex: number } | {
    readonly _tag: "Raw"
  }
  readonly continueOnFail: boolean
  readonly context: Record<string, unknown>
  readonly builtinAllowed: "*" | ReadonlyArray<string>
  readonly externalAllowed: "*" | ReadonlyArray<string>
  readonly maxResultBytes: number
  readonly maxResultDepth: number
  /** The child's last task (it exits after it). */
  readonly last?: boolean
}

/** The second part of a task: its input, which the runner may still be fetching when the task comes. */
interface TaskInput {
  /** n8n's workflow data for the Code-node globals (absent: only items, `$input`, `$json`). */
  readonly workflow?: installWorkflowApi.WorkflowData
}

// The same wrapper as @taskrunner/protocol's JsCodeWrapper (sloppy, like n8n's runner).
const codePrefix = "async function VmCodeWrapper() {\n"
const codeSuffix = "\n}"
const lineOffset = 1

/**
 * The user's line of an error, as n8n's runner finds it: the first frame of a named function in
 * the user's code (`(code.js:N:M)`, not the wrapper), else the wrapper's own frame.
 */
const userLineOf = (stack: string): number | undefined => {
  const rows = stack.split(/\r?\n/)
  const row = rows.find((r) => /\(code\.js:\d+:\d+\)/.test(r) && !r.includes("VmCodeWrapper")) ??
    rows.find((r) => r.includes("VmCodeWrapper") && r.includes("code.js:"))
  const match = row === undefined ? null : /code\.js:(\d+):/.exec(row)
  return match === null ? undefined : Math.max(1, Number(match[1]) - lineOffset)
}

/** Set (hidden) on errors of n8n's globals: n8n's runner reports those with their message only. */
const apiErrorMark = "__taskrunnerApiError"
const stackHeader = /^(\S.*?): (.+)$/
const stackFrame = /^\s+at\s/
const excerptCaret = /^\s*\^+\s*$/

/**
 * How n8n's runner describes what the code threw: for an error-like value (one with a string
 * `message`) the details and type from its stack's header and the user's line; for anything
 * else its JSON text.
 */
const describeThrown = (thrown: unknown) => {
  const safe = <T extends unknown>(read: () => T, fallback: T): T => {
    try {
      return read()
    } catch {
      return fallback
    }
  }
  const record = thrown as Record<string, unknown>
  const isObject = typeof thrown === "object" && thrown !== null
  if (isObject && safe(() => record[apiErrorMark] === true, false)) {
    return {
      kind: "RuntimeError" as const,
      plain: true,
      message: safe(() => String(record["message"]), "Unknown error")
    }
  }
  if (!isObject || !safe(() => typeof record["message"] === "string", false)) {
    const text = safe(() => JSON.stringify(thrown) as string | undefined, undefined)
    return { kind: "RuntimeError" as const, message: text === undefined || text === "" ? "Unknown error" : text }
  }
  const message = safe(() => record["message"] as string, "")
  const rawStack = safe(() => (typeof record["stack"] === "string" ? record["stack"] : ""), "")
  const rows = rawStack.split(/\r?\n/)
  const firstFrame = rows.findIndex((row) => stackFrame.test(row))
  const head = firstFrame === -1 ? rows : rows.slice(0, firstFrame)
  const excerptEnd = head.reduce((last, row, index) => (excerptCaret.test(row) ? index + 1 : last), 0)
  const header = head.slice(excerptEnd).map((row) => stackHeader.exec(row)).find((match) => match !== null)
  const details = header?.[2]?.trim()
  const errorType = header?.[1]
  // Only the user's own frames: the runner's paths and internals are none of the user's business.
  const stack = rawStack.split("\n").filter((line, i) => i === 0 || line.includes("code.js:")).join("\n")
  const lineNumber = userLineOf(rawStack)
  return {
    kind: "RuntimeError" as const,
    message: details === undefined || details === "" ? message || "Unknown error" : details,
    ...(errorType === undefined ? {} : { errorType }),
    ...(stack === "" ? {} : { stack }),
    ...(lineNumber === undefined ? {} : { lineNumber })
  }
}

/** The message n8n's runner gives an error (what continueOnFail puts in the item). */
const n8nMessage = (described: ReturnType<typeof describeThrown>) =>
  "plain" in described || !("lineNumber" in described)
    ? described.message
    : `${described.message} [line ${described.lineNumber}]`

const isOutOfMemory = (failure: { readonly message: string }) =>
  /Array buffer allocation failed|Invalid array length|Invalid string length/.test(failure.message)

/** Deepest nesting of arrays/objects in a JSON text (strings skipped). */
const jsonDepth = (text: string): number => {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth
    } else if (c === 125 || c === 93) depth--
  }
  return max
}

/** A fresh context with its prelude, and the host side of it, for one task. */
const prepareContext = () => {
  let abort: (error: unknown) => void = () => {}
  const aborted = new Promise<never>((_, reject) => (abort = reject))
  aborted.catch(() => {})
  const state: TaskState = {
    abort: (error) => abort(error),
    consoleCalls: 0,
    consoleBytes: 0,
    dropped: 0,
    contextGlobal: undefined,
    timers: new Set(),
    failure: undefined,
    running: true
  }
  // Set when the task arrives (the context is made before).
  let allowance: Allowance = { builtin: [], external: [] }
  let ids = 0
  const timerIds = new Map<number, NodeJS.Timeout | NodeJS.Immediate>()
  const host = Object.freeze({
    log: (args: ReadonlyArray<unknown>) => consoleLog(state, args),
    require: (name: unknown) => resolveModule(allowance, name),
    timer: (kind: string, callback: () => void, delay: unknown) => {
      if (!state.running) return 0
      const id = ++ids
      const run = () => {
        if (kind !== "setInterval") timerIds.delete(id)
        callback()
      }
      const ms = Math.max(0, Number(delay) || 0)
      const handle = kind === "setImmediate"
        ? setImmediate(run)
        : kind === "setInterval"
        ? setInterval(run, ms)
        : setTimeout(run, ms)
      timerIds.set(id, handle)
      state.timers.add(handle)
      return id
    },
    clearTimer: (id: unknown) => {
      const handle = typeof id === "number" ? timerIds.get(id) : undefined
      if (handle === undefined) return
      clearTimeout(handle as NodeJS.Timeout)
      clearInterval(handle as NodeJS.Timeout)
      clearImmediate(handle as NodeJS.Immediate)
      timerIds.delete(id as number)
    },
    values: hostValues()
  })

  const context = createContext({}, { name: "task", codeGeneration: { strings: false, wasm: false } })
  const loaded = new Map<string, unknown>()
  const apiHost = Object.freeze({
    rpc: (name: string, params: string, done: (ok: boolean, answer: string | undefined) => void) => {
      if (!state.running) return
      const id = ++rpcIds
      rpcWaiters.set(id, (ok, answer) => {
        if (state.running) done(ok, answer)
      })
      send({ type: "rpc", id, name, params: JSON.parse(params) as Array<unknown> })
    },
    library: (name: "luxon" | "jmespath") => {
      if (!loaded.has(name)) loaded.set(name, libraryScript(name).runInContext(context))
      return loaded.get(name)
    }
  })
  const api = (preludeScript.runInContext(context) as (h: typeof host) => {
    parse: (text: string) => unknown
    set: (name: string, value: unknown) => void
    inputApi: (all: unknown, current: () => unknown) => unknown
  })(host)
  state.contextGlobal = new Script("globalThis").runInContext(context)
  // n8n's globals, made in the context now; `bindApi` gives them the task's data once it is here.
  const installApi = workflowApiScript.runInContext(context) as typeof installWorkflowApi
  const bindApi = installApi(apiHost)
  return {
    state,
    aborted,
    context,
    api,
    apiHost,
    bindApi,
    allow: (next: Allowance) => {
      allowance = next
    }
  }
}

type Prepared = ReturnType<typeof prepareContext>

/**
 * The next task's context, made ahead (a context with its prelude is most of a small task's time
 * in the child): after the warm-up, and after each task when the child may run another.
 */
let prepared: Prepared | undefined

/**
 * Starts a task from its first part: the code is compiled and the context made ready while the
 * runner may still be fetching the input from the broker. `run` finishes it once the input is
 * here; nothing is reported before (the runner always sends the input, and a child must read it
 * before its next task). `report` false runs it without a word to the runner (the warm-up).
 */
const beginTask = (
  task: Task,
  report = true
): { readonly run: (input: TaskInput, itemsText: string) => Promise<void> } => {
  const { aborted, api, bindApi, state, allow, context } = prepared ?? prepareContext()
  prepared = undefined
  currentTask = state
  allow({ builtin: task.builtinAllowed, external: task.externalAllowed })

  let workflowState: installWorkflowApi.ApiState | undefined
  const finish = async (ok: boolean, payload: { failure?: object; resultJson?: string }) => {
    state.running = false
    rpcWaiters.clear()
    const extras: { customData?: Record<string, string>; staticData?: unknown } = {}
    if (ok && workflowState !== undefined) {
      // Copied out of the task's realm as JSON (custom data values are strings already).
      extras.customData = JSON.parse(JSON.stringify(workflowState.customData())) as Record<string, string>
      try {
        const staticData = workflowState.staticData()
        if (staticData !== undefined) extras.staticData = JSON.parse(JSON.stringify(staticData)) as unknown
      } catch {
        // static data JSON cannot hold (a BigInt, say) is not sent, as it could not be saved
      }
    }
    for (const handle of state.timers) {
      clearTimeout(handle as NodeJS.Timeout)
      clearInterval(handle as NodeJS.Timeout)
      clearImmediate(handle as NodeJS.Immediate)
    }
    currentTask = undefined
    const done = frameOf(JSON.stringify({
      type: "done",
      ok,
      ...(payload.failure === undefined ? {} : { failure: payload.failure }),
      ...extras,
      droppedConsoleCalls: state.dropped
    }))
    if (report) await sendThen(payload.resultJson === undefined ? [done] : [done, frameOf(payload.resultJson)])
  }

  let userFunction: () => Promise<unknown> = async () => undefined
  let syntaxError: object | undefined
  try {
    userFunction = new Script(`(${codePrefix}${task.code}${codeSuffix})`, { filename: "code.js" }).runInContext(
      context
    ) as () => Promise<unknown>
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const line = error instanceof Error ? userLineOf(error.stack ?? "") : undefined
    syntaxError = { kind: "SyntaxError", message, ...(line === undefined ? {} : { lineNumber: line }) }
  }
  // Context values arrive as host objects; the user's code gets copies made in its own realm.
  if (syntaxError === undefined) {
    for (const [name, value] of Object.entries(task.context)) api.set(name, api.parse(JSON.stringify(value)))
  }
  return {
    run: (input, itemsText) =>
      syntaxError === undefined ? execute(input, itemsText) : finish(false, { failure: syntaxError })
  }

  async function execute(input: TaskInput, itemsText: string): Promise<void> {
    const items = api.parse(itemsText) as Array<Record<string, unknown>>
    const startIndex = task.mode._tag === "PerItem" ? task.mode.startIndex : 0
    workflowState = input.workflow === undefined
      ? undefined
      : bindApi(
        api.parse(JSON.stringify(input.workflow)) as installWorkflowApi.WorkflowData,
        items,
        startIndex
      )
    // n8n calls the snippet with the context as `this` (`this.helpers.httpRequest(...)`).
    const run = () => userFunction.call(state.contextGlobal)
    let result: unknown
    try {
      if (task.mode._tag === "PerItem") {
        let current: unknown
        if (workflowState === undefined) api.set("$input", api.inputApi(items, () => current))
        const out: Array<unknown> = []
        for (let i = 0; i < items.length; i++) {
          const item = items[i]
          const index = startIndex + i
          current = item
          workflowState?.setItem(index)
          api.set("item", item)
          api.set("$json", (item as { json?: unknown } | undefined)?.json)
          api.set("$binary", (item as { binary?: unknown } | undefined)?.binary)
          api.set("$itemIndex", index)
          try {
            const value = await Promise.race([run(), aborted])
            if (!value) continue
            const record = value as Record<string, unknown>
            const json = typeof value === "object" && "json" in record
              ? record["json"]
              : typeof value === "object" && "binary" in record
              ? {}
              : value
            out.push({
              json,
              pairedItem: { item: index },
              ...(typeof value === "object" && record["binary"] ? { binary: record["binary"] } : {})
            })
          } catch (error) {
            if (!task.continueOnFail) throw describeThrown(error)
            out.push({ json: { error: n8nMessage(describeThrown(error)) }, pairedItem: { item: index } })
          }
        }
        result = out
      } else {
        api.set("items", items)
        if (workflowState === undefined) api.set("$input", api.inputApi(items, () => items[0]))
        api.set("$json", items[0]?.["json"])
        try {
          result = await Promise.race([run(), aborted])
        } catch (error) {
          if (!task.continueOnFail) throw describeThrown(error)
          result = [{ json: { error: n8nMessage(describeThrown(error)) } }]
        }
        if (task.mode._tag === "AllItems" && (result === null || result === undefined)) result = []
      }
    } catch (failure) {
      const described =
        typeof failure === "object" && failure !== null && (failure as { kind?: unknown }).kind === "RuntimeError"
          ? failure as ReturnType<typeof describeThrown>
          : describeThrown(failure)
      return finish(false, {
        failure: isOutOfMemory(described) ? { kind: "OutOfMemory", message: described.message } : described
      })
    }

    let json: string | undefined
    try {
      json = JSON.stringify(result)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      if (error instanceof RangeError && /call stack/.test(message)) {
        return finish(false, { failure: { kind: "ResultTooDeep", depth: task.maxResultDepth + 1 } })
      }
      return finish(false, {
        failure: isOutOfMemory({ message })
          ? { kind: "OutOfMemory", message }
          : { kind: "ResultNotSerializable", message }
      })
    }
    if (json === undefined) json = "null"
    const bytes = Buffer.byteLength(json, "utf8")
    if (bytes > task.maxResultBytes) return finish(false, { failure: { kind: "ResultTooLarge", bytes } })
    const depth = jsonDepth(json)
    if (depth > task.maxResultDepth) return finish(false, { failure: { kind: "ResultTooDeep", depth } })
    return finish(true, { resultJson: json })
  }
}

// A failure outside the awaited chain (a throwing timer callback) fails the running task.
let currentTask: TaskState | undefined
process.on("uncaughtException", (error) => {
  if (currentTask !== undefined && currentTask.failure === undefined) {
    currentTask.failure = error
    currentTask.abort(error)
  }
})
process.on("unhandledRejection", () => {
  // A promise the code did not await; n8n's runner ignores these too.
})

/** A task nobody asked for (see `warmUp`). */
const warmUpTask = {
  type: "task",
  code:
    "const out = $input.all().map((item) => ({ json: { ...item.json, seen: $('Trigger').isExecuted } }))\nreturn out",
  mode: { _tag: "AllItems" },
  continueOnFail: false,
  context: {},
  builtinAllowed: [],
  externalAllowed: [],
  maxResultBytes: 1024 * 1024,
  maxResultDepth: 100
}
const warmUpInput = {
  type: "input",
  workflow: {
    workflow: { id: "", name: "", active: false },
    staticData: {},
    nodes: [{ name: "Trigger" }, { name: "Code" }],
    node: { name: "Code" },
    runData: { Trigger: [{ data: { main: [[{ json: {} }]] } }] },
    previousNode: { name: "Trigger", outputIndex: 0, runIndex: 0 },
    runIndex: 0,
    mode: "manual",
    executionId: "",
    resumeUrl: "",
    resumeFormUrl: "",
    variables: {},
    customData: {},
    env: { blocked: false, values: {} },
    timezone: "UTC"
  }
}

/** How long after a task the next one's context is made (an earlier task makes its own). */
const prepareDelayMs = 5

/** Reads one task from the channel and runs it (`report` false: without a word to the runner). */
const serveOne = async (report: boolean): Promise<void> => {
  const header = JSON.parse((await nextFrame()).toString("utf8")) as { type: string } & Task
  if (header.type !== "task") return
  const task = beginTask(header, report)
  const input = JSON.parse((await nextFrame()).toString("utf8")) as TaskInput
  const itemsText = (await nextFrame()).toString("utf8")
  await task.run(input, itemsText)
  // Ready for another, unless this was the last. Not at once: the runner and the broker are busy
  // with this task's answer just now, and on a small machine this would take a CPU from them.
  if (header.last !== true) {
    setTimeout(() => {
      prepared ??= prepareContext()
    }, prepareDelayMs)
  }
}

/**
 * Runs a task nobody asked for before saying ready, fed through the same frame reader and loop as
 * real ones: the first run of every function on a task's path (the runtime's and ours) costs
 * several times what later ones do (compiling, first allocations). Paid here, while the child
 * waits in the pool, not by the first real task.
 */
const warmUp = async () => {
  onChunk(
    Buffer.concat([
      frameOf(JSON.stringify(warmUpTask)),
      frameOf(JSON.stringify(warmUpInput)),
      frameOf("[{\"json\":{\"n\":1}}]")
    ])
  )
  await serveOne(false)
}

const main = async () => {
  freezeHost()
  // A cold child is started for a task that is waiting for it (the pool ran dry): no warm-up.
  if (warm) await warmUp()
  prepared ??= prepareContext()
  send({ type: "ready" })
  for (;;) await serveOne(true)
}

void main()
