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
