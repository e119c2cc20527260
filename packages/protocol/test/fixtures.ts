import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("./fixtures/", import.meta.url).pathname

/** A fixture file: its raw text and its canonical (compact, key order kept) JSON. */
export interface Fixture {
  readonly name: string
  readonly text: string
  readonly compact: string
}

/** Every fixture of one folder (`broker`, `runner`, `payload`), by file name without `.json`. */
export const fixtures = (folder: "broker" | "runner" | "payload"): ReadonlyMap<string, Fixture> => {
  const out = new Map<string, Fixture>()
  for (const file of readdirSync(join(root, folder)).sort()) {
    const text = readFileSync(join(root, folder, file), "utf8")
    out.set(file.replace(/\.json$/, ""), { name: file, text, compact: JSON.stringify(JSON.parse(text)) })
  }
  return out
}

/** The fixture of one file, or a failure naming the missing file. */
export const fixture = (folder: "broker" | "runner" | "payload", name: string): Fixture => {
  const found = fixtures(folder).get(name)
  if (found === undefined) throw new Error(`missing fixture ${folder}/${name}.json`)
  return found
}
