import {
  Killed,
  MessageCodec,
  OutOfMemory,
  ProcessFailed,
  ResultTooLarge,
  RuntimeError,
  TimedOut
} from "@taskrunner/protocol"
import type { ExecutionError, WorkerMessage } from "@taskrunner/protocol"
import { Duration, Effect, Either } from "effect"
import type { Scope } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import type { Readable, Writable } from "node:stream"
import type { ExecutionOutput, ExecutionRequest, ExecutorOptions } from "../CodeExecutor.js"
import { exitOf, killTree } from "../ProcessTree.js"
import type { Command, ProcessLimits, Sandbox } from "../Sandbox.js"
import { encodeFrame, FrameReader } from "./frames.js"
import type { Backend } from "./jsBackend.js"
import type { PythonRuntime } from "./pythonRuntime.js"

/**
 * The Python backend. By default one jailed fork server runs for the executor and forks a child
 * per task; each child switches to a user of its own (as root), applies its own limits, and runs
 * the snippet with n8n's guards. `pythonStrict` starts a fresh jailed interpreter per task instead.
 *
 * What fork gives and does not give compared with a fresh process: a forked child starts with a
 * copy of the server's memory (the preloaded allow-listed modules, nothing of other tasks, which
 * run in their own children); it gets its own user id (as root), its own resource limits, and is
 * not dumpable, so other tasks cannot signal, trace or read it. It shares the server's jail: the
 * same namespaces, /tmp and bound files. It does not get a new address-space layout (ASLR offsets
 * are inherited), and a task that corrupts interpreter state it inherited cannot affect others
 * (copy-on-write) but sees the same starting state every time. Strict mode gives each task a new
 * interpreter and a new jail, at the cost of an interpreter start per task.
 */

const stderrTail = 8 * 1024

const signalName = (signal: number | null): string | undefined =>
  signal === null
    ? undefined
    : ({ 9: "SIGKILL", 15: "SIGTERM", 24: "SIGXCPU", 6: "SIGABRT", 11: "SIGSEGV" } as Record<number, string>)[signal] ??
      `signal ${signal}`

/** What ended a Python task: the child's status and, when it wrote one, its pipe message. */
interface Ended {
  readonly status: "exited" | "timedOut" | "cancelled" | "tooLarge" | "noMemory" | "serverDied"
  readonly exitCode: number | null
  readonly signal: string | undefined
  readonly payload: Buffer | undefined
  readonly resultBytes: number
  readonly stderr?: string
}

/**
 * How a `pydone` message describes the end of a task, given the bytes the child wrote on its pipe
 * (a 4-byte length and the frame; `payload` only when the whole frame came through).
 */
const endedOf = (done: typeof WorkerMessage.PythonDone.Type, written: Buffer): Ended => {
  const claimed = written.length >= 4 ? written.readUInt32BE(0) : undefined
  return {
    status: done.status,
    exitCode: done.exitCode,
    signal: signalName(done.signal),
    payload: claimed !== undefined && written.length >= 4 + claimed ? written.subarray(4, 4 + claimed) : undefined,
    resultBytes: done.status === "tooLarge" ? done.claimedBytes : written.length
  }
}

