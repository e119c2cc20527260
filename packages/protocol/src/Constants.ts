/**
 * Exact strings, paths and defaults of the n8n task-runner protocol. Interoperability depends on
 * these values byte for byte, so every package takes them from here.
 */

/** Task types the runner implements. The broker itself accepts any string. */
export const TaskTypes = ["javascript", "python"] as const

/** A task type the runner implements. */
export type TaskType = (typeof TaskTypes)[number]

/** HTTP paths served by the broker. Official runners hard-code the `/runners` ones. */
export const Paths = {
  base: "/runners",
  auth: "/runners/auth",
  websocket: "/runners/_ws",
  health: "/healthz"
} as const

/** Default addresses and ports. */
export const Defaults = {
  brokerListenAddress: "127.0.0.1",
  brokerPort: 5679,
  brokerUri: "http://127.0.0.1:5679",
  healthCheckHost: "127.0.0.1",
  healthCheckPort: 5681,
  /** `N8N_RUNNERS_MAX_PAYLOAD`: 1 GiB. */
  maxPayloadBytes: 1_073_741_824,
  /** Largest message the 4-byte length prefix of the child pipe can frame. */
  pipeMessageLimitBytes: 2 ** 32 - 1,
  grantTokenTtlSeconds: 30,
  brokerTaskTimeoutSeconds: 300,
  taskRequestTimeoutSeconds: 60,
  taskAcceptTimeoutSeconds: 2,
  heartbeatIntervalSeconds: 30,
  /** Cap on deferral / accept-timeout refreshes of one task request. */
  maxRequestTimeoutRefreshes: 3,
  /** Chunk size n8n uses to split per-item JavaScript tasks. */
  perItemChunkSize: 1000
} as const

/** Offer cadence shared by both official runners. */
export const Offers = {
  intervalMs: 250,
  validForBaseMs: 5000,
  /** `validFor` = base + a random integer in [0, jitter). */
  validForJitterMs: 500,
  /** Local validity = `validFor` + this buffer. */
  latencyBufferMs: 100,
  /** `validFor` value meaning "never expires" (used by the launcher). */
  neverExpires: -1
} as const

/** Body of the broker's `GET /healthz`. */
export const BrokerHealthBody = { status: "ok" } as const

/** Body of a runner's health check answer (any path). */
export const RunnerHealthBody = "OK"

/** Names official runners send in `runner:info`. */
export const RunnerNames = {
  javascript: "JS Task Runner",
  python: "Python Task Runner"
} as const

/** Reasons a runner sends in `runner:taskrejected`. */
export const RejectionReason = {
  offerExpired: "Offer expired - not accepted within validity window",
  atCapacity: "No open task slots - runner already at capacity",
  shuttingDown: "Runner is shutting down"
} as const

/** Reasons the broker sends in `broker:taskcancel`. */
export const CancelReason = {
  timedOut: "Task execution timed out",
  shuttingDown: "Task aborted because this n8n instance is shutting down",
  acknowledgementWindowElapsed: "Acknowledgement window elapsed",
  requestExpired: "Task request expired",
  requesterTooSlow: "Requester took too long to acknowledge the task",
  unknown: "Unknown reason",
  cancelledByUser: "Task cancelled by user",
  requestIdNotFound:
    "Request ID not found. In multi-main setup, it is possible for one of the mains to have reported ready state already."
} as const

/** WebSocket close codes the broker uses. No reason text accompanies them. */
export const CloseCode = {
  normal: 1000,
  shuttingDown: 1001,
  /** Failed heartbeat check or unresponsive runner. */
  unresponsive: 1002
} as const

/** Answers the broker gives to RPC calls it will not or cannot serve. */
export const RpcErrorText = {
  methodNotAllowed: "Method not allowed",
  methodNotFound: "Could not find method"
} as const
