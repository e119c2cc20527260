import { descendantsOf, residentBytes } from "@taskrunner/executor"
import { RunnerHealthBody } from "@taskrunner/protocol"
import { Context, Data, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { Metrics } from "./Metrics.js"
import { RunnerConfig } from "./RunnerConfig.js"

/** The health server could not listen. */
export class HealthServerFailed extends Data.TaggedError("HealthServerFailed")<{ readonly message: string }> {}

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
        () => [{ labels: {}, value: residentBytes(descendantsOf(process.pid)) }]
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