/** Maps how a Python task ended to its result or n8n's error (spec 7.4 and 7.10). */
const outcome = (
  ended: Ended,
  options: ExecutorOptions,
  timeoutSeconds: number,
  request: ExecutionRequest<unknown>
): Effect.Effect<ExecutionOutput, ExecutionError> => {
  if (ended.status === "timedOut" || ended.signal === "SIGXCPU") {
    return Effect.fail(new TimedOut({ timeoutSeconds: Math.max(1, Math.round(timeoutSeconds)) }))
  }
  if (ended.status === "serverDied") {
    return Effect.fail(
      new ProcessFailed({ message: "The Python server stopped while running the task", stderr: ended.stderr ?? "" })
    )
  }
  if (ended.status === "noMemory") {
    return Effect.fail(
      new ProcessFailed({
        message: "The task's code and items do not fit in the Python server's memory next to the other running tasks"
      })
    )
  }
  if (ended.status === "tooLarge") {
    return Effect.fail(new ResultTooLarge({ bytes: ended.resultBytes, limitBytes: options.maxResultBytes }))
  }
  if (ended.payload === undefined) {
    if (ended.signal === "SIGKILL") return Effect.fail(new Killed({ signal: "SIGKILL" }))
    if (ended.signal === "SIGTERM") {
      return Effect.fail(new ProcessFailed({ message: "Task was cancelled", signal: "SIGTERM" }))
    }
    if (ended.signal !== undefined) return Effect.fail(new Killed({ signal: ended.signal }))
    if (ended.exitCode !== 0) {
      return Effect.fail(
        new ProcessFailed({ message: `Task subprocess exited with code ${ended.exitCode}`, exitCode: ended.exitCode })
      )
    }
    // Something, but not a whole frame, came through the pipe.
    if (ended.resultBytes > 0) {
      return Effect.fail(new ProcessFailed({ message: "Failed to read result from child process", exitCode: 0 }))
    }
    return Effect.fail(new ProcessFailed({ message: "Process completed but returned no result", exitCode: 0 }))
  }
  const decoded = MessageCodec.decodePipeMessage(ended.payload)
  if (Either.isLeft(decoded)) return Effect.fail(new ProcessFailed({ message: decoded.left }))
  const message = decoded.right
  for (const args of message.print_args) request.onConsole?.(args)
  const error = message.error
  if (error === undefined) return Effect.succeed({ result: message.result ?? null, console: message.print_args })
  if (error.kind === "OutOfMemory") return Effect.fail(new OutOfMemory({ limitMb: options.heapMb }))
  if (error.kind === "ResultTooLarge") {
    return Effect.fail(new ResultTooLarge({ bytes: error.bytes ?? 0, limitBytes: options.maxResultBytes }))
  }
  return Effect.fail(
    new RuntimeError({
      message: error.message,
      description: error.description ?? "",
      ...(error.stack === undefined || error.stack === "" ? {} : { stack: error.stack })
    })
  )
}

/** Limits a Python child applies to itself (the server's own limits are looser, to allow them). */
export const pythonChildLimits = (
  options: ExecutorOptions,
  timeoutSeconds: number
): typeof WorkerMessage.PythonLimits.Type => ({
  addressSpaceBytes: (options.heapMb + 256) * 1024 * 1024,
  cpuSeconds: Math.ceil(timeoutSeconds) + 1,
  maxFileBytes: 1024 * 1024,
  maxOpenFiles: 64,
  maxProcesses: 16
})

const taskMessage = (
  id: number,
  request: ExecutionRequest<unknown>,
  options: ExecutorOptions,
  timeoutSeconds: number,
  uid: number | null
): typeof WorkerMessage.PythonTask.Type => ({
  type: "task",
  id,
  code: request.code,
  mode: request.mode._tag === "PerItem" ? "per_item" : "all_items",
  continueOnFail: request.continueOnFail,
  query: (request.context?.["_query"] ?? null) as unknown,
  timeoutSeconds,
  uid,
  limits: pythonChildLimits(options, timeoutSeconds),
  stdlibAllow: options.stdlibAllow,
  externalAllow: options.pythonExternalAllow,
  builtinsDeny: options.builtinsDeny,
  blockEnvAccess: options.blockEnvAccess,
  allowTransitiveImports: options.allowTransitiveImports,
  maxResultBytes: options.maxResultBytes
})

const encodeTask = (
  message:
    | typeof WorkerMessage.PythonDispatch.Type
    | typeof WorkerMessage.PythonTask.Type
    | typeof WorkerMessage.PythonCancel.Type
): Buffer => {
  const encoded = MessageCodec.encodeToPythonServer(message)
  if (Either.isLeft(encoded)) throw new Error(encoded.left.message)
  return encodeFrame(encoded.right)
}

