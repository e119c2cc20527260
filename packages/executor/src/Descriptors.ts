import { closeSync, readdirSync, readFileSync } from "node:fs"

/** `O_CLOEXEC` in the octal `flags:` of /proc/<pid>/fdinfo. */
const closeOnExec = 0o2000000

/**
 * Closes the file descriptors this process inherited from its parent (besides stdin, stdout and
 * stderr), so no jailed child inherits them in turn: Node passes every descriptor not marked
 * close-on-exec to the processes it spawns, and a task could write to (or read from) whatever
 * its grandparent left open. Node and libuv open all of their own descriptors close-on-exec, so
 * those without the flag are the inherited ones. `keep` survives (e.g. Node's IPC channel).
 * Returns the descriptors closed. Linux only (elsewhere there is no /proc and nothing is done).
 */
export const closeInheritedDescriptors = (keep: ReadonlyArray<number> = []): ReadonlyArray<number> => {
  let entries: Array<string>
  try {
    entries = readdirSync("/proc/self/fd")
  } catch {
    return []
  }
  const closed: Array<number> = []
  for (const entry of entries) {
    const fd = Number(entry)
    if (!Number.isInteger(fd) || fd < 3 || keep.includes(fd)) continue
    let flags: number
    try {
      const line = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").split("\n").find((l) => l.startsWith("flags:"))
      flags = Number.parseInt(line?.slice("flags:".length).trim() ?? "", 8)
    } catch {
      continue // the descriptor readdir itself used, already closed again
    }
    if (Number.isNaN(flags) || (flags & closeOnExec) !== 0) continue
    try {
      closeSync(fd)
      closed.push(fd)
    } catch {
      // closed meanwhile
    }
  }
  return closed
}
