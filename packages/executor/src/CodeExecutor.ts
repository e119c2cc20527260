import {
  CodeSyntaxError,
  Defaults,
  Killed,
  MessageCodec,
  OutOfMemory,
  ProcessFailed,
  ResultTooLarge,
  RuntimeError,
  TimedOut
} from "@taskrunner/protocol"
import type { ExecutionError, WorkerMessage } from "@taskrunner/protocol"
import { Context, Data, Duration, Effect, Either, FiberSet, Layer } from "effect"
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { WorkerEvent, WorkerExit } from "./internal/worker.js"
import { WorkerProcess } from "./internal/worker.js"
import type { ProcessLimits, Sandbox, SandboxSetting, SandboxTier, SandboxUnavailable } from "./Sandbox.js"
import { detectSandbox } from "./Sandbox.js"

/** One task for the executor. */
export interface ExecutionRequest {
  readonly language: "javascript" | "python"
  readonly code: string
  readonly mode: WorkerMessage.ExecutionMode
  /** The input items (per item: the chunk, `mode.startIndex` being the first one's position). */
  readonly items: ReadonlyArray<unknown>
  readonly continueOnFail: boolean
  /** Extra globals for the snippet (JSON), e.g. what the broker answered to a data request. */
  readonly context?: Readonly<Record<string, unknown>>
  /** Overrides the default task timeout. */
  readonly timeoutMs?: number
  /** Called for every console call as it happens (already formatted for `logNodeOutput`). */
  readonly onConsole?: (args: ReadonlyArray<string>) => void
  /** Answers helper calls from the snippet; without it every call fails with "Method not allowed". */
  readonly onRpc?: (
    name: string,
    params: ReadonlyArray<unknown>
  ) => Promise<{ readonly status: "success" | "error"; readonly data?: unknown }>
}

/** A finished task: its result and every console call, in order. */
export interface ExecutionOutput {
  readonly result: unknown
  readonly console: ReadonlyArray<ReadonlyArray<string>>
}

/** Settings of the executor (the runner reads them from its configuration). */
export interface ExecutorOptions {
  readonly sandbox: SandboxSetting
  /** Warm children kept started and waiting (usually the runner's max concurrency). */
  readonly poolSize: number
  /** Tasks one child may run, each in a fresh context (1 = a fresh process per task). */
  readonly workerReuse: number
  /** Heap limit of a child, MB. */
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
}

/** Defaults: a fresh jailed process per task, 1 GiB heap, 60 s, results up to the payload limit. */
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
  uidBase: 60_000
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
  /** Runs one task. Interrupting the effect kills its process. */
  readonly execute: (request: ExecutionRequest) => Effect.Effect<ExecutionOutput, ExecutionError>
  /** Children started and waiting, and children running a task (for metrics and tests). */
  readonly stats: Effect.Effect<{
    readonly idle: number
    readonly busy: number
    /** Child processes alive now (idle, busy, starting or exiting). */
    readonly processes: number
    /** Child processes started since the executor started. */
    readonly started: number
  }>
}

/** Where the built child scripts are: next to this module (built or bundled), or in `dist/` (sources). */
export const childScriptDir = (): string | Either.Either<string, WorkerScriptMissing> => {
  const candidates = [new URL("./child/", import.meta.url), new URL("../dist/child/", import.meta.url)].map((u) =>
    fileURLToPath(u)
  )
  const found = candidates.find((dir) => existsSync(`${dir}jsWorker.cjs`))
  return found === undefined ? Either.left(new WorkerScriptMissing({ searched: candidates })) : Either.right(found)
}

const limitsOf = (options: ExecutorOptions): ProcessLimits => ({
  heapMb: options.heapMb,
  // Node reserves ~0.7 GB of address space at start; the rest is for off-heap buffers.
  addressSpaceMb: options.heapMb + 2048,
  // CPU time accumulates over every task a reused child runs.
  cpuSeconds: Math.ceil((options.taskTimeoutMs / 1000) * options.workerReuse) + 10,
  maxProcesses: 64,
  maxFileBytes: 1024 * 1024,
  maxOpenFiles: 128
})

const outOfMemoryText = /heap out of memory|Reached heap limit|Fatal process out of memory|allocation failed/i