/** The three frames that start a task: the dispatch (for the server), the task and the items (for the child). */
const taskFrames = (task: typeof WorkerMessage.PythonTask.Type, request: ExecutionRequest<unknown>): Buffer =>
  Buffer.concat([
    encodeTask({
      type: "dispatch",
      id: task.id,
      timeoutSeconds: task.timeoutSeconds,
      uid: task.uid,
      maxResultBytes: task.maxResultBytes
    }),
    encodeTask(task),
    encodeFrame(
      request.itemsJson === undefined
        ? JSON.stringify(request.items)
        : Buffer.from(request.itemsJson.buffer, request.itemsJson.byteOffset, request.itemsJson.byteLength)
    )
  ])

/** A jailed Python process with the framed channel on fd 3. */
class PythonProcess {
  readonly child: ChildProcess
  readonly channel: Readable & Writable
  readonly exited: Promise<
    { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stderr: string }
  >
  stderr = ""
  killed = false

  constructor(command: Command, onFrame: (frame: Buffer) => void, maxFrame: number) {
    this.child = spawn(command.file, [...command.args], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
      env: {},
      detached: true
    })
    this.channel = this.child.stdio[3] as Readable & Writable
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-stderrTail)
    })
    const reader = new FrameReader((length) => (length > maxFrame ? `frame of ${length} bytes` : undefined))
    this.channel.on("data", (chunk: Buffer) => {
      const refused = reader.push(chunk, (frame) => {
        onFrame(frame)
        return true
      })
      if (refused !== undefined) void this.kill()
    })
    this.channel.on("error", () => {})
    this.child.on("error", (error) => (this.stderr += `\n${error.message}`))
    this.exited = exitOf(this.child).then(({ code, signal }) => ({ code, signal, stderr: this.stderr }))
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null && !this.killed
  }

  write(data: Buffer) {
    this.channel.write(data)
  }

  kill(graceMs = 1000) {
    if (!this.alive) return this.exited
    this.killed = true
    return killTree(this.child.pid, this.exited, graceMs)
  }
}

