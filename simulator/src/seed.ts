/**
 * Test data: the demo tenant (fixed, readable) and a deterministic generator for bulk users and shares.
 * Ids come from counters so they are unique; content comes from a seeded PRNG so a seed always yields
 * the same tenant.
 */
import { mulberry32 } from "./faults";
import { MAX_SHARE_IDS_IN_SEED_RESPONSE, SHARE_LINK_HOST, USER_ID_PATTERN } from "./limits";
import type { NewShare, Recipient, Recipients, ShareFile, Store, UserRow } from "./store";
import { setHandoverRecipient } from "./tasks";

/** First share id handed out after a reset: the id in the doc's worked example [api.md]. */
const SHARE_ID_BASE = 1689759841444195840n;
/** Generated user ids start here (above the demo users' ids). */
const USER_ID_BASE = 1505084218764600000n;
const DAY_MS = 86_400_000;
/** Generated shares are dated in the year before this instant (fixed, so seeds are reproducible). */
const GEN_EPOCH_MS = Date.UTC(2026, 10, 1);
/** Valid generated shares expire after this instant. */
const GEN_VALID_UNTIL_MS = Date.UTC(2027, 10, 1);

export const DEMO_ADMIN_ID = "1505084218764547200";
export const DEMO_LEAVER_ID = "1505084218764547201";
/** The leaver's share count in the demo tenant. */
const DEMO_LEAVER_SHARES = 36;

/** One share named by the test, e.g. a hostile display name for CSV export tests. */
export interface ShareSpec {
  displayName: string;
  /** 1 anyone with the link, 2 enterprise users, 3 specified users [api.md "List"]; default: `scopes` cycled. */
  scope?: number;
  /** Expired (status 2) instead of valid (status 0, the default for named shares). */
  expired?: boolean;
}

export interface UserSpec {
  userId?: string;
  name: string;
  /** A count of generated shares, or the shares themselves (in this order). */
  shares?: number | ShareSpec[];
  scopes?: number[];
  deptName?: string;
  /** The recipient KooDrive's admin configured for this user's data (`GET /task/dstUserInfo/{userId}`). */
  handoverTo?: string;
}

export interface SeededUser {
  userId: string;
  name: string;
  shareCount: number;
  shareIds?: string[];
}

