import {
  checkJsonText,
  CodeSyntaxError,
  Killed,
  OutOfMemory,
  ProcessFailed,
  ResultTooLarge,
  RuntimeError,
  TimedOut
} from "@taskrunner/protocol"
import type { ExecutionError, WorkerMessage } from "@taskrunner/protocol"
import { Duration, Effect, FiberSet } from "effect"
import type { Scope } from "effect"
import { isUtf8 } from "node:buffer"
import type { ExecutionOutput, ExecutionRequest, ExecutorOptions } from "../CodeExecutor.js"
import { permissionFlag } from "../Sandbox.js"
import type { ProcessLimits, Sandbox } from "../Sandbox.js"
import type { WorkerEvent, WorkerExit } from "./worker.js"
import { WorkerProcess } from "./worker.js"

/**
 * The JavaScript backend: a warm pool of jailed Node children (one task each by default, or up to
 * `workerReuse` tasks, each in a fresh context), speaking the framed fd-3 protocol.
 */

/** Limits of one JavaScript child process. */
export const jsLimits = (options: ExecutorOptions): ProcessLimits => ({
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
export const exitError = (exit: WorkerExit, options: ExecutorOptions, timeoutSeconds: number): ExecutionError => {
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

/** n8n's JS error shape: the details plus ` [line N]`; the type (from the stack) as description. */
const runtimeError = (failure: Extract<WorkerMessage.WorkerFailure, { kind: "RuntimeError" }>): RuntimeError => {
  if (failure.plain === true) {
    return new RuntimeError({
      message: failure.message,
      ...(failure.stack === undefined ? {} : { stack: failure.stack })
    })
  }
  const where = failure.lineNumber === undefined
    ? ""
    : failure.itemIndex === undefined
    ? ` [line ${failure.lineNumber}]`
    : ` [line ${failure.lineNumber}, for item ${failure.itemIndex}]`
  const type = failure.errorType
  return new RuntimeError({
    message: `${failure.message}${where}`,
    description: type === undefined || type.toLowerCase() === "error" ? null : type,
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

/** A JavaScript task's output: the checked result text, parsed only if someone reads `result`. */
const resultOutput = (
  json: Buffer,
  consoleCalls: ReadonlyArray<ReadonlyArray<string | null>>,
  extras: Pick<ExecutionOutput, "customData" | "staticData">
): ExecutionOutput => {
  let parsed: { value: unknown } | undefined
  return {
    ...extras,
    console: consoleCalls,
    resultJson: json,
    get result() {
      parsed ??= { value: JSON.parse(json.toString("utf8")) }
      return parsed.value
    }
  }
}

/** Runs one task on a started child; resolves when it answered, failed or died. */
const runOn = (
  worker: WorkerProcess,
  request: ExecutionRequest,
  options: ExecutorOptions,
  timeoutSeconds: number
): Effect.Effect<ExecutionOutput, ExecutionError> =>
  Effect.async<ExecutionOutput, ExecutionError>((resume) => {
    worker.answered = false
    const consoleCalls: Array<ReadonlyArray<string | null>> = []
    let extras: Pick<ExecutionOutput, "customData" | "staticData"> = {}
    let settled = false
    const finish = (outcome: Effect.Effect<ExecutionOutput, ExecutionError>) => {
      if (settled) return
      settled = true
      worker.listen(undefined)
      resume(outcome)
    }
    const logged = (args: ReadonlyArray<string | null>) => {
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
          // Checked as text, not parsed: a large result is passed on without becoming objects here.
          const problem = isUtf8(event.json)
            ? checkJsonText(event.json, options.maxResultDepth)
            : "text that is not UTF-8"
          return finish(
            problem === undefined
              ? Effect.succeed(resultOutput(event.json, consoleCalls, extras))
              : Effect.fail(
                new ProcessFailed({ message: `Failed to read result from child process: invalid JSON: ${problem}` })
              )
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
              extras = {
                ...(message.customData === undefined ? {} : { customData: message.customData }),
                ...(message.staticData === undefined ? {} : { staticData: message.staticData })
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
          maxResultDepth: options.maxResultDepth,
          ...(request.workflow === undefined ? {} : { workflow: request.workflow }),
          ...(worker.tasksRun + 1 >= options.workerReuse ? { last: true } : {})
        },
        [request.itemsJson ?? JSON.stringify(request.items)]
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

/** What a language backend offers the executor. */
export interface Backend {
  readonly execute: (request: ExecutionRequest) => Effect.Effect<ExecutionOutput, ExecutionError>
  readonly stats: () => {
    readonly idle: number
    readonly busy: number
    readonly processes: number
    readonly started: number
  }
}

/** Starts the pool; closing the scope kills every child. */
export const makeJsBackend = (
  options: ExecutorOptions,
  sandbox: Sandbox,
  scripts: string
): Effect.Effect<Backend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const limits = jsLimits(options)
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
      const script = `${scripts}jsWorker.cjs`
      // The worker loads two files beside it: n8n's globals and the bundled libraries (luxon, jmespath).
      const readable = [
        script,
        `${scripts}workflowApi.cjs`,
        `${scripts}libraries.cjs`,
        ...(options.externalModulesDir === undefined ? [] : [options.externalModulesDir])
      ]
      const command = sandbox.command({
        program: options.nodePath,
        args: [
          permissionFlag(),
          ...readable.map((path) => `--allow-fs-read=${path}`),
          "--disallow-code-generation-from-strings",
          "--disable-proto=throw",
          `--max-old-space-size=${limits.heapMb}`,
          "--no-warnings",
          script,
          ...(options.externalModulesDir === undefined ? [] : [options.externalModulesDir])
        ],
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

    /**
     * Refills the pool once the current macrotask is over. Starting a process blocks this event
     * loop for a moment and its start-up competes for the CPU: done from `release`, that happens
     * after the task's answer has gone out, not while the task runs.
     */
    const refillSoon = FiberSet.run(fibers, Effect.zipRight(Effect.sleep(0), refill))

    const acquire: Effect.Effect<WorkerProcess, ProcessFailed> = Effect.suspend(() => {
      while (idle.length > 0) {
        const worker = idle.shift()!
        if (worker.alive) return Effect.succeed(worker)
      }
      // The pool ran dry (more tasks than warm children): start refilling now.
      const worker = spawnWorker()
      return Effect.zipRight(
        FiberSet.run(fibers, refill),
        Effect.tryPromise({ try: () => worker.ready, catch: (exit) => startFailed(exit as WorkerExit) }).pipe(
          Effect.as(worker)
        )
      )
    })

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
        (worker) =>
          Effect.zipRight(Effect.sync(() => busy.delete(worker)), release(worker)).pipe(Effect.zipRight(refillSoon))
      )
    }

    return {
      execute,
      stats: () => ({ idle: idle.length, busy: busy.size, processes: all.size, started })
    }
  })
