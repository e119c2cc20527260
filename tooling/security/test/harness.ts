import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
import { createServer } from "node:net"
import type { Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * Real processes for the security and reliability suite: the built mock broker and runner, and
 * the canaries a runner is started with. Nothing here is mocked: tasks go through the broker's
 * task API, over WebSockets, into jailed children.
 */

const runnerMain = new URL("../node_modules/@taskrunner/runner/dist/main.js", import.meta.url).pathname
const brokerMain = new URL("../node_modules/@taskrunner/mock-broker/dist/main.js", import.meta.url).pathname

export const authToken = "security-suite-token"

/** A process the suite started, with its output. */
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

  /** Waits until the output matches, failing (with the output's tail) after `timeoutMs`. */
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

/** Kills everything the suite started (afterAll). */
export const cleanup = async () => {
  await Promise.all(running.splice(0).map((p) => p.stop("SIGKILL")))
}

const start = (main: string, args: ReadonlyArray<string>, env: Record<string, string>) => {
  const started = new Started(
    spawn(process.execPath, [main, ...args], {
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
  )
  running.push(started)
  return started
}

/** A free TCP port on 127.0.0.1 (to restart a broker on the same address). */
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

/** The mock broker (a real process), listening. */
export const startBroker = async (env: Record<string, string> = {}, port = 0): Promise<Broker> => {
  const started = start(brokerMain, ["--port", String(port)], {
    N8N_RUNNERS_AUTH_TOKEN: authToken,
    N8N_RUNNERS_MOCK_RATE_LIMIT: "0",
    ...env
  }) as Broker
  started.url = (await started.waitFor(/Mock broker listening on (http:\/\/[\d.:]+)/))[1]!
  return started
}

/** The runner (a real process) against `broker`. */
export const startRunner = (broker: { url: string }, env: Record<string, string> = {}) =>
  start(runnerMain, [], {
    N8N_RUNNERS_AUTH_TOKEN: authToken,
    N8N_RUNNERS_TASK_BROKER_URI: broker.url,
    N8N_RUNNERS_RECONNECT_INTERVAL: "0.5",
    ...env
  })

export interface RunnerInfo {
  readonly id: string
  readonly name: string
  readonly types: ReadonlyArray<string>
  readonly openOffers: number
  readonly runningTasks: number
}

export const runners = async (broker: { url: string }): Promise<ReadonlyArray<RunnerInfo>> =>
  (await (await fetch(`${broker.url}/api/runners`)).json()) as Array<RunnerInfo>

/** Waits until `count` runners are registered with offers open. */
export const runnersReady = async (broker: { url: string }, count = 1, timeoutMs = 60_000) => {
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

/** Submits a task through the broker's task API and waits for its outcome. */
export const submit = async (broker: { url: string }, body: Record<string, unknown>): Promise<Outcome> => {
  const res = await fetch(`${broker.url}/api/tasks`, { method: "POST", body: JSON.stringify(body) })
  if (res.status !== 200) throw new Error(`submit answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as Outcome
}

// ---------------------------------------------------------------------------------------------
// Processes and descriptors, from /proc

/** Every process whose parent chain reaches `pid` (not `pid` itself). */
export const descendants = (pid: number): Array<number> => {
  const parents = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {
      // gone
    }
  }
  return [...parents.keys()].filter((candidate) => {
    for (let at = parents.get(candidate); at !== undefined && at > 1; at = parents.get(at)) {
      if (at === pid) return true
    }
    return false
  })
}

/** The command name of a process (empty when it is gone). */
export const commandOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim()
  } catch {
    return ""
  }
}

/** Open descriptors of a process. */
export const openDescriptors = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length

/** Where each descriptor of a process points (for leak reports). */
export const descriptorTargets = (pid: number): Array<string> =>
  readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      return "?"
    }
  })

/** Resident memory of a process, bytes. */
export const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024
}

// ---------------------------------------------------------------------------------------------
// Canaries

/**
 * What an escaped task would reach, planted around a runner: a secret in the runner's own
 * environment, a secret file readable by the runner's user outside every path the jail allows, a
 * TCP listener on 127.0.0.1 that records every connection, and a marker file of the runner's
 * (the parent's) that must keep its content, mode and time. `violations` says what was touched.
 */
export class Canaries {
  readonly envName = "TASKRUNNER_SUITE_SECRET"
  readonly envSecret = `env-canary-${randomBytes(12).toString("hex")}`
  readonly fileSecret = `file-canary-${randomBytes(12).toString("hex")}`
  readonly markerContent = `marker-${randomBytes(12).toString("hex")}`
  readonly dir = mkdtempSync(join(tmpdir(), "security-canaries-"))
  readonly file = join(this.dir, "secret.txt")
  readonly marker = join(this.dir, "runner-marker")
  port = 0
  connections = 0
  private server: Server | undefined
  private markerStat = ""

  /** Plants the canaries and opens the listener. */
  async plant(): Promise<void> {
    // World-readable in a traversable folder: outside the jail any user could read it, so only
    // the jail keeps it from a task.
    chmodSync(this.dir, 0o755)
    writeFileSync(this.file, this.fileSecret)
    chmodSync(this.file, 0o644)
    writeFileSync(this.marker, this.markerContent)
    chmodSync(this.marker, 0o600)
    this.markerStat = this.describeMarker()
    this.server = createServer((socket) => {
      this.connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve))
    this.port = (this.server.address() as { port: number }).port
  }

  /** The runner's environment entry holding the secret. */
  get env(): Record<string, string> {
    return { [this.envName]: this.envSecret }
  }

  /** The code with its placeholders filled in. */
  fill(code: string): string {
    return code
      .replaceAll("{{CANARY_FILE}}", this.file)
      .replaceAll("{{PORT}}", String(this.port))
      .replaceAll("{{SECRET_ENV}}", this.envName)
  }

  private describeMarker(): string {
    try {
      const stat = statSync(this.marker)
      return `${readFileSync(this.marker, "utf8")}|${stat.mode}|${stat.mtimeMs}|${stat.uid}`
    } catch {
      return "gone"
    }
  }

  /** What was touched: a secret in `output` (the task's answer, as text), a connection, the marker. */
  violations(output: string): Array<string> {
    const found: Array<string> = []
    if (output.includes(this.envSecret)) found.push("the runner's environment secret reached the task")
    if (output.includes(this.fileSecret)) found.push("the canary file's secret reached the task")
    if (output.includes(this.markerContent)) found.push("the runner's marker file was read")
    if (this.connections > 0) found.push(`${this.connections} connection(s) reached the loopback listener`)
    if (this.describeMarker() !== this.markerStat) found.push("the runner's marker file was changed")
    if (readFileSync(this.file, "utf8") !== this.fileSecret) found.push("the canary file was changed")
    return found
  }

  async remove(): Promise<void> {
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())))
    rmSync(this.dir, { recursive: true, force: true })
  }
}
