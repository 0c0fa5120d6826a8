/**
 * `npm run tidemark -- <command>`: the admin CLI of docs/design.md.
 *
 * A thin edge: parse the flags, validate them with the server's own schemas,
 * call one server function, print. Results go to stdout as JSON, one object
 * per line (written with backpressure, so an export of millions of items
 * streams in bounded memory). Everything else goes to stderr: progress lines
 * of the start-up, the usage text (exit 2: unknown command, unknown or
 * missing flag, `help`) and errors as one JSON line {"error":{"code","message"}}
 * (exit 1), never a stack.
 *
 * Flags are checked before anything starts. Server modules are imported only
 * after bootstrap(), because server/env.ts reads DATABASE_URL when first
 * imported and bootstrap may set it (the embedded PostgreSQL).
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { z } from "zod";
// Client-safe schemas (zod only): importing them reads no configuration, so they may load before bootstrap().
import { DEFAULT_ROTATION_GRACE_HOURS, MAX_ROTATION_GRACE_HOURS, ZCreateTenantInput, ZGraceHours, ZQuotas, ZTenantSlug } from "../schemas/tenant.ts";
import { ZCreateUserInput } from "../schemas/user.ts";
import { ZSetSourceInput, ZSourceUrl } from "../schemas/source.ts";
import { ALERT_RULES, ZAlertRuleName, ZSetAlertRuleInput } from "../schemas/alert.ts";
import { findUnstorable } from "../schemas/text.ts";
import { BootstrapError, bootstrap, type Bootstrapped } from "./bootstrap.ts";

// Results own stdout; the server's log lines go to stderr.
process.env.LOG_DESTINATION ??= "stderr";

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
type Options = NonNullable<ParseArgsConfig["options"]>;

interface Command {
  synopsis: string;
  options: Options;
  required: string[];
  run(values: Values, boot: Bootstrapped): Promise<void>;
}

class UsageError extends Error {
  override name = "UsageError";
}

/** The end of stdout was closed (e.g. piped into `head`): stop quietly. */
class OutputClosed extends Error {
  override name = "OutputClosed";
}

let stdoutError: Error | null = null;
process.stdout.on("error", (error) => {
  stdoutError = error;
});

/** Where result lines go: stdout, unless a test runs commands in process (runCommand). */
let capture: ((line: string) => void) | null = null;

async function emit(record: object): Promise<void> {
  if (capture) return capture(JSON.stringify(record));
  if (stdoutError) throw new OutputClosed();
  if (process.stdout.write(`${JSON.stringify(record)}\n`)) return;
  await new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      process.stdout.off("error", onError);
      resolve();
    };
    const onError = () => {
      process.stdout.off("drain", onDrain);
      reject(new OutputClosed());
    };
    process.stdout.once("drain", onDrain);
    process.stdout.once("error", onError);
  });
}

const say = (line: string) => process.stderr.write(`tidemark: ${line}\n`);

// --- flag values -------------------------------------------------------------

const text = (values: Values, flag: string): string | undefined => values[flag] as string | undefined;

/**
 * A numeric flag as a number for zod to judge. Anything that is not a plain
 * number becomes NaN, which the schema rejects naming the flag.
 */
function numeric(values: Values, flag: string): number | undefined {
  const raw = text(values, flag);
  if (raw === undefined) return undefined;
  return raw.trim() === "" ? Number.NaN : Number(raw);
}

/** `--daily-quota none` lifts the quota; a number sets it. */
function dailyQuota(values: Values): number | null | undefined {
  return text(values, "daily-quota")?.trim().toLowerCase() === "none" ? null : numeric(values, "daily-quota");
}

/** Input field → the flag it came from, so validation messages speak in flags. */
const FLAG_OF_FIELD: Record<string, string> = {
  slug: "slug",
  name: "name",
  ratePerSecond: "rate",
  burst: "burst",
  dailyQuota: "daily-quota",
  weight: "weight",
  maxConcurrency: "max-concurrency",
  retentionDays: "retention-days",
  graceHours: "grace-hours",
  tenant: "tenant",
  email: "email",
  role: "role",
  password: "password",
  tenantSlugs: "tenant",
  url: "url",
  token: "token",
  intervalMs: "interval-ms",
  pageSize: "page-size",
  itemUrl: "item-url",
  rule: "rule",
  above: "above",
  windowMs: "window-ms",
};

/** Flags whose values are never echoed in a message. */
const SECRET_FLAGS = new Set(["password", "token"]);

