/**
 * `@taskrunner/protocol`: every message between an n8n task broker and a task runner as Effect
 * Schemas, the codec that turns WebSocket frames into them, and the protocol's exact strings.
 */

/** Messages a broker sends to a runner. */
export * as BrokerMessage from "./BrokerMessage.js"

/** Exact strings, paths and defaults. */
export * from "./Constants.js"

/** Data requests (JavaScript tasks) and the broker's answer. */
export * as DataRequest from "./DataRequest.js"

/** Opaque JSON passed through untouched. */
export * from "./JsonText.js"

export * from "./JsonValue.js"

/** Decoding/encoding errors. */
export * from "./MalformedFrame.js"

/** Frames to messages and back. */
export * as MessageCodec from "./MessageCodec.js"

/** RPC names. */
export * as RpcMethod from "./RpcMethod.js"

/** Messages a runner sends to a broker. */
export * as RunnerMessage from "./RunnerMessage.js"

/** `runner:taskerror.error`. */
export * from "./TaskErrorPayload.js"

/** `runner:taskdone.data`. */
export * from "./TaskResultData.js"

/** Task settings per task type. */
export * as TaskSettings from "./TaskSettings.js"

/** n8n's environment conventions (`<NAME>_FILE`, quotes). */
export * from "./N8nEnv.js"

/** How Code-node JavaScript is wrapped for parsing and running. */
export * from "./CodeWrapper.js"

/** Errors of analysing and running a task's code. */
export * from "./TaskErrors.js"

/** Messages on the pipe between the runner and a task's child process. */
export * as WorkerMessage from "./WorkerMessage.js"
