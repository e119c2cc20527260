import { Defaults, ProcessFailed } from "@taskrunner/protocol"
import type { ExecutionError, WorkerMessage } from "@taskrunner/protocol"
import { Context, Data, Effect, Either, Layer } from "effect"
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Backend } from "./internal/jsBackend.js"
import { jsLimits, makeJsBackend } from "./internal/jsBackend.js"
import { makePythonBackend } from "./internal/pythonBackend.js"
import { detectPython } from "./internal/pythonRuntime.js"
import type { SandboxSetting, SandboxTier, SandboxUnavailable } from "./Sandbox.js"
import { detectSandbox, permissionFlag } from "./Sandbox.js"

/** A JavaScript task's input: its items and n8n's workflow data. */
export interface ExecutionInput {
  readonly items: ReadonlyArray<unknown>
  /** The items as JSON text of an array (then `items` is ignored). */
  readonly itemsJson?: Uint8Array
  readonly workflow?: typeof WorkerMessage.WorkflowData.Type
}

/** One task for the executor (`E`: how its `input` may fail). */
export interface ExecutionRequest<E = never> {
  readonly language: "javascript" | "python"
  readonly code: string
  readonly mode: WorkerMessage.ExecutionMode
  /** The input items (per item: the chunk, `mode.startIndex` being the first one's position). */
  readonly items: ReadonlyArray<unknown>
  /**
   * The items as JSON text of an array (then `items` is ignored): the runner hands on the input
   * as the broker sent it, without making it objects and text again.
   */
  readonly itemsJson?: Uint8Array
  readonly continueOnFail: boolean
  /** Extra globals for the snippet (JSON), e.g. what the broker answered to a data request. */
  readonly context?: Readonly<Record<string, unknown>>
  /** JavaScript: the workflow behind n8n's Code-node globals (`$`, `$workflow`, `$execution`, ...). */
  readonly workflow?: typeof WorkerMessage.WorkflowData.Type
  /**
   * JavaScript: the input, still on its way (the runner is fetching it from the broker). The
   * child gets the code at once and compiles it while this runs; `items`, `itemsJson` and
   * `workflow` are then ignored. Its failure is the task's. The timeout counts from its end.
   */
  readonly input?: Effect.Effect<ExecutionInput, E>
  /** Overrides the default task timeout. */
  readonly timeoutMs?: number
  /** Called for every console call (JS: as it happens; Python: after the task, before its result). */
  readonly onConsole?: (args: ReadonlyArray<string | null>) => void
  /** Answers helper calls from the snippet; without it every call fails with "Method not allowed". */
  readonly onRpc?: (
    name: string,
    params: ReadonlyArray<unknown>
  ) => Promise<{ readonly status: "success" | "error"; readonly data?: unknown }>
}

/** A JavaScript task on its way: the code is with a child (or soon will be), the input may follow. */
export interface TaskHandle {
  /**
   * Gives the task its input (the first call counts). Until then the child has only the code,
   * which it compiles meanwhile; the task's timeout counts from here.
   */
  readonly provide: (input: ExecutionInput) => void
  /** Ends the task now: its process is killed and no answer comes. */
  readonly cancel: () => void
}

/** A finished task: its result and every console call, in order. */
export interface ExecutionOutput {
  /** The result (for JavaScript parsed on first read from `resultJson`). */
  readonly result: unknown
  /**
   * JavaScript: the result as the child wrote it, checked to be one JSON value (UTF-8, no
   * `__proto__` key, within the depth limit) but not parsed — pass it on as text.
   */
  readonly resultJson?: Uint8Array
  readonly console: ReadonlyArray<ReadonlyArray<string | null>>
  /** JavaScript with workflow data: what `$execution.customData` holds at the end. */
  readonly customData?: Readonly<Record<string, string>>
  /** JavaScript with workflow data: the workflow static data, when the task changed it. */
  readonly staticData?: Readonly<Record<string, unknown>>
}

/** Settings of the executor (the runner reads them from its configuration). */
export interface ExecutorOptions {
  readonly sandbox: SandboxSetting
  /** Warm JavaScript children kept started and waiting (usually the runner's max concurrency). */
  readonly poolSize: number
  /** Tasks one JavaScript child may run, each in a fresh context (1 = a fresh process per task). */
  readonly workerReuse: number
  /** Memory limit of a task, MB (the V8 heap for JavaScript, the address space for Python). */
  readonly heapMb: number
  readonly taskTimeoutMs: number
  readonly maxResultBytes: number
  readonly maxResultDepth: number
  readonly allowBuiltin: "*" | ReadonlyArray<string>
  readonly allowExternal: "*" | ReadonlyArray<string>
  /** A folder whose `node_modules` holds the allow-listed external packages. */
  readonly externalModulesDir: string | undefined
  /** The Node.js binary for children (default: the runner's own). */
  readonly nodePath: string
  /** First of the user ids children get when the runner is root. */
  readonly uidBase: number
  /** Offer Python (when an interpreter >= 3.10 is found). */
  readonly python: boolean
  /** The interpreter; default: the system's python3. */
  readonly pythonPath: string | undefined
  /** A fresh jailed interpreter per Python task instead of a fork of the warm server. */
  readonly pythonStrict: boolean
  readonly stdlibAllow: "*" | ReadonlyArray<string>
  readonly pythonExternalAllow: "*" | ReadonlyArray<string>
  readonly builtinsDeny: ReadonlyArray<string>
  readonly blockEnvAccess: boolean
  readonly allowTransitiveImports: boolean
}