/** Why a child ended before answering. */
const exitError = (exit: WorkerExit, options: ExecutorOptions, timeoutSeconds: number): ExecutionError => {
  if (outOfMemoryText.test(exit.stderr)) return new OutOfMemory({ limitMb: options.heapMb })
  if (exit.signal === "SIGXCPU") return new TimedOut({ timeoutSeconds })
  if (exit.signal !== null) return new Killed({ signal: exit.signal })
  const stderr = exit.stderr.trim()
  if (exit.code !== 0) {
    return new ProcessFailed({
      message: `Task subprocess exited with code ${exit.code}`,
      exitCode: exit.code,
      ...(stderr === "" ? {} : { stderr })
    })
  }
  return new ProcessFailed({
    message: "Process completed but returned no result",
    exitCode: 0,
    ...(stderr === "" ? {} : { stderr })
  })
}

/** n8n's JS error shape: the details plus ` [line N]` or ` [line N, for item I]`; the type as description. */
const runtimeError = (failure: Extract<WorkerMessage.WorkerFailure, { kind: "RuntimeError" }>): RuntimeError => {
  const where = failure.lineNumber === undefined
    ? ""
    : failure.itemIndex === undefined
    ? ` [line ${failure.lineNumber}]`
    : ` [line ${failure.lineNumber}, for item ${failure.itemIndex}]`
  const type = failure.errorType
  return new RuntimeError({
    message: `${failure.message}${where}`,
    description: failure.description ?? (type === undefined || type === "Error" ? null : type),
    ...(failure.stack === undefined ? {} : { stack: failure.stack }),
    ...(failure.lineNumber === undefined ? {} : { lineNumber: failure.lineNumber }),
    ...(failure.itemIndex === undefined ? {} : { itemIndex: failure.itemIndex })
  })
}

const failureError = (failure: WorkerMessage.WorkerFailure, options: ExecutorOptions): ExecutionError => {
  switch (failure.kind) {
    case "RuntimeError":
      return runtimeError(failure)
    case "SyntaxError":
      return new CodeSyntaxError({
        message: failure.message,
        ...(failure.lineNumber === undefined ? {} : { lineNumber: failure.lineNumber })
      })
    case "ResultTooLarge":
      return new ResultTooLarge({ bytes: failure.bytes, limitBytes: options.maxResultBytes })
    case "ResultTooDeep":
      return new RuntimeError({
        message: `The result is nested ${failure.depth} levels deep; the limit is ${options.maxResultDepth}`,
        description: null
      })
    case "ResultNotSerializable":
      return new RuntimeError({
        message: `The result cannot be converted to JSON: ${failure.message}`,
        description: null
      })
    case "OutOfMemory":
      return new OutOfMemory({ limitMb: options.heapMb })
  }
}

/** A child that exited before it was ready. */
const startFailed = (exit: WorkerExit) =>
  new ProcessFailed({
    message: `The task process failed to start${
      exit.stderr.trim() === "" ? "" : `: ${exit.stderr.trim().split("\n").slice(-3).join(" ")}`
    }`,
    exitCode: exit.code,
    signal: exit.signal,
    stderr: exit.stderr
  })

