import type { SecurityAnalyzerShape } from "@taskrunner/analyzer"
import { SecurityAnalyzer } from "@taskrunner/analyzer"
import { CodeExecutor } from "@taskrunner/executor"
import { CloseCode, MessageCodec, Offers, RejectionReason, scanJson, TimedOut } from "@taskrunner/protocol"
import type { BrokerMessage, DataRequest, RunnerMessage, TaskResultData } from "@taskrunner/protocol"
import {
  Cause,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  Fiber,
  FiberHandle,
  FiberRef,
  FiberRefs,
  FiberSet,
  HashMap,
  Layer,
  LogLevel,
  Option,
  Redacted,
  Schedule
} from "effect"
import { randomFillSync, randomInt } from "node:crypto"
import type { WebSocket } from "ws"
import { AuthTokenRefused, fetchGrantToken, openSocket, UpgradeRefused } from "./internal/connection.js"
import { durationBuckets, Metrics } from "./Metrics.js"
import { RunnerConfig } from "./RunnerConfig.js"
import { errorPayload, runPython, startJavaScript, TaskFailed } from "./TaskExecution.js"
import type { TaskAnswer, TaskLabels } from "./TaskExecution.js"

/**
 * Logs at once, from plain code, through the loggers and level of the fiber that called this (the
 * runner's): the line every task writes (its audit line) without starting a fiber for it, which
 * cost a task ~0.4 ms of CPU in the profile.
 */
const syncLogger = Effect.gen(function*() {
  const refs = (yield* Effect.runtime<never>()).fiberRefs
  const fiberId = yield* Effect.fiberId
  const minimum = FiberRefs.getOrDefault(refs, FiberRef.currentMinimumLogLevel)
  const loggers = FiberRefs.getOrDefault(refs, FiberRef.currentLoggers)
  const inherited = FiberRefs.getOrDefault(refs, FiberRef.currentLogAnnotations)
  const spans = FiberRefs.getOrDefault(refs, FiberRef.currentLogSpan)
  return (logLevel: LogLevel.LogLevel, message: string, annotations: Readonly<Record<string, unknown>>) => {
    if (LogLevel.greaterThan(minimum, logLevel)) return
    let all = inherited
    for (const [key, value] of Object.entries(annotations)) all = HashMap.set(all, key, value)
    const date = new Date()
    for (const logger of loggers) {
      logger.log({ fiberId, logLevel, message, cause: Cause.empty, context: refs, spans, annotations: all, date })
    }
  }
})

/** Why the runner wants the process to end, and how. */
export interface StopRequest {
  readonly code: number
  readonly reason: string
  /** Time running tasks get before they are killed. */
  readonly budgetMs: number
}

/** The runner cannot start as configured. */
export class RunnerStartFailed extends Data.TaggedError("RunnerStartFailed")<{ readonly message: string }> {}

/** Where the process's exit code is recorded when shutdown ends (read by `main`). */
export class ExitCode extends Context.Tag("@taskrunner/runner/ExitCode")<ExitCode, { code: number }>() {
  static readonly layer = Layer.sync(ExitCode, () => ({ code: 0 }))
}

/** The runner: connects to the broker, offers capacity, and drives each task to its answer. */
export interface TaskRunnerShape {
  readonly runnerId: string
  readonly taskTypes: ReadonlyArray<"javascript" | "python">
  /** Completes when the runner wants the process to end (fatal error, idle timeout, closed for good). */
  readonly stopped: Effect.Effect<StopRequest>
  /** Stops offering, gives running tasks `budgetMs`, kills the rest, closes the connection; the exit code. */
  readonly shutdown: (budgetMs: number) => Effect.Effect<number>
  readonly summary: Effect.Effect<
    { readonly connected: boolean; readonly runningTasks: number; readonly openOffers: number }
  >
}

const dataResponseStart = Buffer.from("{\"type\":\"broker:taskdataresponse\"")
const inputItemsPath = ["data", "inputData", "main", 0] as const

/**
 * A `broker:taskdataresponse` of 64 KiB or more, split into the message with no input items and
 * the items' JSON text (checked: one JSON array, no `__proto__` key). Undefined for anything else,
 * or anything the check refuses: the ordinary decoding then says what is wrong.
 */