function describeZodError(error: z.ZodError, values: Values): string {
  return error.issues
    .map((issue) => {
      const field = String(issue.path[0] ?? "");
      const flag = FLAG_OF_FIELD[field];
      if (!flag) return issue.message;
      // A non-numeric value reached zod as NaN; "expected number, received NaN" would puzzle.
      const message = issue.code === "invalid_type" && issue.expected === "number" ? "must be a number" : issue.message;
      const given = values[flag];
      // Passwords and tokens are never echoed back.
      const shown = given === undefined || SECRET_FLAGS.has(flag) ? "" : ` (got ${JSON.stringify(given)})`;
      return `--${flag}: ${message}${shown}`;
    })
    .join("; ");
}

// --- commands ----------------------------------------------------------------

const QUOTA_OPTIONS = {
  rate: { type: "string" },
  burst: { type: "string" },
  weight: { type: "string" },
  "daily-quota": { type: "string" },
  "max-concurrency": { type: "string" },
  "retention-days": { type: "string" },
} as const satisfies Options;

const QUOTA_SYNOPSIS = "[--rate R] [--burst B] [--weight W] [--daily-quota Q|none] [--max-concurrency C] [--retention-days D]";

function quotasFrom(values: Values) {
  return {
    ratePerSecond: numeric(values, "rate"),
    burst: numeric(values, "burst"),
    weight: numeric(values, "weight"),
    dailyQuota: dailyQuota(values),
    maxConcurrency: numeric(values, "max-concurrency"),
    retentionDays: numeric(values, "retention-days"),
  };
}

/** Drops the keys whose flag was not given, so "not given" never reads as "set to nothing". */
function given<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<T>;
}

async function tenantIdOf(slug: string | undefined): Promise<number> {
  const { findTenant } = await import("../tenants/service.ts");
  const tenant = await findTenant(z.object({ tenant: ZTenantSlug }).parse({ tenant: slug }).tenant);
  return tenant.id;
}

/** A flag given as "" removes the value (`--token ""`); absent keeps it. */
function orNull(values: Values, flag: string): string | null | undefined {
  const raw = text(values, flag);
  return raw === undefined ? undefined : raw === "" ? null : raw;
}

async function namedTenant(values: Values): Promise<{ id: number; slug: string }> {
  const slug = text(values, "tenant");
  return { id: await tenantIdOf(slug), slug: slug as string };
}

const TENANT_ONLY = { tenant: { type: "string" } } as const satisfies Options;