/** Starts the Python backend for `runtime`; closing the scope stops it. */
export const makePythonBackend = (
  options: ExecutorOptions,
  sandbox: Sandbox,
  scripts: string,
  runtime: PythonRuntime
): Effect.Effect<Backend, never, Scope.Scope> =>
  Effect.gen(function*() {
    const script = `${scripts}py_server.py`
    const readable = [
      script,
      ...runtime.stdlib,
      ...(options.pythonExternalAllow.length === 0 ? [] : runtime.sitePackages)
    ]
    // The server's own limits leave room for the children's (each sets its own, lower ones).
    const serverLimits: ProcessLimits = {
      heapMb: options.heapMb,
      addressSpaceMb: options.heapMb + 1024,
      cpuSeconds: 100_000_000,
      maxProcesses: 1024,
      maxFileBytes: 1024 * 1024,
      maxOpenFiles: 1024
    }
    const usedSlots = new Set<number>()
    /**
     * Tasks the server has not reported yet, with the slot (and so the uid) each holds. A task
     * that was interrupted stays here, without `resolve`, until the server reports its child
     * gone: its uid is not handed to another task while that child may still be running.
     */
    const pending = new Map<
      number,
      {
        resolve: ((ended: Ended) => void) | undefined
        readonly slot: number
        /** What the task's child has written on its pipe so far (dropped once nobody waits for it). */
        readonly written: Array<Buffer>
        bytes: number
      }
    >()
    let nextId = 1
    let busy = 0
    let started = 0
    let server: PythonProcess | undefined
    let ready: Promise<void> | undefined
    /** The task whose pipe bytes the next frame carries (after a `pydata`). */
    let awaitingData: number | undefined
    let closing = false

    const settings = JSON.stringify({
      stdlibAllow: options.stdlibAllow,
      externalAllow: options.pythonExternalAllow,
      maxResultBytes: options.maxResultBytes
    })

    const written = (id: number): Buffer => {
      const entry = pending.get(id)
      return entry === undefined ? Buffer.alloc(0) : Buffer.concat(entry.written, entry.bytes)
    }

    const settle = (id: number, ended: Ended) => {
      const entry = pending.get(id)
      if (entry === undefined) return
      pending.delete(id)
      usedSlots.delete(entry.slot)
      entry.resolve?.(ended)
    }

    const startServer = (): Promise<void> => {
      let markReady: (() => void) | undefined
      let failReady: ((error: Error) => void) | undefined
      const promise = new Promise<void>((resolve, reject) => {
        markReady = resolve
        failReady = reject
      })
      const process_ = new PythonProcess(
        sandbox.command({
          program: runtime.path,
          args: ["-I", "-B", script, "serve", settings],
          readable,
          loads: runtime.extensions,
          limits: serverLimits,
          uid: sandbox.separateUsers ? options.uidBase + 999 : undefined,
          keepSetuid: true
        }),
        (frame) => {
          if (awaitingData !== undefined) {
            const entry = pending.get(awaitingData)
            awaitingData = undefined
            if (entry?.resolve === undefined) return
            entry.bytes += frame.length
            // The server stops a task whose frame claims more than the limit; one that sends more is broken.
            if (entry.bytes > options.maxResultBytes + 4) return void process_.kill()
            entry.written.push(frame)
            return
          }
          const decoded = MessageCodec.decodeFromPythonServer(frame)
          if (Either.isLeft(decoded)) {
            void process_.kill()
            return
          }
          const message = decoded.right
          if (message.type === "ready") return markReady?.()
          if (message.type === "pydata") {
            awaitingData = message.id
            return
          }
          settle(message.id, endedOf(message, written(message.id)))
        },
        // Pipe bytes come in chunks of at most 64 KiB; messages are small.
        1024 * 1024
      )
      started++
      server = process_
      void process_.exited.then((exit) => {
        if (server === process_) {
          server = undefined
          ready = undefined
        }
        failReady?.(
          new Error(
            `The Python server stopped: ${exit.stderr.trim().split("\n").at(-1) ?? `exit ${exit.code ?? exit.signal}`}`
          )
        )
        // Whatever it was running is lost: those tasks fail.
        for (const [id] of pending) {
          settle(id, {
            status: "serverDied",
            exitCode: exit.code,
            signal: exit.signal ?? undefined,
            payload: undefined,
            resultBytes: 0,
            stderr: exit.stderr
          })
        }
      })
      return promise
    }

    /**
     * A free slot (and so uid), taken round-robin over `uidSlots`: a uid is not handed out again
     * right after its task ended, so what that task left for the kernel to clean up (zombies
     * counting against the uid's process limit) is gone before the uid runs another task.
     */
    const uidSlots = 256
    let lastSlot = -1
    const slot = () => {
      let index = lastSlot
      for (let tries = 0; tries < uidSlots; tries++) {
        index = (index + 1) % uidSlots
        if (!usedSlots.has(index)) break
      }
      // More running tasks than slots: past the range (never happens with sane concurrency).
      while (usedSlots.has(index)) index += uidSlots
      usedSlots.add(index)
      lastSlot = index % uidSlots
      return index
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closing = true
        await server?.kill(500)
      })
    )

    if (!options.pythonStrict) {
      ready = startServer()
      ready.catch(() => {})
    }

    const viaServer = (
      request: ExecutionRequest<unknown>,
      timeoutSeconds: number
    ): Effect.Effect<ExecutionOutput, ExecutionError> =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          busy++
        }),
        () =>
          Effect.gen(function*() {
            if (closing) return yield* new ProcessFailed({ message: "The executor is shutting down" })
            if (server === undefined || ready === undefined) ready = startServer()
            yield* Effect.tryPromise({
              try: () => ready!,
              catch: (error) => new ProcessFailed({ message: (error as Error).message })
            })
            const current = server!
            const id = nextId++
            const ended = yield* Effect.async<Ended>((resume) => {
              const index = slot()
              const uid = sandbox.separateUsers ? options.uidBase + 1000 + index : null
              pending.set(id, {
                resolve: (value) => resume(Effect.succeed(value)),
                slot: index,
                written: [],
                bytes: 0
              })
              current.write(taskFrames(taskMessage(id, request, options, timeoutSeconds, uid), request))
              // Cancelled or interrupted: the server stops the child (SIGTERM, SIGKILL a second later).
              return Effect.sync(() => {
                const entry = pending.get(id)
                if (entry === undefined) return
                entry.resolve = undefined
                entry.written.length = 0
                if (current.alive) current.write(encodeTask({ type: "cancel", id }))
              })
            }).pipe(
              // The server enforces the deadline; this one only catches a server that stopped answering.
              Effect.timeoutFail({
                duration: Duration.seconds(timeoutSeconds + 5),
                onTimeout: () => {
                  void current.kill()
                  return new TimedOut({ timeoutSeconds: Math.max(1, Math.round(timeoutSeconds)) })
                }
              })
            )
            return yield* outcome(ended, options, timeoutSeconds, request)
          }),
        () =>
          Effect.sync(() => {
            busy--
          })
      )

    const strict = (
      request: ExecutionRequest<unknown>,
      timeoutSeconds: number
    ): Effect.Effect<ExecutionOutput, ExecutionError> =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          busy++
          started++
          const index = slot()
          let payload: Buffer | undefined
          const process_ = new PythonProcess(
            sandbox.command({
              program: runtime.path,
              args: ["-I", "-B", script, "single"],
              readable,
              loads: runtime.extensions,
              limits: {
                heapMb: options.heapMb,
                addressSpaceMb: options.heapMb + 256,
                cpuSeconds: Math.ceil(timeoutSeconds) + 1,
                maxProcesses: 16,
                maxFileBytes: 1024 * 1024,
                maxOpenFiles: 64
              },
              uid: sandbox.separateUsers ? options.uidBase + 1000 + index : undefined
            }),
            (frame) => {
              payload ??= frame
            },
            options.maxResultBytes + 1024
          )
          return { index, process_, payload: () => payload }
        }),
        ({ payload, process_ }) =>
          Effect.gen(function*() {
            process_.write(taskFrames(taskMessage(0, request, options, timeoutSeconds, null), request))
            const exit = yield* Effect.promise(() => process_.exited)
            return yield* outcome(
              {
                status: "exited",
                exitCode: exit.code,
                signal: exit.signal ?? undefined,
                payload: payload(),
                resultBytes: payload()?.length ?? 0
              },
              options,
              timeoutSeconds,
              request
            )
          }).pipe(Effect.timeoutFail({
            duration: Duration.seconds(timeoutSeconds),
            onTimeout: () => new TimedOut({ timeoutSeconds: Math.max(1, Math.round(timeoutSeconds)) })
          })),
        ({ index, process_ }) =>
          Effect.sync(() => {
            busy--
            // The uid is free again once the process (and all it started) is gone.
            void process_.kill().then(() => usedSlots.delete(index))
          })
      )

    return {
      execute: <E>(request: ExecutionRequest<E>) => {
        const timeoutSeconds = (request.timeoutMs ?? options.taskTimeoutMs) / 1000
        return options.pythonStrict ? strict(request, timeoutSeconds) : viaServer(request, timeoutSeconds)
      },
      stats: () => ({ idle: server?.alive === true ? 1 : 0, busy, processes: server?.alive === true ? 1 : 0, started })
    }
  })