/** Runs one task on a started child; resolves when it answered, failed or died. */
const runOn = (
  worker: WorkerProcess,
  request: ExecutionRequest,
  options: ExecutorOptions,
  timeoutSeconds: number
): Effect.Effect<ExecutionOutput, ExecutionError> =>
  Effect.async<ExecutionOutput, ExecutionError>((resume) => {
    worker.answered = false
    const consoleCalls: Array<ReadonlyArray<string>> = []
    let settled = false
    const finish = (outcome: Effect.Effect<ExecutionOutput, ExecutionError>) => {
      if (settled) return
      settled = true
      worker.listen(undefined)
      resume(outcome)
    }
    const logged = (args: ReadonlyArray<string>) => {
      consoleCalls.push(args)
      request.onConsole?.(args)
    }
    worker.listen((event: WorkerEvent) => {
      switch (event._tag) {
        case "Broken":
          return finish(
            Effect.fail(
              event.tooLarge === undefined
                ? new ProcessFailed({ message: `Failed to read result from child process: ${event.reason}` })
                : new ResultTooLarge({ bytes: event.tooLarge, limitBytes: options.maxResultBytes })
            )
          )
        case "Result": {
          const parsed = MessageCodec.parseJson(event.json, "worker")
          return finish(
            Either.isLeft(parsed)
              ? Effect.fail(
                new ProcessFailed({ message: `Failed to read result from child process: ${parsed.left.message}` })
              )
              : Effect.succeed({ result: parsed.right, console: consoleCalls })
          )
        }
        case "Message": {
          const message = event.message
          switch (message.type) {
            case "console":
              return logged(message.args)
            case "rpc": {
              const answer = request.onRpc === undefined
                ? Promise.resolve({ status: "error" as const, data: "Method not allowed" })
                : request.onRpc(message.name, message.params).catch((error: unknown) => ({
                  status: "error" as const,
                  data: error instanceof Error ? error.message : String(error)
                }))
              void answer.then((reply) => {
                if (!settled && worker.alive) worker.send({ type: "rpcResult", id: message.id, ...reply })
              })
              return
            }
            case "done": {
              worker.answered = true
              if (message.droppedConsoleCalls > 0) {
                logged([`[Output truncated - ${message.droppedConsoleCalls} more print statements]`])
              }
              if (!message.ok) {
                return finish(
                  Effect.fail(
                    message.failure === undefined
                      ? new ProcessFailed({ message: "Process completed but returned no result" })
                      : failureError(message.failure, options)
                  )
                )
              }
              return // the result frame follows
            }
            case "ready":
              return
          }
        }
      }
    })
    void worker.exited.then((exit) => finish(Effect.fail(exitError(exit, options, timeoutSeconds))))
    try {
      worker.send(
        {
          type: "task",
          code: request.code,
          mode: request.mode,
          continueOnFail: request.continueOnFail,
          context: request.context ?? {},
          builtinAllowed: options.allowBuiltin,
          externalAllowed: options.allowExternal,
          maxResultBytes: options.maxResultBytes,
          maxResultDepth: options.maxResultDepth
        },
        [JSON.stringify(request.items)]
      )
    } catch (error) {
      finish(Effect.fail(new ProcessFailed({ message: `Cannot send the task to its process: ${String(error)}` })))
    }
    // Interruption (deadline, cancel, shutdown) kills the child and everything it started.
    return Effect.sync(() => {
      settled = true
      worker.listen(undefined)
      void worker.kill()
    })
  })

/** Runs task code in jailed child processes, with a warm pool. */
export class CodeExecutor extends Context.Tag("@taskrunner/executor/CodeExecutor")<CodeExecutor, CodeExecutorShape>() {
  /**
   * Detects (or checks) the jail, starts `poolSize` warm children, and kills every child when the
   * scope closes.
   */
  static readonly layer = (
    options: ExecutorOptions
  ): Layer.Layer<CodeExecutor, SandboxUnavailable | WorkerScriptMissing> =>
    Layer.scoped(
      CodeExecutor,
      Effect.gen(function*() {
        const dir = childScriptDir()
        const source = typeof dir === "string" ? dir : yield* dir
        // Children run as other users and may not traverse the runner's folders (a 0700 home or
        // checkout): they get their own world-readable copy of the scripts, removed at the end.
        const scripts = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const runtime = mkdtempSync(join(tmpdir(), "taskrunner-executor-"))
            chmodSync(runtime, 0o755)
            for (const file of readdirSync(source).filter((f) => f.endsWith(".cjs"))) {
              copyFileSync(join(source, file), join(runtime, file))
              chmodSync(join(runtime, file), 0o444)
            }
            return `${runtime}/`
          }),
          (runtime) => Effect.sync(() => rmSync(runtime, { recursive: true, force: true }))
        )
        const limits = limitsOf(options)
        const sandbox: Sandbox = yield* detectSandbox({
          setting: options.sandbox,
          nodePath: options.nodePath,
          probeScript: `${scripts}probe.cjs`,
          limits
        })
        const readable = options.externalModulesDir === undefined ? [] : [options.externalModulesDir]
        const scriptArgs = options.externalModulesDir === undefined ? [] : [options.externalModulesDir]
        const fibers = yield* FiberSet.make()
        const idle: Array<WorkerProcess> = []
        const all = new Set<WorkerProcess>()
        const usedUids = new Set<number>()
        const busy = new Set<WorkerProcess>()
        let started = 0
        let spawning = 0
        let closing = false

