import { BrokerHealthBody, Paths } from "@taskrunner/protocol"
import { Context, Data, Effect, Either, FiberSet, Layer } from "effect"
import { createServer, STATUS_CODES } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { WebSocketServer } from "ws"
import { BrokerConfig } from "./BrokerConfig.js"
import { GrantTokens } from "./GrantTokens.js"
import { nanoid } from "./internal/ids.js"
import { makeSlidingWindow } from "./internal/slidingWindow.js"
import { servePlayground } from "./Playground.js"
import { TaskBroker } from "./TaskBroker.js"
import { decodeTaskSubmission, resolveSubmission } from "./TaskSubmission.js"

/** Where the broker listens once started. */
export interface BrokerAddress {
  readonly host: string
  readonly port: number
  /** `http://host:port`, usable as `N8N_RUNNERS_TASK_BROKER_URI`. */
  readonly url: string
}

/** The broker could not listen on its address (port taken, address not local, ...). */
export class ListenFailed
  extends Data.TaggedError("ListenFailed")<{ readonly address: string; readonly cause: Error }>
{
  override get message(): string {
    const code = (this.cause as NodeJS.ErrnoException).code
    if (code === "EADDRINUSE") return `Port ${this.address.split(":").at(-1)} is already in use (${this.address})`
    return `Cannot listen on ${this.address}: ${this.cause.message}`
  }
}

/** A request body that is not what the route expects. */
class BadBody {
  constructor(readonly status: number, readonly message: string) {}
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text)
  })
  res.end(text)
}

