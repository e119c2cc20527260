import type { BrokerMessage, RunnerMessage, TaskResultData, TaskSettings } from "@taskrunner/protocol"
import { CancelReason, CloseCode, MessageCodec, RpcErrorText, RpcMethod } from "@taskrunner/protocol"
import { Context, Data, Deferred, Effect, Either, FiberMap, Layer, Queue } from "effect"
import { WebSocket } from "ws"
import { BrokerConfig } from "./BrokerConfig.js"
import { callHelper } from "./Helpers.js"
import { nanoid } from "./internal/ids.js"
import * as NodeError from "./NodeError.js"
import { validateAllItems, validateEachItem } from "./ResultValidation.js"
import type { OutputItem } from "./ResultValidation.js"
import { buildDataResponse, buildSettings, taskChunks } from "./TaskPayloads.js"
import type { ResolvedSubmission } from "./TaskSubmission.js"

/** What `POST /api/tasks` answers once a submission completed. */
export interface SubmissionOutcome {
  readonly id: string
  /** The broker task id (the first one when n8n splits a per-item task into chunks). */
  readonly taskId: string | null
  readonly taskIds: ReadonlyArray<string>
  readonly runnerId: string | null
  readonly status: "success" | "error"
  readonly result?: ReadonlyArray<OutputItem>
  readonly error?: NodeError.NodeError
  /** The params of every `logNodeOutput` call, in order. */
  readonly logs: ReadonlyArray<ReadonlyArray<unknown>>
  /** What the runner reported of `$execution.customData` (n8n copies it into the execution's metadata). */
  readonly customData?: Readonly<Record<string, string>>
  /** The workflow static data, when the runner reported it changed (n8n saves it with the workflow). */
  readonly staticData?: unknown
  readonly durationMs: number
}

/** A submission reused the id of one that is still pending or running. */
export class DuplicateSubmissionId extends Data.TaggedError("DuplicateSubmissionId")<{ readonly id: string }> {
  override get message(): string {
    return `A task with id "${this.id}" is already pending or running`
  }
}

/** A registered runner, as `GET /api/runners` shows it. */
export interface RunnerSummary {
  readonly id: string
  readonly name: string
  readonly types: ReadonlyArray<string>
  readonly openOffers: number
  readonly runningTasks: number
  /** The isolation tier, when the runner says (ours does, in `runner:info`). */
  readonly sandbox?: string
}

/** A submission, pending, running or recently finished. */
export interface SubmissionSummary {
  readonly id: string
  readonly taskType: string
  readonly nodeMode: string
  readonly status: "pending" | "running" | "success" | "error"
  readonly taskIds: ReadonlyArray<string>
  readonly runnerId: string | null
  readonly submittedAt: string
  readonly durationMs: number | null
  readonly error: string | null
}

/** The broker: matches task requests with runner offers and drives each task to its end. */
export interface TaskBrokerShape {
  /** Takes over a runner connection right after a successful upgrade. */
  readonly attach: (socket: WebSocket, runnerId: string) => Effect.Effect<void>
  /** Runs one Code-node execution on some runner and waits for its outcome. */
  readonly submit: (submission: ResolvedSubmission) => Effect.Effect<SubmissionOutcome, DuplicateSubmissionId>
  /** Cancels a submission (by its id) or a task (by task id); false if nothing was running. */
  readonly cancel: (id: string) => Effect.Effect<boolean>
  readonly runners: Effect.Effect<ReadonlyArray<RunnerSummary>>
  readonly submissions: Effect.Effect<ReadonlyArray<SubmissionSummary>>
  /** Stops taking tasks, tells runners to drain, waits for running tasks, then closes every socket. */
  readonly drain: Effect.Effect<void>
  /**
   * Calls `listener` after the broker's state changed (runners, offers, tasks); returns the
   * unsubscribe. For pages that show the state live (server-sent events), not for polling.
   */
  readonly onChange: (listener: () => void) => () => void
}

interface Connection {
  readonly id: string
  readonly socket: WebSocket
  registered: boolean
  name: string
  types: ReadonlyArray<string>
  sandbox: string | undefined
  isAlive: boolean
  strikes: number
  lastStrikeAt: number
  closed: boolean
}

