import { Context, Effect, Exit, Layer, Logger, Redacted, Scope } from "effect"
import { WebSocket } from "ws"
import { BrokerConfig } from "../src/BrokerConfig.js"
import type { BrokerSettings } from "../src/BrokerConfig.js"
import { BrokerServer } from "../src/BrokerServer.js"
import { GrantTokens } from "../src/GrantTokens.js"
import { TaskBroker } from "../src/TaskBroker.js"
import type { TaskBrokerShape } from "../src/TaskBroker.js"

export const authToken = "test-auth-token"

/** Short timeouts so the behaviours under test happen in well under a second. */
export const fastSettings: BrokerSettings = {
  host: "127.0.0.1",
  port: 0,
  authToken: Redacted.make(authToken),
  authTokenGenerated: false,
  grantTokenTtlMs: 30_000,
  maxPayloadBytes: 16 * 1024 * 1024,
  taskTimeoutMs: 10_000,
  taskRequestTimeoutMs: 10_000,
  taskAcceptTimeoutMs: 400,
  heartbeatIntervalMs: 60_000,
  gracefulShutdownTimeoutMs: 2_000,
  rateLimitPerSecond: 0
}

/** A broker running in this process on a free port, with its log lines captured. */
export interface RunningBroker {
  readonly url: string
  readonly wsUrl: string
  readonly broker: TaskBrokerShape
  readonly logs: Array<string>
  readonly stop: () => Promise<void>
}

export const startBroker = async (overrides: Partial<BrokerSettings> = {}): Promise<RunningBroker> => {
  const logs: Array<string> = []
  const capture = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      logs.push(`${logLevel.label} ${Array.isArray(message) ? message.map(String).join(" ") : String(message)}`)
    })
  )
  const layer = BrokerServer.layer.pipe(
    Layer.provideMerge(GrantTokens.layer),
    Layer.provideMerge(TaskBroker.layer),
    Layer.provideMerge(BrokerConfig.layer({ ...fastSettings, ...overrides })),
    Layer.provide(capture)
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const { url } = Context.get(context, BrokerServer)
  const broker = Context.get(context, TaskBroker)
  return {
    url,
    wsUrl: url.replace(/^http/, "ws"),
    broker,
    logs,
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** `POST /runners/auth` with `token`; the grant on success. */
export const fetchGrant = async (url: string, token = authToken): Promise<string> => {
  const res = await fetch(`${url}/runners/auth`, { method: "POST", body: JSON.stringify({ token }) })
  if (res.status !== 200) throw new Error(`auth failed with ${res.status}`)
  return ((await res.json()) as { data: { token: string } }).data.token
}

type Message = Record<string, unknown> & { readonly type: string }

/** A protocol client scripted by the test: it sends exactly what the test says, and records what arrives. */
export class ScriptedRunner {
  private readonly inbox: Array<Message> = []
  private readonly waiters: Array<() => void> = []
  readonly closed: Promise<{ readonly code: number }>
  pings = 0

  private constructor(readonly socket: WebSocket, readonly id: string) {
    socket.on("message", (data) => {
      this.inbox.push(JSON.parse(String(data)) as Message)
      this.waiters.splice(0).forEach((wake) => wake())
    })
    socket.on("ping", () => {
      this.pings++
    })
    this.closed = new Promise((resolve) => socket.on("close", (code) => resolve({ code })))
  }

  /** Connects with a fresh grant (or the given headers) and waits for `broker:inforequest`. */
  static async connect(
    broker: RunningBroker,
    options: { readonly id?: string; readonly autoPong?: boolean } = {}
  ): Promise<ScriptedRunner> {
    const id = options.id ?? `runner-${Math.random().toString(36).slice(2, 10)}`
    const grant = await fetchGrant(broker.url)
    const socket = new WebSocket(`${broker.wsUrl}/runners/_ws?id=${id}`, {
      headers: { authorization: `Bearer ${grant}` },
      autoPong: options.autoPong ?? true
    })
    const runner = new ScriptedRunner(socket, id)
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve())
      socket.once("error", reject)
    })
    await runner.next("broker:inforequest")
    return runner
  }

  /** Connects and registers: `runner:info`, then waits for `broker:runnerregistered`. */
  static async register(
    broker: RunningBroker,
    types: ReadonlyArray<string> = ["javascript"],
    options: { readonly id?: string; readonly autoPong?: boolean } = {}
  ): Promise<ScriptedRunner> {
    const runner = await ScriptedRunner.connect(broker, options)
    runner.send({ type: "runner:info", name: "Scripted Runner", types })
    await runner.next("broker:runnerregistered")
    return runner
  }

  send(message: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message))
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data)
  }

  offer(taskType = "javascript", validFor = 5000, offerId = `offer-${Math.random().toString(36).slice(2)}`): string {
    this.send({ type: "runner:taskoffer", offerId, taskType, validFor })
    return offerId
  }

  /** The next message of `type` (others stay queued), or a failure after `timeoutMs`. */
  async next<T = Message>(type: string, timeoutMs = 3000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const index = this.inbox.findIndex((m) => m.type === type)
      if (index >= 0) return this.inbox.splice(index, 1)[0] as unknown as T
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(
          `${this.id}: no ${type} within ${timeoutMs} ms; inbox: ${JSON.stringify(this.inbox.map((m) => m.type))}`
        )
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** True if a message of `type` arrives within `ms`. */
  async receives(type: string, ms: number): Promise<boolean> {
    return this.next(type, ms).then(() => true, () => false)
  }

  /**
   * Accepts the next offer-accept and returns the settings message of that task. `timeoutMs`: how
   * long the task may take to come (a CLI that submits it first has to start: ~1.5 s here, more under load).
   */
  async acceptNext(
    timeoutMs?: number
  ): Promise<{ readonly taskId: string; readonly settings: Record<string, unknown> }> {
    const accept = await this.next<Message & { taskId: string }>("broker:taskofferaccept", timeoutMs)
    this.send({ type: "runner:taskaccepted", taskId: accept.taskId })
    const settings = await this.next<Message & { taskId: string; settings: Record<string, unknown> }>(
      "broker:tasksettings"
    )
    return { taskId: settings.taskId, settings: settings.settings }
  }

  close(): void {
    this.socket.close()
  }
}

/** Submits a task through the API (does not wait for it). */
export const submit = (broker: RunningBroker, body: Record<string, unknown>) =>
  fetch(`${broker.url}/api/tasks`, { method: "POST", body: JSON.stringify(body) }).then(async (res) => ({
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & {
      status?: string
      result?: unknown
      error?: Record<string, unknown>
      logs?: Array<Array<unknown>>
      taskId?: string
      runnerId?: string
    }
  }))

/** Resolves after `ms`; only for "nothing must happen during this window" checks. */
export const quiet = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
