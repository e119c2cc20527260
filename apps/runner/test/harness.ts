import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createServer as createHttpServer } from "node:http"
import type { Server as HttpServer } from "node:http"
import { createServer } from "node:net"
import { WebSocketServer } from "ws"
import type { WebSocket } from "ws"

const runnerMain = new URL("../dist/main.js", import.meta.url).pathname
const brokerMain = new URL("../node_modules/@taskrunner/mock-broker/dist/main.js", import.meta.url).pathname

export const authToken = "e2e-auth-token"

/**
 * A process a test started, with its output (the last 2 MB) and a way to wait for a line. The
 * security suite (tooling/security) starts its processes with this harness too.
 */
export class Started {
  output = ""
  readonly exited: Promise<number | null>

  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (d) => (this.output = (this.output + String(d)).slice(-2_000_000)))
    child.stderr?.on("data", (d) => (this.output = (this.output + String(d)).slice(-2_000_000)))
    this.exited = new Promise((resolve) => child.on("close", (code) => resolve(code)))
  }

  get pid(): number {
    return this.child.pid!
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Waits until the output from `from` on matches, failing (with the output's tail) after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = pattern.exec(this.output.slice(from))
      if (match) return match
      if (Date.now() > deadline) {
        throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.output.slice(-4000)}`)
      }
      await sleep(25)
    }
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.alive) this.child.kill(signal)
    return this.exited
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const running: Array<Started> = []

/** Kills everything a test started (call in afterEach). */
export const cleanup = async () => {
  await Promise.all(running.splice(0).map((p) => p.stop("SIGKILL")))
}

const start = (
  main: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  leak = false
) => {
  // `leak`: the process gets descriptor 40 (one end of a socket pair whose other end is
  // `stdio[40]` here) without close-on-exec, as a careless parent would leave it. (Node itself
  // marks low inherited descriptors close-on-exec at start, so it is a high one.)
  const leaked = leak ? [...Array.from({ length: 37 }, () => "ignore" as const), "pipe" as const] : []
  const started = new Started(
    spawn(process.execPath, [main, ...args], {
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe", ...leaked]
    })
  )
  running.push(started)
  return started
}

/** A free TCP port (for restarting a broker on the same address). */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

export interface Broker extends Started {
  url: string
}

/** Starts the mock broker (a real process) and waits until it listens. */
export const startBroker = async (env: Record<string, string> = {}, port = 0): Promise<Broker> => {
  const started = start(brokerMain, ["--port", String(port)], {
    N8N_RUNNERS_AUTH_TOKEN: authToken,
    N8N_RUNNERS_MOCK_RATE_LIMIT: "0",
    ...env
  }) as Broker
  started.url = (await started.waitFor(/Mock broker listening on (http:\/\/[\d.:]+)/))[1]!
  return started
}

/**
 * Starts the runner (a real process) against `broker`. `leak` gives it an inherited descriptor 40
 * (see `start`).
 */
export const startRunner = (broker: { url: string } | undefined, env: Record<string, string> = {}, leak = false) =>
  start(runnerMain, [], {
    N8N_RUNNERS_AUTH_TOKEN: authToken,
    ...(broker === undefined ? {} : { N8N_RUNNERS_TASK_BROKER_URI: broker.url }),
    N8N_RUNNERS_RECONNECT_INTERVAL: "0.5",
    ...env
  }, leak)

/** Runs the runner CLI to completion (for --help, --version and start-up errors). */
export const runRunner = async (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const started = start(runnerMain, args, env)
  const code = await started.exited
  return { code, output: started.output }
}

export interface RunnerInfo {
  readonly id: string
  readonly name: string
  readonly types: ReadonlyArray<string>
  readonly openOffers: number
  readonly runningTasks: number
}

export const runners = async (broker: { url: string }): Promise<ReadonlyArray<RunnerInfo>> =>
  (await (await fetch(`${broker.url}/api/runners`)).json()) as Array<RunnerInfo>

/** Waits until `count` runners are registered with offers open (a broker restarting counts as none). */
export const runnersReady = async (
  broker: { url: string },
  count = 1,
  timeoutMs = 20_000
): Promise<ReadonlyArray<RunnerInfo>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const list = await runners(broker).catch(() => [])
    if (list.filter((r) => r.openOffers > 0).length >= count) return list
    if (Date.now() > deadline) throw new Error(`fewer than ${count} runner(s) ready: ${JSON.stringify(list)}`)
    await sleep(50)
  }
}

export interface Outcome {
  readonly id: string
  readonly taskId: string | null
  readonly runnerId: string | null
  readonly status: "success" | "error"
  readonly result?: unknown
  readonly error?: Record<string, unknown>
  readonly logs: ReadonlyArray<ReadonlyArray<unknown>>
}

/** Submits a task and waits for its outcome. */
export const submit = async (broker: { url: string }, body: Record<string, unknown>): Promise<Outcome> => {
  const res = await fetch(`${broker.url}/api/tasks`, { method: "POST", body: JSON.stringify(body) })
  if (res.status !== 200) throw new Error(`submit answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as Outcome
}

/** Waits until the broker lists submission `id` as running. */
export const untilRunning = async (broker: { url: string }, id: string) => {
  for (let i = 0; i < 400; i++) {
    const list = (await (await fetch(`${broker.url}/api/tasks`)).json()) as Array<{ id: string; status: string }>
    if (list.some((t) => t.id === id && t.status === "running")) return
    await sleep(25)
  }
  throw new Error(`task ${id} never ran`)
}

/**
 * A broker scripted by a test, to drive a real runner over a real WebSocket message by message
 * (and send what a real broker never would): it hands out a grant token, asks for `runner:info`,
 * and keeps what the runner sends in `inbox` until a test takes it.
 */
export class ScriptedBroker {
  readonly inbox: Array<Record<string, unknown>> = []
  /** When each message arrived (offers expire `validFor` ms after). */
  readonly arrived = new WeakMap<object, number>()
  #socket: WebSocket | undefined

  private constructor(readonly server: HttpServer, readonly url: string) {}

  static async start(): Promise<ScriptedBroker> {
    const wss = new WebSocketServer({ noServer: true })
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ data: { token: "a".repeat(64) } }))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const broker = new ScriptedBroker(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`)
    server.on("upgrade", (req, s, head) =>
      wss.handleUpgrade(req, s, head, (ws) => {
        broker.#socket = ws
        ws.on("message", (data) => {
          const message = JSON.parse(String(data)) as Record<string, unknown>
          broker.arrived.set(message, Date.now())
          broker.inbox.push(message)
        })
        ws.send(JSON.stringify({ type: "broker:inforequest" }))
      }))
    return broker
  }

  /** The runner's connection (once it connected). */
  get socket(): WebSocket {
    if (this.#socket === undefined) throw new Error("no runner has connected")
    return this.#socket
  }

  /** Sends a message (as JSON) or a raw frame. */
  send(message: Record<string, unknown> | string | Buffer): void {
    this.socket.send(typeof message === "string" || Buffer.isBuffer(message) ? message : JSON.stringify(message))
  }

  /** Takes the first message that matches from the inbox, waiting for it up to `timeoutMs`. */
  async take(
    match: (m: Record<string, unknown>) => boolean,
    what = "the message",
    timeoutMs = 20_000
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const index = this.inbox.findIndex(match)
      if (index >= 0) return this.inbox.splice(index, 1)[0]!
      if (Date.now() > deadline) {
        throw new Error(
          `no ${what} within ${timeoutMs} ms; inbox: ${JSON.stringify(this.inbox.map((m) => m["type"]))}`
        )
      }
      await sleep(5)
    }
  }

  close(): void {
    this.#socket?.terminate()
    this.server.close()
  }
}

/** A `broker:taskdataresponse` payload with `items` as the task's input (for a scripted broker). */
export const dataResponse = (items: ReadonlyArray<unknown>) => ({
  workflow: { id: "w", name: "W", active: false, connections: {}, nodes: [] },
  inputData: { main: [items] },
  connectionInputSource: null,
  node: { id: "n", name: "Code", type: "n8n-nodes-base.code", typeVersion: 2, parameters: {} },
  runExecutionData: { resultData: { runData: {} } },
  runIndex: 0,
  itemIndex: 0,
  activeNodeName: "Code",
  mode: "manual"
})
