import { Context, Layer } from "effect"

/** Label values of one series. */
type Labels = Readonly<Record<string, string>>

const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))

/** Label values escaped as the text format requires. */
const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const renderLabels = (labels: Labels, extra: Labels = {}) => {
  // Sorted, so a series renders the same whatever order its labels were given in.
  const all = [...Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)), ...Object.entries(extra)]
  if (all.length === 0) return ""
  return `{${all.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`
}

interface Series<V> {
  readonly labels: Labels
  value: V
}

interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge" | "histogram"
  readonly render: () => Array<string>
}

/** Durations of tasks (seconds): from 5 ms to 5 minutes. */
export const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

/** The runner's metrics, rendered in Prometheus' text format on `GET /metrics`. */
export interface MetricsShape {
  readonly counter: (name: string, help: string) => (labels?: Labels, by?: number) => void
  readonly gauge: (
    name: string,
    help: string,
    read: () => ReadonlyArray<{ readonly labels: Labels; readonly value: number }>
  ) => void
  readonly histogram: (
    name: string,
    help: string,
    buckets: ReadonlyArray<number>
  ) => (value: number, labels?: Labels) => void
  readonly render: () => string
}

const make = (): MetricsShape => {
  const families: Array<Family> = []
  return {
    counter: (name, help) => {
      const series = new Map<string, Series<number>>()
      families.push({
        name,
        help,
        type: "counter",
        render: () => [...series.values()].map((s) => `${name}${renderLabels(s.labels)} ${s.value}`)
      })
      return (labels = {}, by = 1) => {
        const k = key(labels)
        const existing = series.get(k)
        if (existing) existing.value += by
        else series.set(k, { labels, value: by })
      }
    },
    gauge: (name, help, read) => {
      families.push({
        name,
        help,
        type: "gauge",
        render: () => read().map((s) => `${name}${renderLabels(s.labels)} ${s.value}`)
      })
    },
    histogram: (name, help, buckets) => {
      const series = new Map<string, Series<{ counts: Array<number>; sum: number; count: number }>>()
      families.push({
        name,
        help,
        type: "histogram",
        render: () =>
          [...series.values()].flatMap((s) => [
            ...buckets.map((b, i) => `${name}_bucket${renderLabels(s.labels, { le: String(b) })} ${s.value.counts[i]}`),
            `${name}_bucket${renderLabels(s.labels, { le: "+Inf" })} ${s.value.count}`,
            `${name}_sum${renderLabels(s.labels)} ${s.value.sum}`,
            `${name}_count${renderLabels(s.labels)} ${s.value.count}`
          ])
      })
      return (value, labels = {}) => {
        const k = key(labels)
        let s = series.get(k)
        if (s === undefined) {
          s = { labels, value: { counts: buckets.map(() => 0), sum: 0, count: 0 } }
          series.set(k, s)
        }
        buckets.forEach((b, i) => {
          if (value <= b) s.value.counts[i]!++
        })
        s.value.sum += value
        s.value.count++
      }
    },
    render: () =>
      families.map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.render()].join("\n")).join(
        "\n"
      ) + "\n"
  }
}

/** The metrics registry. */
export class Metrics extends Context.Tag("@taskrunner/runner/Metrics")<Metrics, MetricsShape>() {
  /** An empty registry. */
  static readonly layer = Layer.sync(Metrics, make)
}
