import { Schema } from "effect"

/** One problem the static analyser found. */
export const Finding = Schema.Struct({
  line: Schema.Int,
  column: Schema.Int,
  /** A stable rule id, e.g. `denied-global`, `blocked-member`, `module`. */
  rule: Schema.String,
  message: Schema.String
})

/** One problem the static analyser found. */
export type Finding = typeof Finding.Type

/** The code does not parse. `lineNumber`/`column` are in the user's own code (1-based). */
export class CodeSyntaxError extends Schema.TaggedError<CodeSyntaxError>()("CodeSyntaxError", {
  message: Schema.String,
  lineNumber: Schema.optionalWith(Schema.Int, { exact: true }),
  column: Schema.optionalWith(Schema.Int, { exact: true })
}) {}

/** The analyser refused the code; `description` has one `Line N: ...` per finding (n8n's format). */
export class SecurityViolation extends Schema.TaggedError<SecurityViolation>()("SecurityViolation", {
  message: Schema.String,
  description: Schema.String,
  findings: Schema.Array(Finding)
}) {
  /** Builds the n8n-style error from findings. */
  static fromFindings(findings: ReadonlyArray<Finding>): SecurityViolation {
    return new SecurityViolation({
      message: "Security violations detected",
      description: findings.map((f) => `Line ${f.line}: ${f.message}`).join("\n"),
      findings
    })
  }
}

/** The analyser could not finish (too large, too deeply nested, internal failure): the code is refused. */
export class AnalysisFailed extends Schema.TaggedError<AnalysisFailed>()("AnalysisFailed", {
  message: Schema.String
}) {}

/**
 * The code threw. For JavaScript, `message` carries n8n's ` [line N]` suffix (n8n 2.41's runner
 * does not add `, for item I` in per-item mode, so neither do we).
 */
export class RuntimeError extends Schema.TaggedError<RuntimeError>()("RuntimeError", {
  message: Schema.String,
  /**
   * JS: the error type from the stack (`TypeError`), `null` for a plain `Error` or a thrown
   * non-error; absent for errors of n8n's own globals (`$('Missing')`), which n8n's runner sends
   * with their message only. Python: the description or stderr.
   */
  description: Schema.optionalWith(Schema.NullOr(Schema.String), { exact: true }),
  stack: Schema.optionalWith(Schema.String, { exact: true }),
  lineNumber: Schema.optionalWith(Schema.Int, { exact: true }),
  itemIndex: Schema.optionalWith(Schema.Int, { exact: true })
}) {}

const plural = (n: number) => (n === 1 ? "second" : "seconds")

/** The task ran past its deadline and was stopped. */
export class TimedOut extends Schema.TaggedError<TimedOut>()("TimedOut", {
  timeoutSeconds: Schema.Number
}) {
  override get message(): string {
    return `Task execution timed out after ${this.timeoutSeconds} ${plural(this.timeoutSeconds)}`
  }
}

/** The task exceeded its memory limit. */
export class OutOfMemory extends Schema.TaggedError<OutOfMemory>()("OutOfMemory", {
  limitMb: Schema.Number
}) {
  override get message(): string {
    return `The task ran out of memory (limit ${this.limitMb} MB). Process fewer items at once, or raise N8N_RUNNERS_MAX_OLD_SPACE_SIZE.`
  }
}

/** The task's process was killed by a signal it did not ask for. */
export class Killed extends Schema.TaggedError<Killed>()("Killed", {
  signal: Schema.String
}) {
  override get message(): string {
    return this.signal === "SIGKILL"
      ? "Process was forcefully killed (SIGKILL)"
      : `Process was killed by ${this.signal}`
  }
}

/** The result is larger than the payload limit. */
export class ResultTooLarge extends Schema.TaggedError<ResultTooLarge>()("ResultTooLarge", {
  bytes: Schema.Number,
  limitBytes: Schema.Number
}) {
  override get message(): string {
    return `The result is ${this.bytes} bytes; the limit is ${this.limitBytes} bytes (N8N_RUNNERS_MAX_PAYLOAD). Return fewer or smaller items.`
  }
}

/** The task's process failed outside the user's code (start-up, crash, broken channel). */
export class ProcessFailed extends Schema.TaggedError<ProcessFailed>()("ProcessFailed", {
  message: Schema.String,
  exitCode: Schema.optionalWith(Schema.NullOr(Schema.Int), { exact: true }),
  signal: Schema.optionalWith(Schema.NullOr(Schema.String), { exact: true }),
  /** The tail of what the process wrote to stderr. */
  stderr: Schema.optionalWith(Schema.String, { exact: true })
}) {}

/** Every way running a task can fail. */
export type ExecutionError =
  | CodeSyntaxError
  | SecurityViolation
  | AnalysisFailed
  | RuntimeError
  | TimedOut
  | OutOfMemory
  | Killed
  | ResultTooLarge
  | ProcessFailed
