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
import { Effect, Either, FiberSet } from "effect"
import type { Scope } from "effect"
import { isUtf8 } from "node:buffer"
import { constants as osConstants } from "node:os"
import type { ExecutionInput, ExecutionOutput, ExecutionRequest, ExecutorOptions, TaskHandle } from "../CodeExecutor.js"
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

/** The signal behind a wrapper's exit code 128 + N (a shell's or bwrap's convention), if any. */
const signalOfJailExit = (code: number): NodeJS.Signals | null => {
  const name = Object.entries(osConstants.signals).find(([, number]) => number === code - 128)?.[0]
  return code > 128 && name !== undefined ? name as NodeJS.Signals : null
}

/** Why a child ended before answering. */
export const exitError = (
  exit: WorkerExit,
  options: ExecutorOptions,
  timeoutSeconds: number,
  jailed = false
): ExecutionError => {
  if (outOfMemoryText.test(exit.stderr)) return new OutOfMemory({ limitMb: options.heapMb })
  // bwrap, the jail's first process, reports a child killed by signal N as exit code 128 + N.
  const signal = exit.signal ?? (jailed && exit.code !== null ? signalOfJailExit(exit.code) : null)
  if (signal === "SIGXCPU") return new TimedOut({ timeoutSeconds })
  if (signal !== null) return new Killed({ signal })
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

/** Sends a task's first part to a started child: the code and settings. */
const sendTask = (worker: WorkerProcess, request: ExecutionRequest<unknown>, options: ExecutorOptions): void => {
  worker.answered = false
  worker.send({
    type: "task",
    code: request.code,
    mode: request.mode,
    continueOnFail: request.continueOnFail,
    context: request.context ?? {},
    builtinAllowed: options.allowBuiltin,
    externalAllowed: options.allowExternal,
    maxResultBytes: options.maxResultBytes,
    maxResultDepth: options.maxResultDepth,
    ...(worker.tasksRun + 1 >= options.workerReuse ? { last: true } : {})
  })
}

/** The input a request carries itself (no `input` effect). */
const inputOf = (request: ExecutionRequest<unknown>): ExecutionInput => ({
  items: request.items,
  ...(request.itemsJson === undefined ? {} : { itemsJson: request.itemsJson }),
  ...(request.workflow === undefined ? {} : { workflow: request.workflow })
})

/** What a language backend offers the executor. */
export interface Backend {
  readonly execute: <E>(request: ExecutionRequest<E>) => Effect.Effect<ExecutionOutput, ExecutionError | E>
  readonly stats: () => {
    readonly idle: number
    readonly busy: number
    readonly processes: number
    readonly started: number
    readonly startedCold?: number
  }
}

/** The JavaScript backend: `execute`, and `start`, the callback form the runner's hot path uses. */
export interface JsBackend extends Backend {
  readonly start: (
    request: ExecutionRequest<never>,
    done: (outcome: Either.Either<ExecutionOutput, ExecutionError>) => void
  ) => TaskHandle
}

/** A pool that ran dry this recently is under load: its new children start cold (see `spawnWorker`). */
const drainedForMs = 1000

/** How long after a task ends the pool starts refilling (see `refillSoon`). */
const refillDelayMs = 5

/** Starts the pool; closing the scope kills every child. */
export const makeJsBackend = (
  options: ExecutorOptions,
  sandbox: Sandbox,
  scripts: string
): Effect.Effect<JsBackend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const limits = jsLimits(options)
    const fibers = yield* FiberSet.make()
    const runInPool = yield* FiberSet.runtime(fibers)<never>()
    const idle: Array<WorkerProcess> = []
    const all = new Set<WorkerProcess>()
    const usedUids = new Set<number>()
    const busy = new Set<WorkerProcess>()
    let started = 0
    let startedCold = 0
    let spawning = 0
    let closing = false
    /** When a task last found no ready child. */
    let ranDryAt = Number.NEGATIVE_INFINITY

    /**
     * `warm`: the child runs a task of its own before saying ready (see `warmUp` in the child), so
     * the first real task does not pay first-run costs. A child a task is already waiting for, or
     * one started while none is ready and a task found none lately (the pool is drained faster than
     * it fills), skips it: it would be taken at once, and the warm-up is CPU the next start needs.
     */
    const spawnWorker = (warm: boolean): WorkerProcess => {
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
          warm ? "warm" : "cold",
          ...(options.externalModulesDir === undefined ? [] : [options.externalModulesDir])
        ],
        readable,
        limits,
        uid: sandbox.separateUsers ? uid : undefined
      })
      const worker = WorkerProcess.spawn(command, options.maxResultBytes)
      started++
      if (!warm) startedCold++
      all.add(worker)
      void worker.exited.then(() => {
        all.delete(worker)
        usedUids.delete(uid)
        const index = idle.indexOf(worker)
        if (index >= 0) idle.splice(index, 1)
      })
      return worker
    }

    /** How many children the pool lacks now. */
    const lacking = (): number => {
      if (closing) return 0
      // In reuse mode a busy child that may run more tasks will come back: count it.
      let returning = 0
      for (const worker of busy) if (worker.tasksRun + 1 < options.workerReuse) returning++
      return options.poolSize - idle.length - spawning - returning
    }

    // Keeps `poolSize` children started and waiting; a child that fails to start is dropped.
    const refill: Effect.Effect<void> = Effect.suspend(() => {
      const wanted = lacking()
      if (wanted <= 0) return Effect.void
      const warm = idle.length > 0 || Date.now() - ranDryAt > drainedForMs
      return Effect.forEach(Array.from({ length: wanted }), () =>
        Effect.suspend(() => {
          spawning++
          const worker = spawnWorker(warm)
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
     * Refills the pool a moment after a task ended. Starting a process blocks this event loop for
     * a moment and its start-up competes for the CPU: done a few milliseconds after `release`, it
     * happens after the task's answer has gone out and the broker has passed it on.
     */
    const refillSoon = () => {
      setTimeout(() => {
        // Usually nothing is lacking (a reused child came back): no fiber then (~0.2 ms a task).
        if (lacking() > 0) runInPool(refill)
      }, refillDelayMs)
    }

    /**
     * A ready child, now or when one has started (`null`: it failed to start, with why). In reuse
     * mode the child used last comes first: it is the one whose code and caches are warm.
     */
    const acquire = (got: (worker: WorkerProcess | ExecutionError) => void): void => {
      while (idle.length > 0) {
        const worker = idle.pop()!
        if (worker.alive) return got(worker)
      }
      // The pool ran dry (more tasks than warm children): start refilling now.
      ranDryAt = Date.now()
      const worker = spawnWorker(false)
      runInPool(refill)
      worker.ready.then(() => got(worker), (exit: WorkerExit) => got(startFailed(exit)))
    }

    const release = (worker: WorkerProcess) => {
      busy.delete(worker)
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
      refillSoon()
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closing = true
        await Promise.all([...all].map((worker) => worker.kill(500)))
      })
    )
    yield* FiberSet.run(fibers, refill)

    /**
     * Runs one task with callbacks, no fiber: a child is taken from the pool and gets the code at
     * once; the input follows through `provide`. `done` is called once, unless the task is cancelled.
     */
    const start = (
      request: ExecutionRequest<never>,
      done: (outcome: Either.Either<ExecutionOutput, ExecutionError>) => void
    ): TaskHandle => {
      const timeoutMs = request.timeoutMs ?? options.taskTimeoutMs
      const timeoutSeconds = Math.round(timeoutMs / 1000)
      let worker: WorkerProcess | undefined
      let input: ExecutionInput | undefined
      let inputSent = false
      let settled = false
      let deadline: ReturnType<typeof setTimeout> | undefined
      const consoleCalls: Array<ReadonlyArray<string | null>> = []
      let extras: Pick<ExecutionOutput, "customData" | "staticData"> = {}

      const end = () => {
        settled = true
        clearTimeout(deadline)
        if (worker !== undefined) {
          worker.listen(undefined)
          release(worker)
        }
      }
      const finish = (outcome: Either.Either<ExecutionOutput, ExecutionError>) => {
        if (settled) return
        end()
        done(outcome)
      }
      const fail = (error: ExecutionError) => {
        // A child that did not answer normally is killed with everything it started.
        if (worker !== undefined && !worker.answered) void worker.kill()
        finish(Either.left(error))
      }
      const logged = (args: ReadonlyArray<string | null>) => {
        consoleCalls.push(args)
        request.onConsole?.(args)
      }

      const onEvent = (event: WorkerEvent) => {
        switch (event._tag) {
          case "Broken":
            return fail(
              event.tooLarge === undefined
                ? new ProcessFailed({ message: `Failed to read result from child process: ${event.reason}` })
                : new ResultTooLarge({ bytes: event.tooLarge, limitBytes: options.maxResultBytes })
            )
          case "Result": {
            // Checked as text, not parsed: a large result is passed on without becoming objects here.
            const problem = isUtf8(event.json)
              ? checkJsonText(event.json, options.maxResultDepth)
              : "text that is not UTF-8"
            return problem === undefined
              ? finish(Either.right(resultOutput(event.json, consoleCalls, extras)))
              : fail(
                new ProcessFailed({ message: `Failed to read result from child process: invalid JSON: ${problem}` })
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
                const asker = worker
                void answer.then((reply) => {
                  if (!settled && asker?.alive === true) asker.send({ type: "rpcResult", id: message.id, ...reply })
                })
                return
              }
              case "done": {
                worker!.answered = true
                if (message.droppedConsoleCalls > 0) {
                  logged([`[Output truncated - ${message.droppedConsoleCalls} more print statements]`])
                }
                extras = {
                  ...(message.customData === undefined ? {} : { customData: message.customData }),
                  ...(message.staticData === undefined ? {} : { staticData: message.staticData })
                }
                if (!message.ok) {
                  return finish(
                    Either.left(
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
      }

      const sendInput = () => {
        if (worker === undefined || input === undefined || inputSent || settled) return
        inputSent = true
        // The deadline kills the child (a timer, not a racing fiber: cheaper per task).
        deadline = setTimeout(() => fail(new TimedOut({ timeoutSeconds })), timeoutMs)
        try {
          worker.send(
            { type: "input", ...(input.workflow === undefined ? {} : { workflow: input.workflow }) },
            [input.itemsJson ?? JSON.stringify(input.items)]
          )
        } catch (error) {
          fail(new ProcessFailed({ message: `Cannot send the task to its process: ${String(error)}` }))
        }
      }

      acquire((got) => {
        if (!(got instanceof WorkerProcess)) return finish(Either.left(got))
        if (settled) {
          // Cancelled while the child was starting: it has run nothing, so it can wait for another task.
          if (!closing && idle.length < options.poolSize) idle.push(got)
          else got.retire()
          return
        }
        worker = got
        busy.add(got)
        got.listen(onEvent)
        void got.exited.then((exit) => fail(exitError(exit, options, timeoutSeconds, sandbox.tier === "bwrap")))
        try {
          sendTask(got, request, options)
        } catch (error) {
          return fail(new ProcessFailed({ message: `Cannot send the task to its process: ${String(error)}` }))
        }
        sendInput()
      })

      return {
        provide: (given) => {
          input ??= given
          sendInput()
        },
        cancel: () => {
          if (settled) return
          const running = worker
          end()
          // Its process and everything it started are killed (cancel, deadline, shutdown).
          if (running !== undefined) void running.kill()
        }
      }
    }

    /** `start` as an effect: interrupting it kills the task's process. */
    const execute = <E>(request: ExecutionRequest<E>): Effect.Effect<ExecutionOutput, ExecutionError | E> =>
      Effect.suspend(() => {
        let outcome: Either.Either<ExecutionOutput, ExecutionError> | undefined
        let waiting: ((outcome: Either.Either<ExecutionOutput, ExecutionError>) => void) | undefined
        const { input, ...rest } = request
        const handle = start(rest, (result) => (waiting === undefined ? (outcome = result) : waiting(result)))
        const answer = Effect.async<ExecutionOutput, ExecutionError>((resume) => {
          if (outcome !== undefined) return resume(outcome)
          waiting = resume
          return Effect.sync(handle.cancel)
        })
        // The code is with the child already; the input follows when it is here.
        const provided: Effect.Effect<void, E> = input === undefined
          ? Effect.sync(() => handle.provide(inputOf(request)))
          : Effect.flatMap(input, (given) => Effect.sync(() => handle.provide(given)))
        return Effect.zipRight(Effect.onError(provided, () => Effect.sync(handle.cancel)), answer)
      })

    return {
      execute,
      start,
      stats: () => ({ idle: idle.length, busy: busy.size, processes: all.size, started, startedCold })
    }
  })