        const spawnWorker = (): WorkerProcess => {
          let uid = options.uidBase
          while (usedUids.has(uid)) uid++
          if (sandbox.separateUsers) usedUids.add(uid)
          const command = sandbox.command({
            script: `${scripts}jsWorker.cjs`,
            scriptArgs,
            readable,
            limits,
            uid: sandbox.separateUsers ? uid : undefined
          })
          const worker = WorkerProcess.spawn(command, options.maxResultBytes)
          started++
          all.add(worker)
          void worker.exited.then(() => {
            all.delete(worker)
            usedUids.delete(uid)
            const index = idle.indexOf(worker)
            if (index >= 0) idle.splice(index, 1)
          })
          return worker
        }

        // Keeps `poolSize` children started and waiting; a child that fails to start is dropped.
        const refill: Effect.Effect<void> = Effect.suspend(() => {
          // In reuse mode a busy child that may run more tasks will come back: count it.
          const returning = [...busy].filter((w) => w.tasksRun + 1 < options.workerReuse).length
          const wanted = options.poolSize - idle.length - spawning - returning
          if (closing || wanted <= 0) return Effect.void
          return Effect.forEach(Array.from({ length: wanted }), () =>
            Effect.suspend(() => {
              spawning++
              const worker = spawnWorker()
              return Effect.promise(() => worker.ready.then(() => true, () => false)).pipe(
                Effect.tap((ok) =>
                  Effect.sync(() => {
                    if (ok && worker.alive && !closing && idle.length < options.poolSize) idle.push(worker)
                    else if (ok) worker.retire()
                  })
                ),
                Effect.ensuring(Effect.sync(() => spawning--))
              )
            }), { concurrency: "unbounded", discard: true })
        })

        const acquire: Effect.Effect<WorkerProcess, ProcessFailed> = Effect.suspend(() => {
          while (idle.length > 0) {
            const worker = idle.shift()!
            if (worker.alive) return Effect.succeed(worker)
          }
          const worker = spawnWorker()
          return Effect.tryPromise({ try: () => worker.ready, catch: (exit) => startFailed(exit as WorkerExit) }).pipe(
            Effect.as(worker)
          )
        }).pipe(Effect.tap(() => FiberSet.run(fibers, refill)))

        const release = (worker: WorkerProcess) =>
          Effect.sync(() => {
            worker.tasksRun++
            // Only a child that answered its task normally may run another one; one that timed
            // out, crashed, broke the protocol or was cancelled is gone.
            if (
              worker.answered && worker.alive && !closing && worker.tasksRun < options.workerReuse &&
              idle.length < options.poolSize
            ) {
              idle.push(worker)
            } else if (worker.alive) {
              worker.retire()
              // It should exit at once; if it does not (a stuck timer in user code), it is killed.
              const timer = setTimeout(() => void worker.kill(), 2000)
              void worker.exited.then(() => clearTimeout(timer))
            }
          })

        yield* Effect.addFinalizer(() =>
          Effect.promise(async () => {
            closing = true
            await Promise.all([...all].map((worker) => worker.kill(500)))
          })
        )
        yield* FiberSet.run(fibers, refill)

        const execute = (request: ExecutionRequest): Effect.Effect<ExecutionOutput, ExecutionError> => {
          if (request.language !== "javascript") {
            return Effect.fail(
              new ProcessFailed({ message: `The ${request.language} task type is not available in this executor` })
            )
          }
          const timeoutMs = request.timeoutMs ?? options.taskTimeoutMs
          const timeoutSeconds = Math.round(timeoutMs / 1000)
          return Effect.acquireUseRelease(
            Effect.tap(acquire, (worker) => Effect.sync(() => busy.add(worker))),
            (worker) =>
              runOn(worker, request, options, timeoutSeconds).pipe(
                Effect.timeoutFail({
                  duration: Duration.millis(timeoutMs),
                  onTimeout: () => new TimedOut({ timeoutSeconds })
                })
              ),
            (worker) => Effect.zipRight(Effect.sync(() => busy.delete(worker)), release(worker))
          )
        }

        return CodeExecutor.of({
          tier: sandbox.tier,
          degradedBecause: sandbox.degradedBecause,
          languages: ["javascript"],
          execute: (request) => Effect.withSpan(execute(request), "CodeExecutor.execute"),
          stats: Effect.sync(() => ({ idle: idle.length, busy: busy.size, processes: all.size, started }))
        })
      })
    )
}