const splitInputItems = (frame: Buffer): { readonly frame: Buffer; readonly itemsJson: Uint8Array } | undefined => {
  if (frame.length < 64 * 1024 || !frame.subarray(0, dataResponseStart.length).equals(dataResponseStart)) {
    return undefined
  }
  const { problem, range } = scanJson(frame, 10_000, inputItemsPath)
  if (problem !== undefined || range === undefined || frame[range[0]] !== 0x5b) return undefined
  return {
    frame: Buffer.concat([frame.subarray(0, range[0]), Buffer.from("[]"), frame.subarray(range[1])]),
    itemsJson: frame.subarray(range[0], range[1])
  }
}

/** The answer as n8n's data (the result text, when there is one, travels beside it). */
const withoutText = (answer: TaskAnswer): TaskResultData => {
  const data: Record<string, unknown> = { ...answer }
  delete data["resultJson"]
  return data as TaskResultData
}

/**
 * A `runner:taskdone` message whose result is already JSON text: the message is encoded with a
 * `null` result (first in `data`), and the text takes its place. The text was checked to be one
 * JSON value, so it cannot reach outside `result`.
 */
const withResultText = (encoded: string, resultJson: Uint8Array): Buffer => {
  const marker = "\"data\":{\"result\":null"
  const at = encoded.indexOf(marker)
  if (at < 0) throw new Error("the taskdone message does not start its data with the result")
  const head = encoded.slice(0, at + marker.length - "null".length)
  return Buffer.concat([Buffer.from(head, "utf8"), resultJson, Buffer.from(encoded.slice(at + marker.length), "utf8")])
}

/**
 * The task a malformed `broker:tasksettings` or `broker:taskdataresponse` frame names, if it names
 * one. (JSON.parse makes a `__proto__` key an ordinary own property: reading the frame is safe.)
 */
const taskNamedBy = (frame: MessageCodec.Frame): string | undefined => {
  try {
    const text = typeof frame === "string"
      ? frame
      : Array.isArray(frame)
      ? Buffer.concat(frame as ReadonlyArray<Uint8Array>).toString("utf8")
      : Buffer.from(frame as ArrayBuffer).toString("utf8")
    const value = JSON.parse(text) as unknown
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
    const { taskId, type } = value as { readonly taskId?: unknown; readonly type?: unknown }
    return (type === "broker:tasksettings" || type === "broker:taskdataresponse") && typeof taskId === "string"
      ? taskId
      : undefined
  } catch {
    return undefined
  }
}

