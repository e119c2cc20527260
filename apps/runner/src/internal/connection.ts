import { Paths } from "@taskrunner/protocol"
import { Data } from "effect"
import { WebSocket } from "ws"

/** The broker refused the auth token (`POST /runners/auth` answered 403). */
export class AuthTokenRefused extends Data.TaggedError("AuthTokenRefused")<{ readonly status: number }> {
  override get message(): string {
    return `Authentication failed with status ${this.status}: the broker refused N8N_RUNNERS_AUTH_TOKEN (it must equal the broker's N8N_RUNNERS_AUTH_TOKEN)`
  }
}

/** The WebSocket upgrade was refused with an HTTP status (403: unknown, used or expired grant). */
export class UpgradeRefused extends Data.TaggedError("UpgradeRefused")<{ readonly status: number }> {
  override get message(): string {
    return `Authentication failed with status ${this.status}`
  }
}

/** The broker could not be reached (or answered nonsense). */
export class BrokerUnreachable extends Data.TaggedError("BrokerUnreachable")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** `POST http://<host>/runners/auth` -> a single-use grant token. */
export const fetchGrantToken = async (host: string, authToken: string): Promise<string> => {
  let response: Response
  try {
    response = await fetch(`http://${host}${Paths.auth}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: authToken }),
      signal: AbortSignal.timeout(10_000)
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code
    throw new BrokerUnreachable({ reason: `cannot reach ${host}${cause ? ` (${cause})` : `: ${String(error)}`}` })
  }
  if (response.status === 403) throw new AuthTokenRefused({ status: 403 })
  if (response.status !== 200) throw new BrokerUnreachable({ reason: `${Paths.auth} answered HTTP ${response.status}` })
  const body = (await response.json().catch(() => undefined)) as { data?: { token?: unknown } } | undefined
  const token = body?.data?.token
  if (typeof token !== "string" || token === "") {
    throw new BrokerUnreachable({ reason: `${Paths.auth} answered without a token` })
  }
  return token
}

/** An open broker connection. Frames that arrive before `onFrame` is called are kept, not lost. */
export interface BrokerSocket {
  readonly socket: WebSocket
  readonly onFrame: (handler: (data: Buffer | ArrayBuffer | Array<Buffer>) => void) => void
}

const buffered = (socket: WebSocket): BrokerSocket => {
  const early: Array<Buffer | ArrayBuffer | Array<Buffer>> = []
  let handler: ((data: Buffer | ArrayBuffer | Array<Buffer>) => void) | undefined
  // The broker sends broker:inforequest right after the upgrade, before the caller is ready.
  socket.on("message", (data) => (handler === undefined ? early.push(data) : handler(data)))
  return {
    socket,
    onFrame: (next) => {
      handler = next
      for (const data of early.splice(0)) next(data)
    }
  }
}

/** Opens `ws://<host>/runners/_ws?id=<id>` with the grant; resolves once the connection is open. */
export const openSocket = (host: string, runnerId: string, grant: string, maxPayload: number): Promise<BrokerSocket> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://${host}${Paths.websocket}?id=${encodeURIComponent(runnerId)}`, {
      headers: { authorization: `Bearer ${grant}` },
      maxPayload,
      handshakeTimeout: 10_000
    })
    const fail = (error: Error) => {
      socket.removeAllListeners()
      socket.on("error", () => {})
      reject(error)
    }
    socket.once("open", () => {
      socket.removeAllListeners("error")
      socket.removeAllListeners("unexpected-response")
      resolve(buffered(socket))
    })
    socket.once("unexpected-response", (_request, response) => {
      fail(new UpgradeRefused({ status: response.statusCode ?? 0 }))
      socket.terminate()
    })
    socket.once(
      "error",
      (error: Error & { code?: string }) =>
        fail(new BrokerUnreachable({ reason: error.code === undefined ? error.message : `${error.code} ${host}` }))
    )
  })