/** n8n's Python builtins deny list. */
export const defaultBuiltinsDeny: ReadonlyArray<string> = [
  "eval",
  "exec",
  "compile",
  "open",
  "input",
  "breakpoint",
  "getattr",
  "object",
  "type",
  "vars",
  "setattr",
  "delattr",
  "hasattr",
  "dir",
  "memoryview",
  "__build_class__",
  "globals",
  "locals",
  "license",
  "help",
  "credits",
  "copyright"
]

/** Defaults: a fresh jailed process per task, 1 GiB, 60 s, results up to the payload limit. */
export const defaultExecutorOptions: ExecutorOptions = {
  sandbox: "auto",
  poolSize: 5,
  workerReuse: 1,
  heapMb: 1024,
  taskTimeoutMs: 60_000,
  maxResultBytes: Defaults.maxPayloadBytes - 1024,
  maxResultDepth: 1000,
  allowBuiltin: [],
  allowExternal: [],
  externalModulesDir: undefined,
  nodePath: process.execPath,
  uidBase: 60_000,
  python: true,
  pythonPath: undefined,
  pythonStrict: false,
  stdlibAllow: [],
  pythonExternalAllow: [],
  builtinsDeny: defaultBuiltinsDeny,
  blockEnvAccess: true,
  allowTransitiveImports: false
}

/** The child scripts are not where the executor expects them (the package was not built). */
export class WorkerScriptMissing
  extends Data.TaggedError("WorkerScriptMissing")<{ readonly searched: ReadonlyArray<string> }>
{
  override get message(): string {
    return `The executor's child scripts are missing (looked in ${
      this.searched.join(", ")
    }); build @taskrunner/executor first`
  }
}

/** Runs task code in jailed child processes. */
export interface CodeExecutorShape {
  /** The jail tier in use. */
  readonly tier: SandboxTier
  /** Why a stronger tier is not in use. */
  readonly degradedBecause: ReadonlyArray<string>
  /** The languages this executor can run. */
  readonly languages: ReadonlyArray<"javascript" | "python">
  /** Why Python is not available (when it is not). */
  readonly pythonUnavailable: string | undefined
  /** The interpreter Python tasks run on (the analyser must parse with the same one). */
  readonly pythonPath: string | undefined
  /** Runs one task. Interrupting the effect kills its process. */
  readonly execute: <E = never>(request: ExecutionRequest<E>) => Effect.Effect<ExecutionOutput, ExecutionError | E>
  /**
   * A JavaScript task without a fiber (the runner's hot path): a child gets the code now and
   * compiles it, `provide` on the handle gives it the input, `done` gets the outcome once (not
   * after `cancel`, which kills the process).
   */
  readonly startJavaScript: (
    request: ExecutionRequest<never>,
    done: (outcome: Either.Either<ExecutionOutput, ExecutionError>) => void
  ) => TaskHandle
  /** JavaScript children started and waiting, and children running a task (for metrics and tests). */
  readonly stats: Effect.Effect<{
    readonly idle: number
    readonly busy: number
    /** Child processes alive now (idle, busy, starting or exiting). */
    readonly processes: number
    /** Child processes started since the executor started. */
    readonly started: number
    /** Of those, children started without a warm-up (a task was waiting for them). */
    readonly startedCold?: number
  }>
  /**
   * The same for Python: the fork server (idle/processes 1 while it runs; `started` counts server
   * starts, or interpreters in strict mode). Undefined without Python.
   */
  readonly pythonStats: Effect.Effect<
    { readonly idle: number; readonly busy: number; readonly processes: number; readonly started: number } | undefined
  >
}

/**
 * Where the built child scripts are: next to this module (built or bundled), or in `dist/`
 * (sources). The Python scripts live in `python/` beside them.
 */
export const childScriptDir = (): Either.Either<
  { readonly js: string; readonly python: string },
  WorkerScriptMissing