interface Offer {
  readonly offerId: string
  readonly connection: Connection
  readonly taskType: string
  readonly validUntil: number
}

type ChunkOutcome =
  | { readonly _tag: "Done"; readonly data: TaskResultData; readonly taskId: string; readonly runnerId: string }
  | {
    readonly _tag: "Failed"
    readonly error: NodeError.NodeError
    readonly taskId: string | null
    readonly runnerId: string | null
  }

interface SubmissionState {
  readonly submission: ResolvedSubmission
  readonly submittedAt: number
  status: SubmissionSummary["status"]
  readonly taskIds: Array<string>
  runnerId: string | null
  current: Request | undefined
  cancelReason: string | undefined
  durationMs: number | null
  error: string | null
}

interface Request {
  readonly requestId: string
  readonly owner: SubmissionState
  readonly chunk: TaskSettings.Chunk | undefined
  readonly taskType: string
  readonly createdAt: number
  readonly done: Deferred.Deferred<ChunkOutcome>
  readonly logs: Array<ReadonlyArray<unknown>>
  accepting: boolean
  refreshes: number
  warnedNoMatch: boolean
  finished: boolean
}

interface Task {
  readonly taskId: string
  readonly request: Request
  readonly connection: Connection
  readonly startedAt: number
}

interface Accept {
  readonly taskId: string
  readonly request: Request
  readonly connection: Connection
}

type Event =
  | { readonly _tag: "Connected"; readonly connection: Connection }
  | { readonly _tag: "Frame"; readonly connection: Connection; readonly data: MessageCodec.Frame }
  | { readonly _tag: "Closed"; readonly connection: Connection }
  | { readonly _tag: "Request"; readonly request: Request }
  | { readonly _tag: "Cancel"; readonly id: string; readonly reply: Deferred.Deferred<boolean> }
  | { readonly _tag: "AcceptTimeout"; readonly taskId: string }
  | { readonly _tag: "RequestTimeout"; readonly request: Request }
  | { readonly _tag: "TaskTimeout"; readonly taskId: string }
  | { readonly _tag: "Heartbeat" }
  | { readonly _tag: "StartDrain"; readonly deadline: number; readonly reply: Deferred.Deferred<void> }
  | { readonly _tag: "CloseAll"; readonly reply: Deferred.Deferred<void> }

type RemoveReason = "closed" | "replaced" | "heartbeat" | "unresponsive" | "shutdown"

const strikeLimit = 3
const maxRefreshes = 3
const keptFinished = 200

/** n8n's checks of a finished submission's result, per mode and language. */
const validate = (
  submission: ResolvedSubmission,
  results: ReadonlyArray<unknown>
): Either.Either<ReadonlyArray<OutputItem>, NodeError.NodeError> => {
  const language = submission.taskType
  if (submission.nodeMode === "runOnceForAllItems") return validateAllItems(results[0], language)
  const items: Array<OutputItem> = []
  let position = 0
  for (const result of results) {
    if (!Array.isArray(result)) return validateAllItems(result, language)
    for (const item of result) {
      const paired = (item as { pairedItem?: { item?: unknown } } | null)?.pairedItem?.item
      const checked = validateEachItem(item, typeof paired === "number" ? paired : position, language)
      if (Either.isLeft(checked)) return Either.left(checked.left)
      items.push(checked.right)
      position++
    }
  }
  return Either.right(items)
}