interface Task {
  readonly taskId: string
  readonly taskType: "javascript" | "python"
  readonly acceptedAt: number
  readonly deadline: number
  status: "waiting" | "running"
  cancelled: boolean
  /** Ends the task's execution (its process is killed); set once it runs. */
  stop: (() => void) | undefined
  deadlineTimer: ReturnType<typeof setTimeout> | undefined
  labels: TaskLabels
  pendingData:
    | {
      readonly requestId: string
      readonly resume: (answer: { readonly data: unknown; readonly itemsJson?: Uint8Array }) => void
    }
    | undefined
  /** Helper calls (`runner:rpc`) waiting for their `broker:rpcresponse`, by call id. */
  readonly pendingRpcs: Map<string, (answer: { readonly status: "success" | "error"; readonly data?: unknown }) => void>
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
// Random bytes are drawn a page at a time: ids are made several times per task.
const randomPool = Buffer.alloc(4096)
let randomAt = randomPool.length
/** A random id of `size` alphanumerics (like n8n's runners). */
const newId = (size = 21) => {
  if (randomAt + size > randomPool.length) {
    randomFillSync(randomPool)
    randomAt = 0
  }
  let id = ""
  for (let i = 0; i < size; i++) id += alphabet[randomPool[randomAt++]! % alphabet.length]
  return id
}

/**
 * Holds the connection's writes until the current turn of the event loop ends, so the messages
 * sent in one turn (a task's answer and the next offer, say) leave in one system call. `ws` has
 * no API for it: this corks the socket underneath, when there is one.
 */
const coalesce = (ws: WebSocket) => {
  const raw = (ws as unknown as { readonly _socket?: { cork?: () => void; uncork?: () => void } })._socket
  if (raw === undefined || typeof raw.cork !== "function" || corked.has(raw)) return
  corked.add(raw)
  raw.cork()
  process.nextTick(() => {
    corked.delete(raw)
    raw.uncork?.()
  })
}
const corked = new WeakSet<object>()

const waitForClose = (ws: WebSocket) =>
  Effect.async<number>((resume) => {
    ws.on("close", (code) => resume(Effect.succeed(code)))
  }) /** The runner service. */
export class TaskRunner extends Context.Tag("@taskrunner/runner/TaskRunner")<TaskRunner, TaskRunnerShape>() {
  /** Starts the connection loop and the offer loop; closing the scope shuts the runner down gracefully. */
  static readonly layer = Layer.scoped(
    TaskRunner,
    Effect.gen(function*() {
      const config = yield* RunnerConfig
      const executor = yield* CodeExecutor
      const analyzer: SecurityAnalyzerShape | undefined = config.disableAnalyzer ? undefined : yield* SecurityAnalyzer
      const metrics = yield* Metrics
      const exitCode = yield* ExitCode
      const fork = yield* FiberSet.makeRuntime<never>()
      const logNow = yield* syncLogger

      const available = executor.languages
      const taskTypes = config.taskTypes ?? available
      const missing = taskTypes.filter((t) => !available.includes(t))
      if (missing.length > 0) {
        return yield* new RunnerStartFailed({
          message: `N8N_RUNNERS_TASK_TYPES asks for ${
            missing.join(", ")
          }, which this runner cannot run here (available: ${available.join(", ")})`
        })
      }
      const runnerId = Option.getOrElse(config.runnerId, () => newId())
      const maxPayload = config.maxPayloadBytes
      const taskTimeoutMs = config.taskTimeoutSeconds * 1000

      // Metrics.
      const executions = metrics.counter("taskrunner_executions_total", "Tasks finished, by type and outcome")
      const failures = metrics.counter("taskrunner_execution_failures_total", "Failed tasks, by type and kind")
      const timeouts = metrics.counter("taskrunner_timeouts_total", "Tasks stopped at their deadline")
      const ooms = metrics.counter("taskrunner_out_of_memory_total", "Tasks that ran out of memory")
      const reconnects = metrics.counter("taskrunner_reconnects_total", "Connections to the broker after the first")
      const durations = metrics.histogram(
        "taskrunner_execution_duration_seconds",
        "Task duration from acceptance",
        durationBuckets
      )

      let socket: WebSocket | undefined
      let registered = false
      let draining = false
      let stopping = false
      let connections = 0
      let initialGrant = Option.map(config.grantToken, Redacted.value)
      const offers = new Map<string, { readonly taskType: string; readonly validUntil: number }>()
      const tasks = new Map<string, Task>()
      const stopRequest = yield* Deferred.make<StopRequest>()
      const idleTimer = yield* FiberHandle.make()

      metrics.gauge(
        "taskrunner_running_tasks",
        "Tasks accepted and not finished",
        () => [{ labels: {}, value: tasks.size }]
      )
      metrics.gauge(
        "taskrunner_open_offers",
        "Offers the broker may still accept",
        () => [{ labels: {}, value: offers.size }]
      )
      metrics.gauge(
        "taskrunner_connected",
        "1 while registered with the broker",
        () => [{ labels: {}, value: registered ? 1 : 0 }]
      )

      const requestStop = (request: StopRequest) => Deferred.succeed(stopRequest, request)

      const send = (message: RunnerMessage.RunnerMessage): boolean => {
        const encoded = MessageCodec.writeRunnerMessage(message)
        if (Either.isLeft(encoded)) {
          fork(Effect.logError(encoded.left.message))
          return false
        }
        if (socket === undefined || socket.readyState !== socket.OPEN) return false
        coalesce(socket)
        socket.send(encoded.right)
        return true
      }

      const restartIdleTimer = () => {
        if (config.autoShutdownTimeoutSeconds <= 0 || stopping) return
        fork(FiberHandle.run(
          idleTimer,
          Effect.sleep(Duration.seconds(config.autoShutdownTimeoutSeconds)).pipe(
            Effect.andThen(() => {
              if (tasks.size > 0 || stopping) return Effect.void
              return Effect.logInfo("Reached idle timeout, starting shutdown...").pipe(
                Effect.andThen(Deferred.succeed(stopRequest, { code: 0, reason: "idle timeout", budgetMs: 3000 }))
              )
            })
          )
        ))
      }

      /** Keeps `maxConcurrency - (open offers + running tasks)` offers alive per task type. */
      const sendOffers = () => {
        if (socket === undefined || !registered || draining || stopping) return
        const now = Date.now()
        for (const [id, offer] of offers) if (offer.validUntil < now) offers.delete(id)
        for (const taskType of taskTypes) {
          const open = [...offers.values()].filter((o) => o.taskType === taskType).length
          for (let i = open + tasks.size; i < config.maxConcurrency; i++) {
            const offerId = newId()
            const validFor = Offers.validForBaseMs + randomInt(Offers.validForJitterMs)
            offers.set(offerId, { taskType, validUntil: now + validFor + Offers.latencyBufferMs })
            send({ type: "runner:taskoffer", offerId, taskType, validFor })
          }
        }
      }

      const finishTask = (task: Task, answer: Either.Either<TaskAnswer, TaskFailed>) => {
        if (tasks.get(task.taskId) !== task || task.cancelled) return
        tasks.delete(task.taskId)
        clearTimeout(task.deadlineTimer)
        let resultBytes = 0
        let outcome: Either.Either<TaskResultData, TaskFailed> = Either.map(answer, withoutText)
        if (Either.isRight(answer)) {
          const { resultJson, ...data } = answer.right
          const encoded = MessageCodec.writeRunnerMessage({ type: "runner:taskdone", taskId: task.taskId, data })
          const frame = Either.isLeft(encoded) || resultJson === undefined
            ? Either.map(encoded, (text) => Buffer.from(text, "utf8"))
            : Either.right(withResultText(encoded.right, resultJson))
          if (Either.isRight(frame) && frame.right.length <= maxPayload) {
            resultBytes = frame.right.length
            if (socket !== undefined) coalesce(socket)
            socket?.send(frame.right, { binary: false })
          } else {
            const message = Either.isLeft(frame)
              ? `The result cannot be sent: ${frame.left.message}`
              : `The result is larger than N8N_RUNNERS_MAX_PAYLOAD (${maxPayload} bytes)`
            outcome = Either.left(new TaskFailed({ kind: "process", payload: { message, description: "" } }))
          }
        }
        if (Either.isLeft(outcome)) send({ type: "runner:taskerror", taskId: task.taskId, error: outcome.left.payload })
        const seconds = (Date.now() - task.acceptedAt) / 1000
        const kind = Either.isLeft(outcome) ? outcome.left.kind : "success"
        executions({ type: task.taskType, outcome: Either.isLeft(outcome) ? "error" : "success" })
        durations(seconds, { type: task.taskType })
        if (Either.isLeft(outcome)) failures({ type: task.taskType, kind })
        if (kind === "timeout") timeouts({ type: task.taskType })
        if (kind === "oom") ooms({ type: task.taskType })
        const { nodeId, nodeName, workflowId, workflowName } = task.labels
        logNow(
          LogLevel.Info,
          `Completed task ${task.taskId} in ${Math.round(seconds * 1000)} ms (${resultBytes} bytes) for node "${
            nodeName ?? "Unknown"
          }" (${nodeId ?? "Unknown"}) in workflow "${workflowName ?? "Unknown"}" (${workflowId ?? "Unknown"})`,
          {
            audit: "task",
            taskId: task.taskId,
            taskType: task.taskType,
            outcome: kind,
            durationMs: Math.round(seconds * 1000),
            resultBytes,
            nodeName: nodeName ?? "Unknown",
            nodeId: nodeId ?? "Unknown",
            workflowName: workflowName ?? "Unknown",
            workflowId: workflowId ?? "Unknown"
          }
        )
        sendOffers()
        restartIdleTimer()
      }

      const timedOut = (task: Task) =>
        errorPayload(new TimedOut({ timeoutSeconds: config.taskTimeoutSeconds }), task.taskType)

      const accept = (message: BrokerMessage.BrokerMessageOf<"broker:taskofferaccept">): void => {
        const reject = (reason: string) => {
          send({ type: "runner:taskrejected", taskId: message.taskId, reason })
        }
        if (draining || stopping) return reject(RejectionReason.shuttingDown)
        if (tasks.size >= config.maxConcurrency) {
          offers.delete(message.offerId)
          return reject(RejectionReason.atCapacity)
        }
        const offer = offers.get(message.offerId)
        offers.delete(message.offerId)
        if (offer === undefined || offer.validUntil < Date.now()) return reject(RejectionReason.offerExpired)
        const now = Date.now()
        const task: Task = {
          taskId: message.taskId,
          taskType: offer.taskType as Task["taskType"],
          acceptedAt: now,
          deadline: now + taskTimeoutMs,
          status: "waiting",
          cancelled: false,
          stop: undefined,
          deadlineTimer: undefined,
          labels: {},
          pendingData: undefined,
          pendingRpcs: new Map()
        }
        tasks.set(task.taskId, task)
        send({ type: "runner:taskaccepted", taskId: task.taskId })
        restartIdleTimer()
        // The timeout starts at acceptance (as in n8n's runner): waiting for settings counts. At
        // the deadline the task fails and its pipeline (and so its process) is interrupted. A plain
        // timer, cleared when the task ends: a fiber per task here cost a task ~0.3 ms.
        task.deadlineTimer = setTimeout(() => {
          if (tasks.get(task.taskId) !== task) return
          finishTask(task, Either.left(timedOut(task)))
          task.stop?.()
        }, taskTimeoutMs)
      }

      const start = (message: BrokerMessage.BrokerMessageOf<"broker:tasksettings">) => {
        const task = tasks.get(message.taskId)
        if (task === undefined) {
          fork(Effect.logWarning(`Failed to find task ${message.taskId}. This is likely an internal error.`))
          return
        }
        if (task.status !== "waiting") {
          fork(Effect.logWarning(`Received settings for task ${task.taskId}, which is already running; discarded`))
          return
        }
        task.status = "running"
        const io = {
          // Sent at once (the child compiles the code while the broker answers); the effect waits.
          requestData: (
            requestParams: DataRequest.TaskDataRequestParams,
            answered: (answer: { readonly data: unknown; readonly itemsJson?: Uint8Array }) => void
          ) => {
            const requestId = newId()
            task.pendingData = { requestId, resume: answered }
            send({ type: "runner:taskdatarequest", taskId: task.taskId, requestId, requestParams })
          },
          log: (args: ReadonlyArray<string | null>) => {
            if (!task.cancelled) {
              send({ type: "runner:rpc", callId: newId(), taskId: task.taskId, name: "logNodeOutput", params: args })
            }
          },
          rpc: (name: string, params: ReadonlyArray<unknown>) =>
            new Promise<{ readonly status: "success" | "error"; readonly data?: unknown }>((resolve) => {
              if (task.cancelled) return resolve({ status: "error", data: "Task cancelled" })
              const callId = newId()
              task.pendingRpcs.set(callId, resolve)
              send({ type: "runner:rpc", callId, taskId: task.taskId, name, params: [...params] })
            }),
          remainingMs: () => task.deadline - Date.now()
        }
        const rejectSettings = (error: { readonly message: string }) =>
          finishTask(
            task,
            Either.left(new TaskFailed({ kind: "protocol", payload: { message: error.message, description: "" } }))
          )
        if (task.taskType === "javascript") {
          // No fiber for a JavaScript task: its pipeline is callbacks (the hot path).
          const settings = MessageCodec.decodeTaskSettings.javascript(message.settings)
          if (Either.isLeft(settings)) return rejectSettings(settings.left)
          const control = startJavaScript(
            { analyzer, executor, timezone: config.timezone },
            settings.right,
            io,
            (labels) => (task.labels = labels),
            (answer) => finishTask(task, answer)
          )
          task.stop = control.cancel
          return
        }
        const settings = MessageCodec.decodeTaskSettings.python(message.settings)
        if (Either.isLeft(settings)) return rejectSettings(settings.left)
        task.labels = {
          ...(settings.right.nodeName === undefined ? {} : { nodeName: settings.right.nodeName }),
          ...(settings.right.nodeId === undefined ? {} : { nodeId: settings.right.nodeId }),
          ...(settings.right.workflowName === undefined ? {} : { workflowName: settings.right.workflowName }),
          ...(settings.right.workflowId === undefined ? {} : { workflowId: settings.right.workflowId })
        }
        // The deadline timer set at acceptance ends the pipeline if it runs too long.
        const fiber = fork(
          runPython({ analyzer, executor }, settings.right, io).pipe(
            Effect.either,
            Effect.flatMap((outcome) => Effect.sync(() => finishTask(task, outcome)))
          )
        )
        task.stop = () => fork(Fiber.interrupt(fiber))
      }

      const cancel = (message: BrokerMessage.BrokerMessageOf<"broker:taskcancel">) => {
        const task = tasks.get(message.taskId)
        if (task === undefined) {
          fork(Effect.logDebug(`Received cancel for unknown task: ${message.taskId}. Discarding message.`))
          return
        }
        // Nothing is sent for a cancelled task; its process is killed.
        task.cancelled = true
        tasks.delete(task.taskId)
        clearTimeout(task.deadlineTimer)
        task.stop?.()
        fork(Effect.logInfo(`Cancelled task ${task.taskId}: ${message.reason}`))
        executions({ type: task.taskType, outcome: "cancelled" })
        sendOffers()
        restartIdleTimer()
      }

      const onFrame = (data: MessageCodec.Frame) => {
        // A large data response: its input items stay text (they go to the child as they are).
        const split = Buffer.isBuffer(data) && data.length <= maxPayload ? splitInputItems(data) : undefined
        const decoded = MessageCodec.decodeBrokerMessage(split?.frame ?? data, { maxBytes: maxPayload })
        if (Either.isLeft(decoded)) {
          fork(Effect.logWarning(`Ignored a message from the broker: ${decoded.left.message}`))
          // A task's own settings or data that cannot be read fail that task now, saying why,
          // rather than leaving it to its deadline.
          const task = tasks.get(taskNamedBy(data) ?? "")
          if (task !== undefined) {
            const failed = new TaskFailed({
              kind: "protocol",
              payload: { message: decoded.left.message, description: "" }
            })
            finishTask(task, Either.left(failed))
            task.stop?.()
          }
          return
        }
        const message = decoded.right
        switch (message.type) {
          case "broker:inforequest":
            send({ type: "runner:info", name: config.name, types: taskTypes, sandbox: executor.tier })
            return
          case "broker:runnerregistered":
            registered = true
            draining = false
            fork(Effect.logInfo(`Registered with the broker as ${runnerId} for ${taskTypes.join(", ")}`))
            restartIdleTimer()
            sendOffers()
            return
          case "broker:taskofferaccept":
            return accept(message)
          case "broker:tasksettings":
            return start(message)
          case "broker:taskcancel":
            return cancel(message)
          case "broker:taskdataresponse": {
            const task = tasks.get(message.taskId)
            if (task?.pendingData?.requestId === message.requestId) {
              const { resume } = task.pendingData
              task.pendingData = undefined
              resume(split === undefined ? { data: message.data } : { data: message.data, itemsJson: split.itemsJson })
            }
            return
          }
          case "broker:rpcresponse": {
            const resolve = tasks.get(message.taskId)?.pendingRpcs.get(message.callId)
            if (resolve !== undefined) {
              tasks.get(message.taskId)?.pendingRpcs.delete(message.callId)
              resolve(
                message.data === undefined ? { status: message.status } : { status: message.status, data: message.data }
              )
            }
            return
          }
          case "broker:nodetypes":
            return
          case "broker:drain":
            draining = true
            offers.clear()
            fork(Effect.logInfo("The broker is draining: no new offers, running tasks finish"))
            return
        }
      }

      /** The broker connection is gone: its tasks were already failed by the broker, so they are killed. */
      const connectionLost = () => {
        registered = false
        offers.clear()
        const lost = [...tasks.values()]
        tasks.clear()
        for (const task of lost) {
          task.cancelled = true
          clearTimeout(task.deadlineTimer)
          task.stop?.()
        }
        if (lost.length > 0) {
          fork(Effect.logWarning(`Killed ${lost.length} running task(s): the connection to the broker was lost`))
        }
      }

      const grant: Effect.Effect<string, AuthTokenRefused | UpgradeRefused | Error> = Effect.suspend(() => {
        if (Option.isSome(initialGrant)) {
          const token = initialGrant.value
          initialGrant = Option.none()
          return Effect.succeed(token)
        }
        if (Option.isNone(config.authToken)) {
          return Effect.fail(
            new Error("The grant token was used; without N8N_RUNNERS_AUTH_TOKEN the runner cannot get a new one")
          )
        }
        const authToken = Redacted.value(config.authToken.value)
        return Effect.tryPromise({
          try: () => fetchGrantToken(config.brokerHost, authToken),
          catch: (e) => e as AuthTokenRefused
        })
      })

      const connectionLoop: Effect.Effect<void> = Effect.gen(function*() {
        const retry = Duration.seconds(config.reconnectIntervalSeconds)
        for (;;) {
          if (stopping) return
          const token = yield* Effect.either(grant)
          if (Either.isLeft(token)) {
            const error = token.left
            if (error instanceof AuthTokenRefused || Option.isNone(config.authToken)) {
              yield* Effect.logError(error.message)
              yield* requestStop({ code: 1, reason: error.message, budgetMs: 0 })
              return
            }
            yield* Effect.logWarning(`Failed to connect to broker: ${error.message} - retrying...`)
            yield* Effect.sleep(retry)
            continue
          }
          const opened = yield* Effect.either(Effect.tryPromise({
            try: () => openSocket(config.brokerHost, runnerId, token.right, maxPayload),
            catch: (e) => e as Error
          }))
          if (Either.isLeft(opened)) {
            const error = opened.left
            if (error instanceof UpgradeRefused && error.status === 403 && Option.isNone(config.authToken)) {
              yield* Effect.logError(`${error.message}: the grant token is unknown, used or expired`)
              yield* requestStop({ code: 1, reason: error.message, budgetMs: 0 })
              return
            }
            yield* Effect.logWarning(`Failed to connect to broker: ${error.message} - retrying...`)
            // A token the broker has seen is spent; with an auth token the next try gets a fresh one.
            if (Option.isNone(config.authToken)) initialGrant = Option.some(token.right)
            yield* Effect.sleep(retry)
            continue
          }
          const ws = opened.right.socket
          if (stopping) {
            ws.close(CloseCode.normal)
            return
          }
          socket = ws
          connections++
          if (connections > 1) reconnects()
          yield* Effect.logInfo(`Connected to the broker at ${config.brokerHost}`)
          opened.right.onFrame((data) => onFrame(data as MessageCodec.Frame))
          ws.on("error", (error) => fork(Effect.logWarning(`Broker connection error: ${error.message}`)))
          const code = yield* waitForClose(ws)
          socket = undefined
          connectionLost()
          if (stopping) return
          if (Option.isNone(config.authToken)) {
            if (draining) {
              yield* requestStop({ code: 0, reason: "the broker drained and closed the connection", budgetMs: 0 })
            } else {
              yield* Effect.logError("Connection to task broker closed unexpectedly, exiting...")
              yield* requestStop({ code: 1, reason: "connection closed", budgetMs: 0 })
            }
            return
          }
          yield* Effect.logWarning(
            `Connection to the broker closed (code ${code}); reconnecting with a fresh grant token`
          )
          draining = false
        }
      })

      const shutdown = (budgetMs: number): Effect.Effect<number> =>
        Effect.gen(function*() {
          if (stopping && socket === undefined && tasks.size === 0) return exitCode.code
          stopping = true
          offers.clear()
          yield* FiberHandle.clear(idleTimer)
          const untilIdle: Effect.Effect<void> = Effect.suspend(() =>
            tasks.size === 0 ? Effect.void : Effect.sleep(Duration.millis(100)).pipe(Effect.zipRight(untilIdle))
          )
          // Shutdown runs as a finalizer, which is uninterruptible: without `interruptible` the
          // timeout could never stop the wait.
          const finished = yield* Effect.interruptible(untilIdle).pipe(
            Effect.timeout(Duration.millis(budgetMs)),
            Effect.option
          )
          let code = 0
          if (Option.isNone(finished)) {
            code = 1
            yield* Effect.logWarning(`Shutdown timed out after ${budgetMs / 1000}s, forcing exit...`)
            for (const task of tasks.values()) {
              task.cancelled = true
              clearTimeout(task.deadlineTimer)
              task.stop?.()
            }
            tasks.clear()
          }
          socket?.close(CloseCode.normal, "Shutting down")
          exitCode.code = Math.max(exitCode.code, code)
          return exitCode.code
        })

      yield* Effect.logInfo(
        `Task runner ${runnerId} starting for ${taskTypes.join(", ")}; tasks run in the ${executor.tier} sandbox`
      )
      fork(connectionLoop)
      fork(
        Effect.sync(sendOffers).pipe(Effect.repeat(Schedule.spaced(Duration.millis(Offers.intervalMs))), Effect.asVoid)
      )
      yield* Effect.addFinalizer(() =>
        shutdown(config.gracefulShutdownTimeoutSeconds * 1000).pipe(
          Effect.tap((code) => Effect.logInfo(`Task runner stopped (exit code ${code})`))
        )
      )

      return TaskRunner.of({
        runnerId,
        taskTypes,
        stopped: Deferred.await(stopRequest),
        shutdown,
        summary: Effect.sync(() => ({ connected: registered, runningTasks: tasks.size, openOffers: offers.size }))
      })
    })
  )
}
