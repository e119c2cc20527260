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
import * as e2e from "../node_modules/@taskrunner/runner/test/harness.js"

/**
 * Real processes for the security and reliability suite: the built mock broker and runner, and
 * the canaries a runner is started with. Nothing here is mocked: tasks go through the broker's
 * task API, over WebSockets, into jailed children. The runner's end-to-end harness starts and
 * watches the processes; this file adds the suite's own: timeouts for a loaded machine, /proc
 * readings and the canaries.
 */

export {
  authToken,
  cleanup,
  dataResponse,
  freePort,
  runners,
  ScriptedBroker,
  sleep,
  startBroker,
  Started,
  submit
} from "../node_modules/@taskrunner/runner/test/harness.js"
export type { Broker, Outcome, RunnerInfo } from "../node_modules/@taskrunner/runner/test/harness.js"

/** The runner (a real process) against `broker`. */
export const startRunner = (broker: { url: string }, env: Record<string, string> = {}) => e2e.startRunner(broker, env)

/** Waits until `count` runners are registered with offers open (60 s: the suite loads the machine). */
export const runnersReady = (broker: { url: string }, count = 1, timeoutMs = 60_000) =>
  e2e.runnersReady(broker, count, timeoutMs)

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
