import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createServer } from "node:net"

const runnerMain = new URL("../dist/main.js", import.meta.url).pathname
const brokerMain = new URL("../node_modules/@taskrunner/mock-broker/dist/main.js", import.meta.url).pathname

export const authToken = "e2e-auth-token"

/** A process the test started, with its output and a way to wait for a line. */
export class Started {
  output = ""
  readonly exited: Promise<number | null>

  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (d) => (this.output += String(d)))
    child.stderr?.on("data", (d) => (this.output += String(d)))
    this.exited = new Promise((resolve) => child.on("close", (code) => resolve(code)))
  }

  /** Waits until the output matches, failing (with the output) after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = pattern.exec(this.output)
      if (match) return match
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.output}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }
}

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

/** Waits until `count` runners are registered with offers open. */
export const runnersReady = async (
  broker: { url: string },
  count = 1,
  timeoutMs = 20_000
): Promise<ReadonlyArray<RunnerInfo>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const list = (await (await fetch(`${broker.url}/api/runners`)).json()) as Array<RunnerInfo>
    if (list.filter((r) => r.openOffers > 0).length >= count) return list
    if (Date.now() > deadline) throw new Error(`fewer than ${count} runner(s) ready: ${JSON.stringify(list)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
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
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`task ${id} never ran`)
}
