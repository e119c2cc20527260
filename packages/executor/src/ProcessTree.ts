import type { ChildProcess } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

/**
 * The processes below `root` (children, grandchildren, ...), from `/proc`. Jailed task processes
 * run in new sessions and process groups, so a group kill does not reach them; walking the tree
 * does, also while the jail is still being set up. Empty where `/proc` is not available.
 */
export const descendantsOf = (root: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return []
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The command name may contain spaces and parentheses: the fields start after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      const list = children.get(parent)
      if (list === undefined) children.set(parent, [Number(entry)])
      else list.push(Number(entry))
    } catch {
      // gone already
    }
  }
  const out: Array<number> = []
  const stack = [root]
  while (stack.length > 0) {
    for (const child of children.get(stack.pop()!) ?? []) {
      out.push(child)
      stack.push(child)
    }
  }
  return out
}

/** Resident memory of `pids`, in bytes. */
export const residentBytes = (pids: ReadonlyArray<number>): number => {
  let bytes = 0
  for (const pid of pids) {
    try {
      bytes += Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096
    } catch {
      // gone already
    }
  }
  return bytes
}

/**
 * Stops a process and everything it started: SIGTERM to the process, its group and every
 * descendant, then SIGKILL to all of them (and any descendant found by then) after `graceMs`.
 * Resolves once `exited` does.
 */
export const killTree = <A>(root: number | undefined, exited: Promise<A>, graceMs: number): Promise<A> => {
  if (root === undefined) return exited
  const known = new Set<number>([root, ...descendantsOf(root)])
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of descendantsOf(root)) known.add(pid)
    for (const target of [-root, ...known]) {
      try {
        process.kill(target, sig)
      } catch {
        // gone already
      }
    }
  }
  signal("SIGTERM")
  const timer = setTimeout(() => signal("SIGKILL"), graceMs)
  void exited.then(() => {
    clearTimeout(timer)
    // Anything that outlived its parent still goes.
    for (const pid of known) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone already
      }
    }
  })
  return exited
}

/**
 * When a child has exited: on `exit`, giving its output streams a moment to drain. (`close` alone
 * can wait forever when an orphaned descendant still holds one of its pipes.)
 */
export const exitOf = (child: ChildProcess, drainMs = 200) =>
  new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) => {
    let result: { code: number | null; signal: NodeJS.Signals | null } | undefined
    child.on("exit", (code, signal) => {
      result = { code, signal }
      setTimeout(() => resolve(result!), drainMs)
    })
    child.on("close", (code, signal) => resolve(result ?? { code, signal }))
    child.on("error", () => resolve(result ?? { code: null, signal: null }))
  })
