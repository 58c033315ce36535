import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../../env";
import type { Role } from "../../roles";

/**
 * Tokens that are not expired, at most (issue 9 "Scoped API tokens": automation needs a handful; a cap
 * keeps a leaked admin token from minting thousands). Expired tokens do not count; revoked ones are gone.
 */
export const MAX_LIVE_TOKENS = 100;
/** An expired token stays listed this long (so an admin sees why automation stopped), then is purged. */
export const EXPIRED_TOKEN_KEPT_DAYS = 30;
/**
 * `lastUsedAt` is written at most once a minute per token: a busy automation does not turn every call into
 * a storage write, and the listing is still accurate to the minute.
 */
export const LAST_USED_GRANULARITY_MS = 60_000;

/** A token as listed: never its secret nor its hash. */
export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export interface NewToken {
  id: string;
  /** SHA-256 of the whole token (hex): the only form stored. */
  hash: string;
  name: string;
  role: Role;
  createdBy: string;
  expiresAt: string | null;
}

type Row = {
  id: string;
  hash: string;
  name: string;
  role: Role;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  last_used_at: number | null;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const toInfo = (r: Row): TokenInfo => ({
  id: r.id,
  name: r.name,
  role: r.role,
  createdAt: new Date(r.created_at).toISOString(),
  createdBy: r.created_by,
  expiresAt: iso(r.expires_at),
  lastUsedAt: iso(r.last_used_at),
});

/** Why a token was refused at creation. */
export type CreateRefused = { refused: "full" | "name_taken" };
/** Why a presented token does not authenticate (the caller gets one 401; the reason goes to the record). */
export type AuthRefused = { refused: "unknown or revoked token" | "expired token" };

/**
 * The scoped API tokens, in one Durable Object (`getByName("tokens")`): strongly consistent, so a token
 * revoked a moment ago fails on the very next call (KV could serve it for up to 60 s). Only the SHA-256 of
 * each token is stored. The methods are synchronous: each runs alone in the object.
 */
export class TokenStore extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS tokens (
      id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL,
      created_at INTEGER NOT NULL, created_by TEXT NOT NULL, expires_at INTEGER, last_used_at INTEGER)`);
  }

  /** Stores a new token unless the live ones are at the cap or one of them has this name. */
  create(token: NewToken): TokenInfo | CreateRefused {
    const now = Date.now();
    this.sql.exec(
      "DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= ?",
      now - EXPIRED_TOKEN_KEPT_DAYS * 86_400_000,
    );
    const live = "(expires_at IS NULL OR expires_at > ?)";
    const taken = this.sql
      .exec<{ n: number }>(`SELECT count(*) AS n FROM tokens WHERE name = ? AND ${live}`, token.name, now)
      .one().n;
    if (taken > 0) return { refused: "name_taken" };
    const count = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM tokens WHERE ${live}`, now).one().n;
    if (count >= MAX_LIVE_TOKENS) return { refused: "full" };
    const row = this.sql
      .exec<Row>(
        `INSERT INTO tokens (id, hash, name, role, created_at, created_by, expires_at, last_used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, NULL) RETURNING *`,
        token.id,
        token.hash,
        token.name,
        token.role,
        now,
        token.createdBy,
        token.expiresAt === null ? null : Date.parse(token.expiresAt),
      )
      .one();
    return toInfo(row);
  }

  /** Every token, newest first (expired ones too, until purged). */
  list(): TokenInfo[] {
    return this.sql.exec<Row>("SELECT * FROM tokens ORDER BY created_at DESC, id").toArray().map(toInfo);
  }

  /** Removes a token: the next call with it is refused. The removed token, or undefined for an unknown id. */
  revoke(id: string): TokenInfo | undefined {
    const row = this.sql.exec<Row>("DELETE FROM tokens WHERE id = ? RETURNING *", id).toArray()[0];
    return row ? toInfo(row) : undefined;
  }

  /** The token with this hash if it is live, recording its use. */
  authenticate(hash: string): TokenInfo | AuthRefused {
    const now = Date.now();
    const row = this.sql.exec<Row>("SELECT * FROM tokens WHERE hash = ?", hash).toArray()[0];
    if (!row) return { refused: "unknown or revoked token" };
    if (row.expires_at !== null && row.expires_at <= now) return { refused: "expired token" };
    if (row.last_used_at === null || row.last_used_at <= now - LAST_USED_GRANULARITY_MS) {
      this.sql.exec("UPDATE tokens SET last_used_at = ? WHERE id = ?", now, row.id);
      row.last_used_at = now;
    }
    return toInfo(row);
  }
}

/** The store: one instance, strongly consistent (a revoked token fails on the next call). */
export const tokenStore = (env: Bindings) => env.TOKENS.getByName("tokens");