const COMMANDS: Record<string, Command> = {
  "tenant create": {
    synopsis: `tenant create --slug S [--name N] ${QUOTA_SYNOPSIS}`,
    options: { slug: { type: "string" }, name: { type: "string" }, ...QUOTA_OPTIONS },
    required: ["slug"],
    async run(values) {
      const { createTenant } = await import("../tenants/service.ts");
      const input = ZCreateTenantInput.parse(given({ slug: text(values, "slug"), name: text(values, "name"), ...quotasFrom(values) }));
      const { tenant, secret } = await createTenant(input);
      const { slug, ...rest } = tenant;
      await emit({ slug, secret, ...rest });
    },
  },
  "tenant list": {
    synopsis: "tenant list",
    options: {},
    required: [],
    async run() {
      const { listTenants } = await import("../tenants/service.ts");
      for (const tenant of await listTenants()) await emit(tenant);
    },
  },
  "tenant rotate-secret": {
    synopsis: `tenant rotate-secret --slug S [--grace-hours H]   (0–${MAX_ROTATION_GRACE_HOURS}, default ${DEFAULT_ROTATION_GRACE_HOURS}: the old secret keeps verifying for H hours)`,
    options: { slug: { type: "string" }, "grace-hours": { type: "string" } },
    required: ["slug"],
    async run(values) {
      const { rotateSecret } = await import("../tenants/service.ts");
      const input = z
        .object({ slug: ZTenantSlug, graceHours: ZGraceHours.default(DEFAULT_ROTATION_GRACE_HOURS) })
        .parse(given({ slug: text(values, "slug"), graceHours: numeric(values, "grace-hours") }));
      const { secret, previousValidUntil } = await rotateSecret(input.slug, Math.round(input.graceHours * 3_600_000));
      await emit({ slug: input.slug, secret, previousValidUntil });
    },
  },
  "tenant set-quotas": {
    synopsis: `tenant set-quotas --slug S ${QUOTA_SYNOPSIS}`,
    options: { slug: { type: "string" }, ...QUOTA_OPTIONS },
    required: ["slug"],
    async run(values) {
      const { updateQuotas } = await import("../tenants/service.ts");
      const quotas = given(quotasFrom(values));
      if (Object.keys(quotas).length === 0)
        throw new UsageError("tenant set-quotas needs at least one of --rate, --burst, --weight, --daily-quota, --max-concurrency, --retention-days");
      const input = ZQuotas.partial()
        .extend({ slug: ZTenantSlug })
        .parse({ slug: text(values, "slug"), ...quotas });
      const { slug, ...changes } = input;
      await emit(await updateQuotas(slug, changes));
    },
  },
  "items export": {
    synopsis: "items export --tenant S [--include-deleted]   (one line per item, by id; tombstones only with --include-deleted)",
    options: { tenant: { type: "string" }, "include-deleted": { type: "boolean" } },
    required: ["tenant"],
    async run(values) {
      const { exportItems } = await import("../items/export.ts");
      const tenantId = await tenantIdOf(text(values, "tenant"));
      for await (const item of exportItems(tenantId, { includeDeleted: values["include-deleted"] === true })) await emit(item);
    },
  },
  backlog: {
    synopsis: "backlog --tenant S   (pending, processing and dead events, and the oldest pending event's age)",
    options: { tenant: { type: "string" } },
    required: ["tenant"],
    async run(values) {
      const { getBacklog } = await import("../stats/backlog.ts");
      await emit(await getBacklog(await tenantIdOf(text(values, "tenant"))));
    },
  },
  "events dead": {
    synopsis: "events dead --tenant S   (dead events: failed their last attempt; kept with their error)",
    options: { tenant: { type: "string" } },
    required: ["tenant"],
    async run(values) {
      const { listDead } = await import("../worker/dead-letters.ts");
      const tenantId = await tenantIdOf(text(values, "tenant"));
      for (let afterId = 0; ;) {
        const page = await listDead(tenantId, { afterId, limit: 1_000 });
        for (const { id: _id, ...event } of page) await emit(event);
        if (page.length < 1_000) return;
        afterId = (page[page.length - 1] as { id: number }).id;
      }
    },
  },
  "events replay": {
    synopsis: "events replay --tenant S [--event-id ID]...   (dead events back to the queue: all, or those named)",
    options: { tenant: { type: "string" }, "event-id": { type: "string", multiple: true } },
    required: ["tenant"],
    async run(values) {
      const { replayDead } = await import("../worker/dead-letters.ts");
      const tenantId = await tenantIdOf(text(values, "tenant"));
      const eventIds = values["event-id"] as string[] | undefined;
      await emit({ tenant: text(values, "tenant"), replayed: await replayDead(tenantId, eventIds) });
    },
  },
  "source set": {
    synopsis:
      'source set --tenant S --url U [--token T] [--interval-ms N] [--page-size N] [--item-url U]   (the source, never the token; on a change, omitted flags keep their value and "" removes the token or item URL)',
    options: {
      tenant: { type: "string" },
      url: { type: "string" },
      token: { type: "string" },
      "interval-ms": { type: "string" },
      "page-size": { type: "string" },
      "item-url": { type: "string" },
    },
    required: ["tenant", "url"],
    async run(values) {
      const { setSource } = await import("../collector/sources.ts");
      const input = ZSetSourceInput.parse(
        given({
          url: text(values, "url"),
          token: orNull(values, "token"),
          intervalMs: numeric(values, "interval-ms"),
          pageSize: numeric(values, "page-size"),
          itemUrl: orNull(values, "item-url"),
        }),
      );
      await emit(await setSource(await namedTenant(values), input));
    },
  },
  "source status": {
    synopsis: "source status --tenant S   (cursor, pause, last fetch and success, last error, failures in a row, events stored, pages committed)",
    options: TENANT_ONLY,
    required: ["tenant"],
    async run(values) {
      const { requireSourceStatus } = await import("../collector/sources.ts");
      await emit(await requireSourceStatus(await namedTenant(values)));
    },
  },
  "source pause": {
    synopsis: "source pause --tenant S   (no fetch until resumed)",
    options: TENANT_ONLY,
    required: ["tenant"],
    async run(values) {
      const { pauseSource } = await import("../collector/sources.ts");
      await emit(await pauseSource(await namedTenant(values)));
    },
  },
  "source resume": {
    synopsis: "source resume --tenant S",
    options: TENANT_ONLY,
    required: ["tenant"],
    async run(values) {
      const { resumeSource } = await import("../collector/sources.ts");
      await emit(await resumeSource(await namedTenant(values)));
    },
  },
  "source remove": {
    synopsis: "source remove --tenant S   (the source and its cursor; stored events stay)",
    options: TENANT_ONLY,
    required: ["tenant"],
    async run(values) {
      const { removeSource } = await import("../collector/sources.ts");
      await emit(await removeSource(await namedTenant(values)));
    },
  },
  "alert target": {
    synopsis: "alert target --url U   (where alerts are POSTed, signed as Standard Webhooks; prints a new whsec_ secret, shown once)",
    options: { url: { type: "string" } },
    required: ["url"],
    async run(values) {
      const { setAlertTarget } = await import("../alerts/target.ts");
      const { url } = z.object({ url: ZSourceUrl }).parse({ url: text(values, "url") });
      await emit(await setAlertTarget(url));
    },
  },
  "alert set": {
    synopsis: `alert set --tenant S --rule R --above X [--window-ms W]   (R: ${ALERT_RULES.join(", ")}; fires when the value is above X)`,
    options: { tenant: { type: "string" }, rule: { type: "string" }, above: { type: "string" }, "window-ms": { type: "string" } },
    required: ["tenant", "rule", "above"],
    async run(values) {
      const { setAlertRule } = await import("../alerts/rules.ts");
      const input = ZSetAlertRuleInput.parse(given({ rule: text(values, "rule"), above: numeric(values, "above"), windowMs: numeric(values, "window-ms") }));
      await emit(await setAlertRule(await namedTenant(values), input));
    },
  },
  "alert list": {
    synopsis: 'alert list --tenant S   (one line per rule, with "state": "ok" or "firing")',
    options: TENANT_ONLY,
    required: ["tenant"],
    async run(values) {
      const { listAlertRules } = await import("../alerts/rules.ts");
      for (const rule of await listAlertRules(await namedTenant(values))) await emit(rule);
    },
  },
  "alert remove": {
    synopsis: "alert remove --tenant S --rule R   (a firing alert of the rule resolves)",
    options: { tenant: { type: "string" }, rule: { type: "string" } },
    required: ["tenant", "rule"],
    async run(values) {
      const { removeAlertRule } = await import("../alerts/rules.ts");
      const { rule } = z.object({ rule: ZAlertRuleName }).parse({ rule: text(values, "rule") });
      await emit(await removeAlertRule(await namedTenant(values), rule));
    },
  },
  "secrets rotate-key": {
    synopsis:
      "secrets rotate-key   (re-encrypts every stored secret under TIDEMARK_SECRET_KEY, opening old values with TIDEMARK_PREVIOUS_SECRET_KEY; on the embedded default, under a new key it generates in .data/secret.key)",
    options: {},
    required: [],
    async run(_values, boot) {
      if (boot.secretKeyFile && boot.embedded && !boot.embedded.owned) {
        // The running app holds the old key in memory and could not read what is sealed under the new one.
        const { AppError } = await import("../errors.ts");
        throw new AppError("conflict", "the embedded PostgreSQL is in use (is `npm start` running?): stop the app, rotate the key, then start it again");
      }
      const { rotateSecretKey } = await import("../secrets/rotate.ts");
      await emit(await rotateSecretKey(boot.secretKeyFile));
    },
  },
  "user create": {
    synopsis: "user create --email E --role admin|viewer [--tenant S]... [--password P]   (no --password: one is generated and shown once)",
    options: { email: { type: "string" }, role: { type: "string" }, tenant: { type: "string", multiple: true }, password: { type: "string" } },
    required: ["email", "role"],
    async run(values) {
      const { createUser } = await import("../auth/users.ts");
      const input = ZCreateUserInput.parse(
        given({ email: text(values, "email"), role: text(values, "role"), password: text(values, "password"), tenantSlugs: values.tenant }),
      );
      const user = await createUser(input);
      await emit({ id: user.id, email: user.email, role: user.role, ...(user.generatedPassword ? { password: user.generatedPassword } : {}) });
    },
  },
};

