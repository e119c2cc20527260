/**
 * The errors a Code node shows when its task fails on the broker side, with n8n's messages, and
 * the wrapping n8n applies to whatever a runner sends in `runner:taskerror`.
 */

/** An error as the Code node reports it: a message plus the fields n8n's UI shows. */
export interface NodeError {
  readonly message: string
  readonly description?: string | null
  readonly [key: string]: unknown
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`

/** No runner took the request in time (`N8N_RUNNERS_TASK_REQUEST_TIMEOUT`), or the broker is draining. */
export const taskRequestTimedOut = (waitedSeconds: number): NodeError => ({
  message: "Task request timed out",
  description:
    `Your Code node task was not matched to a runner within the timeout period (waited ${
      plural(waitedSeconds, "second")
    }). This indicates that the task runner is currently down, or not ready, or at capacity, so it cannot service your task.` +
    "<br/><br/>If many long-running Code nodes run at the same time, spread them out so a runner can take each one." +
    "<br/><br/>If needed, you can increase the timeout using the N8N_RUNNERS_TASK_REQUEST_TIMEOUT environment variable.",
  extra: { elapsedSeconds: waitedSeconds }
})

/** The broker's own task timeout fired (`N8N_RUNNERS_TASK_TIMEOUT`, external mode). */
export const taskTimedOut = (seconds: number): NodeError => ({
  message: `Task execution timed out after ${plural(seconds, "second")}`,
  description: "The task runner was taking too long on this task, so the task was aborted." +
    "<br/><br/>You can try the following:<br/>1. Make the code faster, for example by processing fewer items at once." +
    "<br/>2. Make sure the code terminates (no endless loops, no promises that never settle)." +
    "<br/>3. If needed, increase the timeout using the N8N_RUNNERS_TASK_TIMEOUT environment variable."
})

/** The task was still running when the broker's shutdown deadline came. */
export const taskAbortedByShutdown: NodeError = {
  message: "Task aborted because the n8n instance was shutting down",
  description: "The instance stopped before this task finished. Please retry the execution."
}

/** The runner's connection dropped while the task ran. */
export const nodeExecutionFailed: NodeError = {
  message: "Node execution failed",
  description: "This can happen for various reasons. Please try executing the node again." +
    " If the problem persists, process the items in smaller batches or give the task runner more memory."
}

/** The runner missed a heartbeat while the task ran. */
export const runnerUnresponsive: NodeError = {
  message: "Task execution aborted because runner became unresponsive",
  description: "The task runner did not answer the broker's heartbeat, so it was disconnected." +
    " Make sure the code does not block the runner, or raise N8N_RUNNERS_HEARTBEAT_INTERVAL."
}

/** The task was cancelled (by the user, or with another reason). */
export const taskCancelled = (reason: string): NodeError => ({ message: `Task cancelled: ${reason}` })

/** The runner sent a message for this task that the broker could not decode. */
export const malformedRunnerMessage = (detail: string): NodeError => ({
  message: "The task runner sent an invalid message",
  description: detail
})

const droppedKeys = new Set(["name", "message", "level", "shouldReport", "stack"])

/**
 * What n8n does with `runner:taskerror.error`: `message` if it is a string (else `Unknown error`),
 * plus every other own property except `name`, `message`, `level`, `shouldReport` and `stack`.
 */
export const fromRunnerError = (error: unknown): NodeError => {
  const record = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : {}
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) if (!droppedKeys.has(key)) out[key] = value
  return { message: typeof record["message"] === "string" ? record["message"] : "Unknown error", ...out }
}