/** The mock broker's core. */
export class TaskBroker extends Context.Tag("@taskrunner/mock-broker/TaskBroker")<TaskBroker, TaskBrokerShape>() {
  /** The broker, with its heartbeat loop; closing the scope drains it. */
  static readonly layer = Layer.scoped(
    TaskBroker,
    Effect.gen(function*() {
      const config = yield* BrokerConfig
      const events = yield* Effect.acquireRelease(Queue.unbounded<Event>(), Queue.shutdown)
      const timers = yield* FiberMap.make<string>()

      // All state below is only touched by the actor fiber (and read by the summaries).
      const connections = new Set<Connection>()
      const runners = new Map<string, Connection>()
      let offers: Array<Offer> = []
      const requests: Array<Request> = []
      const accepts = new Map<string, Accept>()
      const tasks = new Map<string, Task>()
      const submissions = new Map<string, SubmissionState>()
      let draining = false
      let shutdownDeadline: number | undefined

      const post = (event: Event) => Queue.unsafeOffer(events, event)

      const send = (connection: Connection, message: BrokerMessage.BrokerMessage): Effect.Effect<boolean> => {
        const encoded = MessageCodec.encodeBrokerMessage(message)
        if (Either.isLeft(encoded)) {
          return Effect.logError(encoded.left.message).pipe(Effect.as(false))
        }
        if (connection.socket.readyState !== WebSocket.OPEN) return Effect.succeed(false)
        connection.socket.send(encoded.right)
        return Effect.succeed(true)
      }

      const schedule = (key: string, ms: number, event: Event) =>
        FiberMap.run(timers, key, Effect.sleep(ms).pipe(Effect.andThen(() => post(event)))).pipe(Effect.asVoid)

      const unschedule = (key: string) => FiberMap.remove(timers, key)

      const finishRequest = (request: Request, outcome: ChunkOutcome) =>
        Effect.gen(function*() {
          if (request.finished) return
          request.finished = true
          const index = requests.indexOf(request)
          if (index >= 0) requests.splice(index, 1)
          yield* unschedule(`request:${request.requestId}`)
          yield* Deferred.succeed(request.done, outcome)
        })

      const finishTask = (task: Task, outcome: ChunkOutcome) =>
        Effect.gen(function*() {
          tasks.delete(task.taskId)
          yield* unschedule(`task:${task.taskId}`)
          yield* finishRequest(task.request, outcome)
        })

      const failed = (task: Task | undefined, error: NodeError.NodeError): ChunkOutcome => ({
        _tag: "Failed",
        error,
        taskId: task?.taskId ?? null,
        runnerId: task?.connection.id ?? null
      })

      const liveOffers = (now: number) =>
        offers.filter((offer) =>
          offer.validUntil >= now && !offer.connection.closed && runners.get(offer.connection.id) === offer.connection
        )

      const refreshRequestTimeout = (request: Request) =>
        request.refreshes < maxRefreshes
          ? Effect.suspend(() => {
            request.refreshes++
            return schedule(`request:${request.requestId}`, config.taskRequestTimeoutMs, {
              _tag: "RequestTimeout",
              request
            })
          })
          : Effect.void

      /** Matches pending requests with the first live offer of their task type (FIFO on both sides). */
      const settle: Effect.Effect<void> = Effect.gen(function*() {
        offers = liveOffers(Date.now())
        for (const request of Array.from(requests)) {
          if (request.accepting || request.finished) continue
          const index = offers.findIndex((offer) => offer.taskType === request.taskType)
          if (index < 0) {
            if (offers.length > 0 && !request.warnedNoMatch) {
              request.warnedNoMatch = true
              const types = [...new Set(offers.map((offer) => offer.taskType))].join(", ")
              yield* Effect.logWarning(
                `No matching task offer for request "${request.requestId}" (type "${request.taskType}"). Available offer types: [${types}]`
              )
            }
            continue
          }
          const [offer] = offers.splice(index, 1)
          const taskId = nanoid(8)
          request.accepting = true
          accepts.set(taskId, { taskId, request, connection: offer!.connection })
          const sent = yield* send(offer!.connection, {
            type: "broker:taskofferaccept",
            taskId,
            offerId: offer!.offerId
          })
          if (sent) {
            yield* schedule(`accept:${taskId}`, config.taskAcceptTimeoutMs, { _tag: "AcceptTimeout", taskId })
          } else {
            accepts.delete(taskId)
            request.accepting = false
          }
        }
      })

      const removeConnection = (connection: Connection, reason: RemoveReason): Effect.Effect<void> =>
        Effect.gen(function*() {
          if (connection.closed) return
          connection.closed = true
          connections.delete(connection)
          if (runners.get(connection.id) === connection) runners.delete(connection.id)
          offers = offers.filter((offer) => offer.connection !== connection)
          const error = reason === "heartbeat"
            ? NodeError.runnerUnresponsive
            : reason === "shutdown"
            ? NodeError.taskAbortedByShutdown
            : NodeError.nodeExecutionFailed
          for (const accept of Array.from(accepts.values())) {
            if (accept.connection !== connection) continue
            accepts.delete(accept.taskId)
            yield* unschedule(`accept:${accept.taskId}`)
            yield* Effect.logWarning(`The Task Runner (${connection.id}) has disconnected: ${error.message}`)
            accept.request.accepting = false
          }
          for (const task of Array.from(tasks.values())) {
            if (task.connection === connection) yield* finishTask(task, failed(task, error))
          }
          if (
            connection.socket.readyState === WebSocket.OPEN || connection.socket.readyState === WebSocket.CONNECTING
          ) {
            const code = reason === "replaced"
              ? CloseCode.normal
              : reason === "shutdown"
              ? CloseCode.shuttingDown
              : CloseCode.unresponsive
            if (reason === "closed") connection.socket.terminate()
            else connection.socket.close(code)
          }
          yield* Effect.logInfo(`Runner "${connection.id}" disconnected (${reason})`)
          yield* settle
        })

      const register = (connection: Connection, message: RunnerMessage.RunnerMessageOf<"runner:info">) =>
        Effect.gen(function*() {
          const existing = runners.get(connection.id)
          if (existing !== undefined && existing !== connection) {
            yield* Effect.logWarning(
              `Runner "${message.name}" registered as "${connection.id}", an ID another live runner holds, and replaced its connection. Give each runner a unique N8N_RUNNERS_ID, else they will keep evicting each other.`
            )
            yield* removeConnection(existing, "replaced")
          }
          connection.registered = true
          connection.name = message.name
          connection.types = message.types
          connection.sandbox = message.sandbox
          runners.set(connection.id, connection)
          yield* send(connection, { type: "broker:runnerregistered" })
          yield* Effect.logInfo(
            `Runner "${message.name}" (${connection.id}) registered for [${message.types.join(", ")}]`
          )
          if (draining) yield* send(connection, { type: "broker:drain" })
        })

      const startTask = (accept: Accept) =>
        Effect.gen(function*() {
          const { connection, request, taskId } = accept
          request.accepting = false
          if (request.finished) {
            // The request expired or was cancelled while the runner was accepting.
            const reason = request.owner.cancelReason ?? CancelReason.requestExpired
            yield* send(connection, { type: "broker:taskcancel", taskId, reason })
            return
          }
          const index = requests.indexOf(request)
          if (index >= 0) requests.splice(index, 1)
          yield* unschedule(`request:${request.requestId}`)
          const task: Task = { taskId, request, connection, startedAt: Date.now() }
          tasks.set(taskId, task)
          request.owner.status = "running"
          request.owner.runnerId = connection.id
          request.owner.taskIds.push(taskId)
          const sent = yield* send(connection, {
            type: "broker:tasksettings",
            taskId,
            settings: buildSettings(request.owner.submission, request.chunk)
          })
          if (!sent) {
            yield* finishTask(
              task,
              failed(task, {
                message: `Runner (${connection.id}) became unreachable while processing task (${taskId})`
              })
            )
            return
          }
          const now = Date.now()
          const deadline = shutdownDeadline === undefined
            ? now + config.taskTimeoutMs
            : Math.min(now + config.taskTimeoutMs, shutdownDeadline)
          yield* schedule(`task:${taskId}`, deadline - now, { _tag: "TaskTimeout", taskId })
        })

      const acceptFrom = (connection: Connection, taskId: string): Accept | undefined => {
        const accept = accepts.get(taskId)
        return accept !== undefined && accept.connection === connection ? accept : undefined
      }

      const taskOf = (connection: Connection, taskId: string): Task | undefined => {
        const task = tasks.get(taskId)
        return task !== undefined && task.connection === connection ? task : undefined
      }

      const handleMessage = (connection: Connection, message: RunnerMessage.RunnerMessage): Effect.Effect<void> =>
        Effect.gen(function*() {
          switch (message.type) {
            case "runner:info":
              return // a second runner:info is ignored
            case "runner:taskoffer": {
              const validUntil = message.validFor === -1 ? Number.POSITIVE_INFINITY : Date.now() + message.validFor
              offers.push({ offerId: message.offerId, connection, taskType: message.taskType, validUntil })
              return yield* settle
            }
            case "runner:taskaccepted": {
              const accept = acceptFrom(connection, message.taskId)
              if (accept === undefined) return
              accepts.delete(message.taskId)
              yield* unschedule(`accept:${message.taskId}`)
              return yield* startTask(accept)
            }
            case "runner:taskrejected": {
              const accept = acceptFrom(connection, message.taskId)
              if (accept === undefined) return
              accepts.delete(message.taskId)
              yield* unschedule(`accept:${message.taskId}`)
              yield* Effect.logInfo(`Task (${message.taskId}) rejected by Runner with reason "${message.reason}"`)
              accept.request.accepting = false
              return yield* settle
            }
            case "runner:taskdeferred": {
              const accept = acceptFrom(connection, message.taskId)
              if (accept === undefined) return
              accepts.delete(message.taskId)
              yield* unschedule(`accept:${message.taskId}`)
              accept.request.accepting = false
              yield* refreshRequestTimeout(accept.request)
              return yield* settle
            }
            case "runner:taskdone": {
              const task = taskOf(connection, message.taskId)
              if (task === undefined) return
              connection.strikes = 0
              return yield* finishTask(task, {
                _tag: "Done",
                data: message.data,
                taskId: task.taskId,
                runnerId: connection.id
              })
            }
            case "runner:taskerror": {
              const task = taskOf(connection, message.taskId)
              if (task === undefined) return
              connection.strikes = 0
              return yield* finishTask(task, failed(task, NodeError.fromRunnerError(message.error)))
            }
            case "runner:taskdatarequest": {
              const task = taskOf(connection, message.taskId)
              if (task === undefined) return
              const data = buildDataResponse(task.request.owner.submission, message.requestParams, task.taskId)
              yield* send(connection, {
                type: "broker:taskdataresponse",
                taskId: task.taskId,
                requestId: message.requestId,
                data
              })
              return
            }
            case "runner:nodetypesrequest": {
              if (taskOf(connection, message.taskId) === undefined) return
              yield* send(connection, {
                type: "broker:nodetypes",
                taskId: message.taskId,
                requestId: message.requestId,
                nodeTypes: []
              })
              return
            }
            case "runner:rpc": {
              const task = taskOf(connection, message.taskId)
              if (task === undefined) return
              // `data` left undefined is omitted from the JSON, as n8n does for helpers returning nothing.
              const reply = (status: "success" | "error", data?: unknown) =>
                send(connection, {
                  type: "broker:rpcresponse",
                  callId: message.callId,
                  taskId: message.taskId,
                  status,
                  data
                })
              if (!RpcMethod.isRpcMethod(message.name)) {
                yield* reply("error", RpcErrorText.methodNotAllowed)
              } else if (message.name === "logNodeOutput") {
                task.request.logs.push(message.params)
                yield* reply("success")
              } else {
                // Done off the event loop (an HTTP request takes a while); the answer goes back when it is there.
                yield* FiberMap.run(
                  timers,
                  `rpc:${message.callId}`,
                  callHelper(message.name, message.params, task.request.owner.submission).pipe(
                    Effect.flatMap((answer) => reply(answer.status, answer.data))
                  )
                )
              }
              return
            }
          }
        })

      /** A frame that does not decode is logged; if it names one of the runner's tasks, that task fails. */
      const handleMalformed = (connection: Connection, data: MessageCodec.Frame, error: { readonly message: string }) =>
        Effect.gen(function*() {
          yield* Effect.logWarning(`Runner "${connection.id}" sent an invalid message: ${error.message}`)
          let taskId: unknown
          try {
            const text = typeof data === "string"
              ? data
              : Array.isArray(data)
              ? Buffer.concat(data).toString("utf8")
              : Buffer.from(data as Uint8Array).toString("utf8")
            const parsed: unknown = JSON.parse(text)
            if (typeof parsed === "object" && parsed !== null) taskId = (parsed as Record<string, unknown>)["taskId"]
          } catch {
            return
          }
          const task = typeof taskId === "string" ? taskOf(connection, taskId) : undefined
          if (task !== undefined) yield* finishTask(task, failed(task, NodeError.malformedRunnerMessage(error.message)))
        })

      const handle = (event: Event): Effect.Effect<void> =>
        Effect.gen(function*() {
          switch (event._tag) {
            case "Connected": {
              connections.add(event.connection)
              yield* send(event.connection, { type: "broker:inforequest" })
              return
            }
            case "Frame": {
              const { connection } = event
              if (connection.closed) return
              const decoded = MessageCodec.decodeRunnerMessage(event.data, { maxBytes: config.maxPayloadBytes })
              if (Either.isLeft(decoded)) return yield* handleMalformed(connection, event.data, decoded.left)
              if (!connection.registered) {
                // Only runner:info counts before registration; everything else is dropped silently.
                if (decoded.right.type === "runner:info") yield* register(connection, decoded.right)
                return
              }
              if (runners.get(connection.id) !== connection) return
              return yield* handleMessage(connection, decoded.right)
            }
            case "Closed":
              return yield* removeConnection(event.connection, "closed")
            case "Request": {
              const { request } = event
              if (request.owner.cancelReason !== undefined) {
                return yield* finishRequest(
                  request,
                  failed(undefined, NodeError.taskCancelled(request.owner.cancelReason))
                )
              }
              if (draining) return yield* finishRequest(request, failed(undefined, NodeError.taskRequestTimedOut(0)))
              requests.push(request)
              yield* schedule(`request:${request.requestId}`, config.taskRequestTimeoutMs, {
                _tag: "RequestTimeout",
                request
              })
              return yield* settle
            }
            case "RequestTimeout": {
              const { request } = event
              if (request.finished) return
              const waited = Math.round((Date.now() - request.createdAt) / 1000)
              yield* Effect.logWarning(`Task request "${request.requestId}" timed out after ${waited} s`)
              return yield* finishRequest(request, failed(undefined, NodeError.taskRequestTimedOut(waited)))
            }
            case "AcceptTimeout": {
              const accept = accepts.get(event.taskId)
              if (accept === undefined) return
              const { connection, request } = accept
              accepts.delete(event.taskId)
              yield* Effect.logWarning(
                `Runner (${connection.id}) took too long to acknowledge acceptance of task (${event.taskId})`
              )
              request.accepting = false
              yield* refreshRequestTimeout(request)
              yield* send(connection, {
                type: "broker:taskcancel",
                taskId: event.taskId,
                reason: CancelReason.acknowledgementWindowElapsed
              })
              offers = offers.filter((offer) => offer.connection !== connection)
              const now = Date.now()
              // Timeouts that land within one accept window count as one strike.
              if (now - connection.lastStrikeAt > config.taskAcceptTimeoutMs) {
                connection.strikes++
                connection.lastStrikeAt = now
              }
              const busy = [...tasks.values()].some((task) => task.connection === connection)
              if (connection.strikes >= strikeLimit && !busy) {
                yield* Effect.logWarning(
                  `Runner (${connection.id}) failed to acknowledge ${strikeLimit} consecutive task acceptances, reporting it as unresponsive`
                )
                yield* removeConnection(connection, "unresponsive")
              }
              return yield* settle
            }
            case "TaskTimeout": {
              const task = tasks.get(event.taskId)
              if (task === undefined) return
              // The shutdown deadline, not the task timeout, ended this task.
              const capped = shutdownDeadline !== undefined && task.startedAt + config.taskTimeoutMs > shutdownDeadline
              yield* send(task.connection, {
                type: "broker:taskcancel",
                taskId: task.taskId,
                reason: capped ? CancelReason.shuttingDown : CancelReason.timedOut
              })
              const error = capped
                ? NodeError.taskAbortedByShutdown
                : NodeError.taskTimedOut(Math.round(config.taskTimeoutMs / 1000))
              return yield* finishTask(task, failed(task, error))
            }
            case "Cancel": {
              const submission = submissions.get(event.id) ?? tasks.get(event.id)?.request.owner
              const request = submission?.current
              if (submission === undefined || request === undefined || request.finished) {
                return yield* Deferred.succeed(event.reply, false)
              }
              const reason = CancelReason.cancelledByUser
              submission.cancelReason = reason
              const task = [...tasks.values()].find((t) => t.request === request)
              if (task !== undefined) {
                yield* send(task.connection, { type: "broker:taskcancel", taskId: task.taskId, reason })
                yield* finishTask(task, failed(task, NodeError.taskCancelled(reason)))
              } else {
                yield* finishRequest(request, failed(undefined, NodeError.taskCancelled(reason)))
              }
              return yield* Deferred.succeed(event.reply, true)
            }
            case "Heartbeat": {
              for (const connection of Array.from(connections)) {
                if (!connection.isAlive) {
                  yield* Effect.logWarning(`Runner "${connection.id}" missed a heartbeat; closing its connection`)
                  yield* removeConnection(connection, "heartbeat")
                } else if (connection.socket.readyState === WebSocket.OPEN) {
                  connection.isAlive = false
                  connection.socket.ping()
                }
              }
              return
            }
            case "StartDrain": {
              draining = true
              shutdownDeadline = event.deadline
              for (const request of Array.from(requests)) {
                yield* finishRequest(request, failed(undefined, NodeError.taskRequestTimedOut(0)))
              }
              for (const task of tasks.values()) {
                yield* schedule(`task:${task.taskId}`, Math.max(0, event.deadline - Date.now()), {
                  _tag: "TaskTimeout",
                  taskId: task.taskId
                })
              }
              for (const connection of connections) {
                if (connection.registered) yield* send(connection, { type: "broker:drain" })
              }
              return yield* Deferred.succeed(event.reply, undefined)
            }
            case "CloseAll": {
              for (const connection of Array.from(connections)) yield* removeConnection(connection, "shutdown")
              return yield* Deferred.succeed(event.reply, undefined)
            }
          }
        })

      // Every handled event may change what `runners`/`submissions` show: listeners hear of it.
      const listeners = new Set<() => void>()
      const changed = () => {
        for (const listener of listeners) listener()
      }

      yield* Queue.take(events).pipe(
        Effect.flatMap((event) =>
          handle(event).pipe(
            Effect.catchAllDefect((defect) => Effect.logError("Broker event handler failed", defect)),
            Effect.ensuring(Effect.sync(changed))
          )
        ),
        Effect.forever,
        Effect.forkScoped
      )

      yield* Effect.sleep(config.heartbeatIntervalMs).pipe(
        Effect.andThen(() => post({ _tag: "Heartbeat" })),
        Effect.forever,
        Effect.forkScoped
      )

      const forgetOldSubmissions = () => {
        const finished = [...submissions.values()].filter((s) => s.status === "success" || s.status === "error")
        for (const old of finished.slice(0, Math.max(0, finished.length - keptFinished))) {
          submissions.delete(old.submission.id)
        }
      }

      const runChunk = (state: SubmissionState, chunk: TaskSettings.Chunk | undefined) =>
        Effect.gen(function*() {
          const request: Request = {
            requestId: nanoid(),
            owner: state,
            chunk,
            taskType: state.submission.taskType,
            createdAt: Date.now(),
            done: yield* Deferred.make<ChunkOutcome>(),
            logs: [],
            accepting: false,
            refreshes: 0,
            warnedNoMatch: false,
            finished: false
          }
          state.current = request
          post({ _tag: "Request", request })
          const outcome = yield* Deferred.await(request.done)
          return { outcome, logs: request.logs }
        })

      const submit = (submission: ResolvedSubmission): Effect.Effect<SubmissionOutcome, DuplicateSubmissionId> =>
        Effect.gen(function*() {
          const previous = submissions.get(submission.id)
          if (previous !== undefined && (previous.status === "pending" || previous.status === "running")) {
            return yield* new DuplicateSubmissionId({ id: submission.id })
          }
          const started = Date.now()
          const state: SubmissionState = {
            submission,
            submittedAt: started,
            status: "pending",
            taskIds: [],
            runnerId: null,
            current: undefined,
            cancelReason: undefined,
            durationMs: null,
            error: null
          }
          submissions.set(submission.id, state)
          const logs: Array<ReadonlyArray<unknown>> = []
          const results: Array<unknown> = []
          let customData: Record<string, string> | undefined
          let staticData: unknown
          let failure: NodeError.NodeError | undefined
          for (const chunk of taskChunks(submission)) {
            const { logs: chunkLogs, outcome } = yield* runChunk(state, chunk)
            logs.push(...chunkLogs)
            if (outcome._tag === "Failed") {
              failure = outcome.error
              if (outcome.runnerId !== null) state.runnerId = outcome.runnerId
              break
            }
            results.push(outcome.data.result)
            if (outcome.data.customData !== undefined) customData = { ...customData, ...outcome.data.customData }
            if (outcome.data.staticData !== undefined) staticData = outcome.data.staticData
          }
          let result: ReadonlyArray<OutputItem> | undefined
          if (failure === undefined) {
            const validated = validate(submission, results)
            if (Either.isLeft(validated)) failure = validated.left
            else result = validated.right
          }
          state.current = undefined
          state.status = failure === undefined ? "success" : "error"
          state.durationMs = Date.now() - started
          state.error = failure?.message ?? null
          forgetOldSubmissions()
          return {
            id: submission.id,
            taskId: state.taskIds[0] ?? null,
            taskIds: [...state.taskIds],
            runnerId: state.runnerId,
            status: state.status,
            ...(result === undefined ? {} : { result }),
            ...(failure === undefined ? {} : { error: failure }),
            logs,
            ...(failure === undefined && customData !== undefined ? { customData } : {}),
            ...(failure === undefined && staticData !== undefined ? { staticData } : {}),
            durationMs: state.durationMs
          } satisfies SubmissionOutcome
        })

      let drained = false
      const drain = Effect.gen(function*() {
        if (drained) return
        drained = true
        const budget = Math.floor(config.gracefulShutdownTimeoutMs * 0.8)
        const started = yield* Deferred.make<void>()
        post({ _tag: "StartDrain", deadline: Date.now() + budget, reply: started })
        yield* Deferred.await(started)
        const untilIdle: Effect.Effect<void> = Effect.suspend(() =>
          tasks.size === 0 ? Effect.void : Effect.sleep(100).pipe(Effect.zipRight(untilIdle))
        )
        // Drain runs as a finalizer (uninterruptible): the wait must be made interruptible for the timeout.
        const waited = yield* Effect.interruptible(untilIdle).pipe(Effect.timeout(budget), Effect.option)
        if (waited._tag === "None") {
          yield* Effect.logWarning(
            `Drain timeout reached after ${Math.round(budget / 1000)}s, will force-shutdown with active tasks...`
          )
        }
        const closed = yield* Deferred.make<void>()
        post({ _tag: "CloseAll", reply: closed })
        yield* Deferred.await(closed)
      })

      yield* Effect.addFinalizer(() => drain)

      return TaskBroker.of({
        attach: (socket, runnerId) =>
          Effect.sync(() => {
            const connection: Connection = {
              id: runnerId,
              socket,
              registered: false,
              name: "",
              types: [],
              sandbox: undefined,
              isAlive: true,
              strikes: 0,
              lastStrikeAt: 0,
              closed: false
            }
            post({ _tag: "Connected", connection })
            socket.on("message", (data) => post({ _tag: "Frame", connection, data: data as MessageCodec.Frame }))
            socket.on("pong", () => {
              connection.isAlive = true
            })
            socket.on("close", () => post({ _tag: "Closed", connection }))
            socket.on("error", () => post({ _tag: "Closed", connection }))
          }),
        submit,
        cancel: (id) =>
          Effect.gen(function*() {
            const reply = yield* Deferred.make<boolean>()
            post({ _tag: "Cancel", id, reply })
            return yield* Deferred.await(reply)
          }),
        runners: Effect.sync(() => {
          const now = Date.now()
          return [...runners.values()].map((connection) => ({
            id: connection.id,
            name: connection.name,
            types: connection.types,
            openOffers: offers.filter((o) => o.connection === connection && o.validUntil >= now).length,
            runningTasks: [...tasks.values()].filter((t) => t.connection === connection).length,
            ...(connection.sandbox === undefined ? {} : { sandbox: connection.sandbox })
          }))
        }),
        submissions: Effect.sync(() =>
          [...submissions.values()].map((s) => ({
            id: s.submission.id,
            taskType: s.submission.taskType,
            nodeMode: s.submission.nodeMode,
            status: s.status,
            taskIds: [...s.taskIds],
            runnerId: s.runnerId,
            submittedAt: new Date(s.submittedAt).toISOString(),
            durationMs: s.durationMs,
            error: s.error
          }))
        ),
        drain,
        onChange: (listener) => {
          listeners.add(listener)
          return () => listeners.delete(listener)
        }
      })
    })
  )
}
