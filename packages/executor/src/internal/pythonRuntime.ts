import { Either } from "effect"
import { spawnSync } from "node:child_process"
import { accessSync, constants, realpathSync } from "node:fs"

/** A usable CPython: where it is, and the folders it loads its standard library from. */
export interface PythonRuntime {
  /** The interpreter's real path (so the jail can bind it). */
  readonly path: string
  readonly version: string
  /** Standard library folders (bound read-only into the jail). */
  readonly stdlib: ReadonlyArray<string>
  /** Folders of installed packages (bound only when external packages are allowed). */
  readonly sitePackages: ReadonlyArray<string>
}

const candidates = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]

const probe = `import json, sys, sysconfig
paths = sysconfig.get_paths()
site = sorted({p for p in sys.path if p.endswith(("site-packages", "dist-packages"))} | {paths["purelib"], paths["platlib"]})
print(json.dumps({"version": list(sys.version_info[:3]), "stdlib": sorted({paths["stdlib"], paths["platstdlib"]}), "site": site}))`

/**
 * Finds Python >= 3.10: the configured interpreter, or the system's (not one from PATH, which the
 * runner's environment controls). Left: why Python tasks cannot be offered.
 */
export const detectPython = (configured: string | undefined): Either.Either<PythonRuntime, string> => {
  const tried: Array<string> = []
  for (const path of configured === undefined ? candidates : [configured]) {
    try {
      accessSync(path, constants.X_OK)
    } catch {
      tried.push(`${path}: not found`)
      continue
    }
    const run = spawnSync(path, ["-I", "-c", probe], { encoding: "utf8", timeout: 10_000, env: {} })
    if (run.status !== 0) {
      tried.push(`${path}: does not start (${(run.stderr ?? "").trim().split("\n").at(-1) ?? run.error?.message})`)
      continue
    }
    const info = JSON.parse(run.stdout) as {
      version: [number, number, number]
      stdlib: Array<string>
      site: Array<string>
    }
    const [major, minor] = info.version
    if (major < 3 || (major === 3 && minor < 10)) {
      tried.push(`${path}: Python ${info.version.join(".")} is older than 3.10`)
      continue
    }
    return Either.right({
      path: realpathSync(path),
      version: info.version.join("."),
      stdlib: info.stdlib,
      sitePackages: info.site
    })
  }
  return Either.left(`no Python 3.10 or newer (${tried.join("; ")})`)
}
