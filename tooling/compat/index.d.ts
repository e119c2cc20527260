/** The version of `@n8n/task-runner` the compatibility suite runs against. */
export declare const officialRunnerVersion: string
/** Where it is installed. */
export declare const cacheDir: string
/** Its entry point. */
export declare const officialRunnerStart: string
/** Installs it unless present; returns its entry point. */
export declare const ensureOfficialRunner: () => string