const USAGE = [
  "usage: npm run tidemark -- <command> [flags]",
  "",
  "Prints JSON on stdout, one object per line. Exit status: 0 done, 1 error (one JSON line on stderr), 2 usage.",
  "",
  "commands:",
  ...Object.values(COMMANDS).map((command) => `  ${command.synopsis}`),
  "  help",
  "",
].join("\n");

// --- parsing and running -----------------------------------------------------

interface Invocation {
  command: Command;
  values: Values;
}

function parseInvocation(argv: string[]): Invocation | "help" {
  const [first, second] = argv;
  if (first === undefined || ["help", "--help", "-h"].includes(first)) return "help";
  const name = COMMANDS[first] ? first : `${first} ${second ?? ""}`.trim();
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  const rest = argv.slice(name.split(" ").length);
  if (rest.includes("--help") || rest.includes("-h")) return "help";
  let values: Values;
  try {
    ({ values } = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: false }));
  } catch (error) {
    // parseArgs' own messages are precise ("Unknown option '--x'"), but mention the command.
    throw new UsageError(`${name}: ${(error as Error).message}`);
  }
  const missing = command.required.filter((flag) => values[flag] === undefined);
  if (missing.length > 0) throw new UsageError(`${name}: missing ${missing.map((flag) => `--${flag}`).join(", ")}`);
  // Text the database cannot hold (a lone surrogate; NUL, where argv can carry it) is refused naming the flag, before anything starts.
  const unstorable = findUnstorable(values);
  if (unstorable) throw new UsageError(`${name}: --${String(unstorable.path[0])}: ${unstorable.message}`);
  return { command, values };
}

