import { RunnerHealthBody } from "@taskrunner/protocol"
import { Context, Data, Effect, Layer } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:http"
import { Metrics } from "./Metrics.js"
import { RunnerConfig } from "./RunnerConfig.js"

/** The health server could not listen. */
export class HealthServerFailed extends Data.TaggedError("HealthServerFailed")<{ readonly message: string }> {}

/** Resident memory of every process below this one (the task children and their jails), bytes. */
export const childMemoryBytes = (): number => {
  const parents = new Map<number, number>()
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return 0
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The command name may contain spaces and parentheses: fields start after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      parents.set(Number(entry), Number(fields[1]))
    } catch {
      // gone already
    }
  }
  const descendants = new Set<number>([process.pid])
  let grew = true
  while (grew) {
    grew = false
    for (const [pid, parent] of parents) {
      if (!descendants.has(pid) && descendants.has(parent)) {
        descendants.add(pid)
        grew = true
      }
    }
  }
  descendants.delete(process.pid)
  let bytes = 0
  for (const pid of descendants) {
    try {
      const pages = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1])
      bytes += pages * 4096
    } catch {
      // gone already
    }
  }
  return bytes
}

/** The address the health server listens on (port 0 picks one). */
export class HealthServer extends Context.Tag("@taskrunner/runner/HealthServer")<
  HealthServer,
  { readonly port: number | undefined }
>() {
  /**
   * `GET /metrics` answers Prometheus text; every other request answers 200 `OK`, as n8n's runners
   * do for the launcher. Off unless N8N_RUNNERS_HEALTH_CHECK_SERVER_ENABLED.
   */
  static readonly layer = Layer.scoped(
    HealthServer,
    Effect.gen(function*() {
      const config = yield* RunnerConfig
      const metrics = yield* Metrics
      if (!config.healthCheck.enabled) return HealthServer.of({ port: undefined })
      metrics.gauge(
        "taskrunner_child_memory_bytes",
        "Resident memory of the task processes",
        () => [{ labels: {}, value: childMemoryBytes() }]
      )
      const server = createServer((req, res) => {
        if ((req.url ?? "").split("?")[0] === "/metrics") {
          const body = metrics.render()
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
          res.end(body)
          return
        }
        res.writeHead(200, { "content-type": "text/plain", "content-length": RunnerHealthBody.length })
        res.end(RunnerHealthBody)
      })
      const port = yield* Effect.async<number, HealthServerFailed>((resume) => {
        server.once("error", (error: NodeJS.ErrnoException) =>
          resume(Effect.fail(
            new HealthServerFailed({
              message: error.code === "EADDRINUSE"
                ? `Port ${config.healthCheck.port} is already in use`
                : `The health server cannot listen on ${config.healthCheck.host}:${config.healthCheck.port}: ${error.message}`
            })
          )))
        server.listen(config.healthCheck.port, config.healthCheck.host, () => {
          const address = server.address()
          resume(
            Effect.succeed(typeof address === "object" && address !== null ? address.port : config.healthCheck.port)
          )
        })
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
      yield* Effect.logInfo(`Health server listening on http://${config.healthCheck.host}:${port}/healthz`)
      return HealthServer.of({ port })
    })
  )
}