const WORDS = [
  "Budget",
  "Roadmap",
  "Contract",
  "Design",
  "Invoice",
  "Report",
  "Roster",
  "Pitch",
  "Audit",
  "Specs",
];
const EXTS = [
  ["xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
  ["pdf", "application/pdf"],
  ["docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
  ["png", "image/png"],
] as const;

function makeUser(userId: string, name: string, deptName: string, n: number, role = 0): UserRow {
  const deptId = `d-${deptName.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return {
    user_id: userId,
    id: `ext-${userId.slice(-6)}`,
    name,
    dept_id: deptId,
    dept_name: deptName,
    mobile: `138${String(n % 100_000_000).padStart(8, "0")}`,
    role,
    status: 0,
  };
}

/** Builds shares for one owner; ids from the store's counter, content from `rand`. */
class ShareFactory {
  constructor(
    private readonly store: Store,
    private readonly rand: () => number,
  ) {}

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)] as T;
  }

  /** Reserves `count` consecutive share ids. */
  private ids(count: number): string[] {
    const end = BigInt(this.store.bump("seq:shareId", count));
    return Array.from({ length: count }, (_, i) => (SHARE_ID_BASE + end - BigInt(count - i)).toString());
  }

  build(
    ownerId: string,
    count: number,
    scopes: readonly number[],
    recipientPool: Recipient[],
    opts: { names?: string[]; expiredEvery?: number; expired?: boolean[] } = {},
  ): NewShare[] {
    return this.ids(count).map((shareId, i) => {
      const [ext, mime] = this.pick(EXTS);
      const displayName = opts.names?.[i] ?? `${this.pick(WORDS)} ${this.pick(WORDS)} ${i + 1}.${ext}`;
      const scope = scopes[i % scopes.length] ?? 2;
      const shareTime = GEN_EPOCH_MS - Math.floor(this.rand() * 365 * DAY_MS);
      const expired = opts.expired
        ? opts.expired[i] === true
        : opts.expiredEvery
          ? i % opts.expiredEvery === opts.expiredEvery - 1
          : this.rand() < 0.05;
      const recipients: Recipients = { depts: [], groups: [], users: [] };
      if (scope === 3) {
        const pool = recipientPool.filter((r) => r.id !== ownerId);
        const k = Math.min(pool.length, 1 + Math.floor(this.rand() * 3));
        for (let j = 0; j < k; j++) {
          const r = pool[(i + j) % pool.length];
          if (r && !recipients.users.some((u) => u.id === r.id)) recipients.users.push(r);
        }
        if (recipients.users.length === 0) recipients.groups.push({ id: "g-project", name: "Project team" });
      }
      const file: ShareFile = {
        id: `f${shareId}`,
        fileName: displayName,
        fileType: 1,
        mimeType: mime,
        size: 1024 + Math.floor(this.rand() * 10_000_000),
      };
      const token = BigInt(shareId).toString(36);
      return {
        share_id: shareId,
        owner_id: ownerId,
        scope,
        short_url: `${SHARE_LINK_HOST}/s/${token}`,
        link_url: `${SHARE_LINK_HOST}/share/link?token=${token}`,
        share_time: shareTime,
        display_name: displayName,
        expire_time: expired ? shareTime + 7 * DAY_MS : GEN_VALID_UNTIL_MS,
        status: expired ? 2 : 0,
        comment: "",
        view_cnt: Math.floor(this.rand() * 50),
        container_id: `c${ownerId}`,
        container_name: "My files",
        files: JSON.stringify([file]),
        recipients: JSON.stringify(recipients),
        cancelled_at: null,
      };
    });
  }
}

/**
 * The demo tenant: an admin, the leaver Dana (36 shares), three colleagues, one share received by Dana.
 * KooDrive's admin configured Sam Seller (Dana's team) to receive Dana's data on a handover.
 */
export function seedDemo(store: Store): SeededUser[] {
  const people: [string, string, string, number][] = [
    [DEMO_ADMIN_ID, "Alex Admin", "IT", 1],
    [DEMO_LEAVER_ID, "Dana Leaver", "Sales", 0],
    ["1505084218764547202", "Sam Seller", "Sales", 0],
    ["1505084218764547203", "Priya Product", "Product", 0],
    ["1505084218764547204", "Chen Finance", "Finance", 0],
  ];
  const users = people.map(([id, name, dept, role], n) => makeUser(id, name, dept, 10_000_000 + n, role));
  const pool = users.map((u) => ({ id: u.user_id, name: u.name }));
  const factory = new ShareFactory(store, mulberry32(20261122));
  const [, dana, sam, priya, chen] = users as [UserRow, UserRow, UserRow, UserRow, UserRow];
  const danaShares = factory.build(dana.user_id, DEMO_LEAVER_SHARES, [1, 2, 3], pool, { expiredEvery: 18 });
  const samShares = factory.build(sam.user_id, 3, [3, 2, 1], [{ id: dana.user_id, name: dana.name }], {
    names: ["Pipeline review.xlsx", "Team offsite.pdf", "Price list.pdf"],
  });
  const priyaShares = factory.build(priya.user_id, 2, [2, 3], pool);
  const chenShares = factory.build(chen.user_id, 2, [1, 2], pool);
  store.transaction(() => {
    store.insertUsers(users);
    store.insertShares([...danaShares, ...samShares, ...priyaShares, ...chenShares]);
    setHandoverRecipient(store, dana.user_id, sam.user_id);
  });
  const counts = new Map<string, string[]>();
  for (const s of [...danaShares, ...samShares, ...priyaShares, ...chenShares]) {
    counts.set(s.owner_id, [...(counts.get(s.owner_id) ?? []), s.share_id]);
  }
  return users.map((u) => seeded(u, counts.get(u.user_id) ?? []));
}

function seeded(u: UserRow, shareIds: string[]): SeededUser {
  const out: SeededUser = { userId: u.user_id, name: u.name, shareCount: shareIds.length };
  if (shareIds.length <= MAX_SHARE_IDS_IN_SEED_RESPONSE) out.shareIds = shareIds;
  return out;
}

const isScope = (x: unknown): boolean => x === 1 || x === 2 || x === 3;

/** Checks one `shares: [...]` entry; an error message, or null when it is well formed. */
function shareSpecError(share: unknown, at: string): string | null {
  if (typeof share !== "object" || share === null) return `${at} must be an object`;
  const { displayName, scope, expired } = share as Record<string, unknown>;
  if (typeof displayName !== "string" || displayName === "")
    return `${at}.displayName must be a non-empty string`;
  if (scope !== undefined && !isScope(scope)) return `${at}.scope must be 1|2|3`;
  if (expired !== undefined && typeof expired !== "boolean") return `${at}.expired must be a boolean`;
  return null;
}

function userSpecError(s: UserSpec, i: number): string | null {
  if (typeof s.name !== "string" || s.name === "") return `users[${i}].name is required`;
  if (s.userId !== undefined && !USER_ID_PATTERN.test(s.userId))
    return `users[${i}].userId must be 19 digits`;
  if (s.handoverTo !== undefined && !(typeof s.handoverTo === "string" && USER_ID_PATTERN.test(s.handoverTo)))
    return `users[${i}].handoverTo must be a 19-digit userId`;
  if (s.scopes !== undefined && (!Array.isArray(s.scopes) || !s.scopes.every(isScope)))
    return `users[${i}].scopes must be 1|2|3`;
  const shares = s.shares ?? 0;
  if (Array.isArray(shares)) {
    for (const [j, share] of shares.entries()) {
      const error = shareSpecError(share, `users[${i}].shares[${j}]`);
      if (error) return error;
    }
    return null;
  }
  if (!Number.isInteger(shares) || shares < 0)
    return `users[${i}].shares must be an integer >= 0 or a list of {displayName, scope?, expired?}`;
  return null;
}

/** The shares of one spec: generated (a count) or named (a list), with ids from the store's counter. */
function sharesFor(factory: ShareFactory, ownerId: string, spec: UserSpec, pool: Recipient[]): NewShare[] {
  const scopes = spec.scopes ?? [1, 2, 3];
  const shares = spec.shares ?? 0;
  if (!Array.isArray(shares)) return factory.build(ownerId, shares, scopes, pool);
  return factory.build(
    ownerId,
    shares.length,
    shares.map((share, i) => share.scope ?? (scopes[i % scopes.length] as number)),
    pool,
    {
      names: shares.map((share) => share.displayName),
      expired: shares.map((share) => share.expired === true),
    },
  );
}

/**
 * Adds users (existing userIds get the extra shares) with generated or named shares; deterministic from
 * `seed`.
 */
export function seedUsers(store: Store, specs: UserSpec[], seed: number): SeededUser[] | string {
  for (const [i, s] of specs.entries()) {
    if (typeof s !== "object" || s === null) return `users[${i}] must be an object`;
    const error = userSpecError(s, i);
    if (error) return error;
  }
  const rand = mulberry32(seed);
  const factory = new ShareFactory(store, rand);
  return store.transaction(() => {
    const rows: UserRow[] = [];
    const newUsers: UserRow[] = [];
    for (const s of specs) {
      const existing = s.userId ? store.user(s.userId) : undefined;
      if (existing) {
        rows.push(existing);
        continue;
      }
      const n = store.bump("seq:userId");
      const userId = s.userId ?? (USER_ID_BASE + BigInt(n)).toString();
      const user = makeUser(userId, s.name, s.deptName ?? "General", n);
      rows.push(user);
      newUsers.push(user);
    }
    store.insertUsers(newUsers);
    // After every user of the call exists, so a spec may name a recipient seeded later in the same list.
    for (const [i, u] of rows.entries()) {
      const to = specs[i]?.handoverTo;
      if (to !== undefined) setHandoverRecipient(store, u.user_id, to);
    }
    const pool = rows.map((u) => ({ id: u.user_id, name: u.name }));
    return rows.map((u, i) => {
      const shares = sharesFor(factory, u.user_id, specs[i] as UserSpec, pool);
      store.insertShares(shares);
      return seeded(
        u,
        shares.map((s) => s.share_id),
      );
    });
  });
}

/** `N` users named "Gen User k", each with `M` shares. */
export function seedGenerated(store: Store, users: number, sharesPerUser: number, seed: number) {
  const specs = Array.from({ length: users }, (_, k) => ({
    name: `Gen User ${k + 1}`,
    shares: sharesPerUser,
  }));
  return seedUsers(store, specs, seed);
}