interface ErrorLine {
  code: string;
  message: string;
}

async function describeError(error: unknown, values: Values = {}): Promise<ErrorLine> {
  if (error instanceof z.ZodError) return { code: "validation_failed", message: describeZodError(error, values) };
  if (error instanceof BootstrapError) return { code: error.code, message: error.message };
  const { AppError, isDatabaseUnavailable } = await import("../errors.ts");
  if (error instanceof AppError) return { code: error.code, message: error.message };
  if (isDatabaseUnavailable(error)) return { code: "unavailable", message: `the database is unavailable: ${(error as Error).message}` };
  return { code: "internal", message: error instanceof Error ? error.message : String(error) };
}

/**
 * Runs one invocation in this process, after bootstrap, on the server's own
 * clients (left open): what `main` runs between start-up and shut-down, for
 * tests that sweep the flags. Result lines go to `lines`; returns the exit
 * status and, for 1, the error line.
 */
export async function runCommand(argv: string[], lines: string[] = [], boot: Bootstrapped = callerBoot()): Promise<{ code: 0 | 1 | 2; error?: ErrorLine }> {
  let invocation: Invocation | "help";
  try {
    invocation = parseInvocation(argv);
  } catch (error) {
    if (error instanceof UsageError) return { code: 2 };
    throw error;
  }
  if (invocation === "help") return { code: 2 };
  capture = (line) => lines.push(line);
  try {
    await invocation.command.run(invocation.values, boot);
    return { code: 0 };
  } catch (error) {
    if (error instanceof UsageError) return { code: 2 };
    return { code: 1, error: await describeError(error, invocation.values) };
  } finally {
    capture = null;
  }
}

async function main(argv: string[]): Promise<number> {
  let invocation: Invocation | "help";
  try {
    invocation = parseInvocation(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`tidemark: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (invocation === "help") {
    process.stderr.write(USAGE);
    return 2;
  }

  let boot: Bootstrapped;
  try {
    boot = await bootstrap({ announce: say });
  } catch (error) {
    process.stderr.write(`${JSON.stringify({ error: await describeError(error) })}\n`);
    return 1;
  }
  try {
    await invocation.command.run(invocation.values, boot);
    return 0;
  } catch (error) {
    if (error instanceof OutputClosed) return 0;
    if (error instanceof UsageError) {
      process.stderr.write(`tidemark: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`${JSON.stringify({ error: await describeError(error, invocation.values) })}\n`);
    return 1;
  } finally {
    const { closeDatabase } = await import("../db.ts");
    await closeDatabase();
    await boot.shutdown();
  }
}

/** The caller's own database and key (its environment), nothing for runCommand to stop. */
function callerBoot(): Bootstrapped {
  return { databaseUrl: process.env.DATABASE_URL ?? "", embedded: null, secretKeyFile: null, shutdown: () => Promise.resolve() };
}

/** Resolves once everything written so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stdoutError) resolve();
    else stream.write("", () => resolve());
  });
}

// Run as the entry point only: a test imports runCommand without running (or exiting) anything.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const code = await main(process.argv.slice(2)).catch(async (error: unknown) => {
    process.stderr.write(`${JSON.stringify({ error: await describeError(error) })}\n`);
    return 1;
  });
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
