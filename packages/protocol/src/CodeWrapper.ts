/**
 * How Code-node JavaScript is run: as the body of an async function, so top-level `await` and
 * `return` work. Not strict, as in n8n's runner: snippets that assign undeclared variables
 * (`for (item of items)`) work there, so they must work here. The analyser parses exactly this text and the executor compiles it,
 * so both see the same program; user line N is line N + `lineOffset` of the wrapped text.
 */
export const JsCodeWrapper = {
  prefix: "async function VmCodeWrapper() {\n",
  suffix: "\n}",
  lineOffset: 1
} as const

/** The user's code wrapped for parsing or compiling (a function declaration). */
export const wrapJavaScript = (code: string): string => `${JsCodeWrapper.prefix}${code}${JsCodeWrapper.suffix}`

/** A line of the wrapped program as the user's line (at least 1). */
export const userLine = (wrappedLine: number): number => Math.max(1, wrappedLine - JsCodeWrapper.lineOffset)