> => {
  const candidates = [new URL("./", import.meta.url), new URL("../dist/", import.meta.url)].map((u) => fileURLToPath(u))
  const found = candidates.find((dir) => existsSync(`${dir}child/jsWorker.cjs`))
  if (found === undefined) return Either.left(new WorkerScriptMissing({ searched: candidates.map((d) => `${d}child`) }))
  const python = [`${found}python/`, fileURLToPath(new URL("./python/", import.meta.url))].find((d) =>
    existsSync(`${d}py_server.py`)
  )
  return Either.right({ js: `${found}child/`, python: python ?? `${found}python/` })
}

const scriptDirPrefix = "taskrunner-executor-"

/** Whether a process with this id exists (or exists and is not ours to signal). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Removes the script folders of executors whose process is gone (killed before it could clean up). */
const removeStaleScriptDirs = () => {
  let entries: Array<string>
  try {
    entries = readdirSync(tmpdir())
  } catch {
    return
  }
  for (const entry of entries) {
    const pid = new RegExp(`^${scriptDirPrefix}(\\d+)-`).exec(entry)?.[1]
    if (pid === undefined || Number(pid) === process.pid || alive(Number(pid))) continue
    try {
      rmSync(join(tmpdir(), entry), { recursive: true, force: true })
    } catch {
      // another user's, or gone meanwhile
    }
  }
}

/** Copies the scripts children run into a fresh world-readable folder (children run as other users). */
const privateScripts = (dirs: { readonly js: string; readonly python: string }) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      removeStaleScriptDirs()
      const runtime = mkdtempSync(join(tmpdir(), `${scriptDirPrefix}${process.pid}-`))
      chmodSync(runtime, 0o755)
      for (const [dir, suffix] of [[dirs.js, ".cjs"], [dirs.python, ".py"]] as const) {
        if (!existsSync(dir)) continue
        for (const file of readdirSync(dir).filter((f) => f.endsWith(suffix))) {
          copyFileSync(join(dir, file), join(runtime, file))
          chmodSync(join(runtime, file), 0o444)
        }
      }
      return `${runtime}/`
    }),
    (runtime) => Effect.sync(() => rmSync(runtime, { recursive: true, force: true }))
  )

/** Runs task code in jailed child processes, with a warm pool. */
export class CodeExecutor extends Context.Tag("@taskrunner/executor/CodeExecutor")<CodeExecutor, CodeExecutorShape>() {
  /**
   * Detects (or checks) the jail, starts the warm JavaScript pool and the Python server, and
   * kills every child when the scope closes.
   */
  static readonly layer = (
    options: ExecutorOptions
  ): Layer.Layer<CodeExecutor, SandboxUnavailable | WorkerScriptMissing> =>
    Layer.scoped(
      CodeExecutor,
      Effect.gen(function*() {
        const dirs = yield* childScriptDir()
        const scripts = yield* privateScripts(dirs)
        const limits = jsLimits(options)
        const probe = `${scripts}probe.cjs`
        const sandbox = yield* detectSandbox({
          setting: options.sandbox,
          probe: {
            program: options.nodePath,
            args: [permissionFlag(), `--allow-fs-read=${probe}`, "--no-warnings", probe],
            readable: [probe],
            limits,
            uid: 60_999
          }
        })
        const js = yield* makeJsBackend(options, sandbox, scripts)
        const runtime = options.python ? detectPython(options.pythonPath) : Either.left("Python is switched off")
        const python: Backend | undefined = Either.isRight(runtime) && existsSync(`${scripts}py_server.py`)
          ? yield* makePythonBackend(options, sandbox, scripts, runtime.right)
          : undefined
        const pythonUnavailable = python !== undefined
          ? undefined
          : Either.isLeft(runtime)
          ? runtime.left
          : "the Python server script is missing"

        return CodeExecutor.of({
          tier: sandbox.tier,
          degradedBecause: sandbox.degradedBecause,
          languages: python === undefined ? ["javascript"] : ["javascript", "python"],
          pythonUnavailable,
          pythonPath: Either.isRight(runtime) && python !== undefined ? runtime.right.path : undefined,
          startJavaScript: js.start,
          execute: <E>(request: ExecutionRequest<E>) => {
            if (request.language === "javascript") return js.execute(request)
            if (python === undefined) {
              return Effect.fail(new ProcessFailed({ message: `Python tasks cannot run here: ${pythonUnavailable}` }))
            }
            // Python's items travel with the task: an input still on its way is awaited first.
            const { input, ...rest } = request
            return input === undefined ? python.execute(rest) : Effect.flatMap(input, (data) =>
              python.execute({
                ...rest,
                items: data.itemsJson === undefined
                  ? data.items
                  : JSON.parse(Buffer.from(data.itemsJson).toString("utf8")) as ReadonlyArray<unknown>
              }))
          },
          stats: Effect.sync(() => js.stats()),
          pythonStats: Effect.sync(() => python?.stats())
        })
      })
    )
}