/** Upgrade refusals are a bare status line, then the socket is destroyed (as n8n does). */
const refuseUpgrade = (socket: Socket, status: number) => {
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n\r\n`)
  socket.destroy()
}

const readBody = (req: IncomingMessage, limit: number): Effect.Effect<unknown, BadBody> =>
  Effect.async<unknown, BadBody>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        resume(Effect.fail(new BadBody(413, `Request body is larger than ${limit} bytes`)))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on(
      "error",
      (error) => resume(Effect.fail(new BadBody(400, `Could not read the request body: ${error.message}`)))
    )
    req.on("end", () => {
      try {
        resume(Effect.succeed(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown))
      } catch (error) {
        resume(Effect.fail(new BadBody(400, `Request body is not valid JSON: ${(error as Error).message}`)))
      }
    })
  })

/** The broker's HTTP server: runner auth, health, WebSocket upgrades and the task API, on one port. */
export class BrokerServer extends Context.Tag("@taskrunner/mock-broker/BrokerServer")<BrokerServer, BrokerAddress>() {
  /** Listens on the configured address; closing the scope drains the broker, then stops listening. */
  static readonly layer = Layer.scoped(
    BrokerServer,
    Effect.gen(function*() {
      const config = yield* BrokerConfig
      const broker = yield* TaskBroker
      const grants = yield* GrantTokens
      const run = yield* FiberSet.makeRuntime<never>()
      const authLimit = makeSlidingWindow(config.rateLimitPerSecond, 1000)
      const upgradeLimit = makeSlidingWindow(config.rateLimitPerSecond, 1000)
      const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes })

      const handleAuth = (req: IncomingMessage, res: ServerResponse) =>
        Effect.gen(function*() {
          if (!authLimit()) return json(res, 429, { message: "Too many requests" })
          const body = yield* readBody(req, 64 * 1024)
          const token = typeof body === "object" && body !== null
            ? (body as Record<string, unknown>)["token"]
            : undefined
          if (typeof token !== "string" || token === "") {
            return json(res, 400, {
              code: 400,
              message: "invalid_type: body must be {\"token\": \"<non-empty string>\"}"
            })
          }
          const grant = grants.exchange(token)
          if (grant === undefined) return json(res, 403, { code: 403, message: "Forbidden" })
          return json(res, 200, { data: { token: grant } })
        })

      const handleSubmit = (req: IncomingMessage, res: ServerResponse) =>
        Effect.gen(function*() {
          const body = yield* readBody(req, config.maxPayloadBytes)
          const decoded = decodeTaskSubmission(body)
          if (Either.isLeft(decoded)) return json(res, 400, { error: decoded.left })
          const outcome = yield* broker.submit(resolveSubmission(decoded.right, nanoid())).pipe(
            Effect.catchTag("DuplicateSubmissionId", (error) => Effect.fail(new BadBody(409, error.message)))
          )
          return json(res, 200, outcome)
        })

      /** `GET /api/events`: the runners and recent tasks as server-sent events, sent when they change. */
      const handleEvents = (req: IncomingMessage, res: ServerResponse) =>
        Effect.sync(() => {
          res.writeHead(200, {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-store",
            connection: "keep-alive"
          })
          let timer: ReturnType<typeof setTimeout> | undefined
          const push = () => {
            timer = undefined
            run(
              Effect.map(
                Effect.all([broker.runners, broker.submissions]),
                ([runners, tasks]) => res.write(`event: state\ndata: ${JSON.stringify({ runners, tasks })}\n\n`)
              )
            )
          }
          // At most a few pushes a second, however busy the broker is.
          const unsubscribe = broker.onChange(() => {
            timer ??= setTimeout(push, 200)
          })
          const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000)
          push()
          req.on("close", () => {
            unsubscribe()
            clearInterval(keepAlive)
            clearTimeout(timer)
          })
        })

      const route = (req: IncomingMessage, res: ServerResponse) => {
        const path = new URL(req.url ?? "/", "http://broker").pathname
        const method = req.method ?? "GET"
        const only = (allowed: string, handler: () => Effect.Effect<void, BadBody>) =>
          method === allowed
            ? handler()
            : Effect.sync(() => json(res, 405, { code: 405, message: `Use ${allowed} for ${path}` }))
        const page = path === "/" ? "index.html" : /^\/playground\/([\w.-]+)$/.exec(path)?.[1]
        if (page !== undefined) return only("GET", () => Effect.sync(() => servePlayground(res, page)))
        if (path === "/api/events") return only("GET", () => handleEvents(req, res))
        if (path === Paths.auth) return only("POST", () => handleAuth(req, res))
        if (path === Paths.health) return only("GET", () => Effect.sync(() => json(res, 200, BrokerHealthBody)))
        if (path === "/api/tasks" && method === "POST") return handleSubmit(req, res)
        if (path === "/api/tasks") {
          return only("GET", () => Effect.map(broker.submissions, (list) => json(res, 200, list)))
        }
        if (path === "/api/runners") {
          return only("GET", () => Effect.map(broker.runners, (list) => json(res, 200, list)))
        }
        const cancel = /^\/api\/tasks\/([^/]+)\/cancel$/.exec(path)
        if (cancel !== null) {
          return only("POST", () =>
            Effect.map(broker.cancel(decodeURIComponent(cancel[1]!)), (cancelled) =>
              cancelled
                ? json(res, 200, { cancelled: true })
                : json(res, 404, { error: "No pending or running task with that id" })))
        }
        return Effect.sync(() => json(res, 404, { code: 404, message: `Not found: ${method} ${path}` }))
      }

      const server = createServer((req, res) => {
        run(
          route(req, res).pipe(
            Effect.catchAll((error) => Effect.sync(() => json(res, error.status, { error: error.message }))),
            Effect.catchAllDefect((defect) =>
              Effect.logError("HTTP handler failed", defect).pipe(
                Effect.andThen(() => {
                  if (!res.headersSent) json(res, 500, { error: "Internal error" })
                })
              )
            )
          )
        )
      })

      server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
        const url = new URL(req.url ?? "/", "http://broker")
        if (url.pathname !== Paths.websocket) return refuseUpgrade(socket, 404)
        if (!upgradeLimit()) return refuseUpgrade(socket, 429)
        const runnerId = url.searchParams.get("id")
        if (runnerId === null || runnerId === "") return refuseUpgrade(socket, 400)
        const bearer = /^bearer (.+)$/i.exec(req.headers.authorization ?? "")
        if (bearer === null) {
          run(
            Effect.logWarning(
              "Runner connected without a bearer grant token (raise N8N_RUNNERS_GRANT_TOKEN_TTL if runners are slow to connect)"
            )
          )
          return refuseUpgrade(socket, 401)
        }
        if (!grants.consume(bearer[1]!)) {
          run(
            Effect.logWarning(
              "Runner presented an unknown, expired or used grant token (raise N8N_RUNNERS_GRANT_TOKEN_TTL if runners are slow to connect)"
            )
          )
          return refuseUpgrade(socket, 403)
        }
        wss.handleUpgrade(req, socket, head, (ws) => run(broker.attach(ws, runnerId)))
      })

      const address = yield* Effect.async<AddressInfo, Error>((resume) => {
        const onError = (error: Error) => resume(Effect.fail(error))
        server.once("error", onError)
        server.listen(config.port, config.host, () => {
          server.off("error", onError)
          resume(Effect.succeed(server.address() as AddressInfo))
        })
      }).pipe(Effect.mapError((cause) => new ListenFailed({ address: `${config.host}:${config.port}`, cause })))

      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          server.close()
          yield* broker.drain
          wss.close()
          server.closeAllConnections()
        })
      )

      const host = address.family === "IPv6" ? `[${address.address}]` : address.address
      return BrokerServer.of({ host: address.address, port: address.port, url: `http://${host}:${address.port}` })
    })
  )
}
