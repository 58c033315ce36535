import * as z from "zod";

/**
 * Zod schemas for KooDrive responses. They tolerate the documented drift (`code` as string or number,
 * optional fields absent) and nothing else. Objects are loose: KooDrive may add fields.
 * @see ../../../shared/koodrive-api.md
 */

/** `code` is typed as a string on some pages and an integer on others; examples show 0 and "0" [doc]. */
export const Code = z.union([z.number(), z.string()]).transform((c) => String(c));

export const Envelope = z.looseObject({ code: Code, msg: z.string().optional().default("") });

/**
 * Ids are 19-digit strings. A number is accepted only while it is exact: a 19-digit id sent as a JSON
 * number has already lost digits in JSON.parse, and acting on a wrong id is worse than failing.
 */
const IdString = z
  .union([z.string(), z.number().refine(Number.isSafeInteger, "id sent as a number too large to be exact")])
  .transform((v) => String(v));

export const ShareFile = z.looseObject({
  id: IdString.optional(),
  fileName: z.string().optional(),
  fileType: z.union([z.string(), z.number()]).optional(),
  mimeType: z.string().optional(),
  size: z.number().optional(),
});

/** ShareByMeLink: an item of `GET /share`. */
export const ShareLink = z.looseObject({
  shareId: IdString,
  shortUrl: z.string().optional(),
  linkUrl: z.string().optional(),
  shareTime: z.union([z.string(), z.number()]).optional(),
  /** 1 anyone with the link, 2 enterprise users only, 3 specified users. */
  scope: z.coerce.number().int(),
  files: z.array(ShareFile).optional(),
  displayName: z.string().optional(),
  expireTime: z.union([z.string(), z.number()]).optional(),
  /** 0 valid until expireTime, 1 files deleted, 2 invalid/expired. */
  status: z.coerce.number().int().optional(),
  comment: z.string().optional(),
  viewCnt: z.number().optional(),
  containerId: z.string().optional(),
  containerName: z.string().optional(),
});
export type ShareLink = z.infer<typeof ShareLink>;

export const ShareListResponse = Envelope.extend({
  shareLinks: z.array(ShareLink).optional().default([]),
  /** Absent on the last page; a page may be short or empty before the end [doc]. */
  nextCursor: z
    .union([z.string(), z.number()])
    .optional()
    .nullable()
    .transform((v) => (v === undefined || v === null || v === "" ? undefined : String(v))),
});

const Named = z.looseObject({ id: IdString, name: z.string().optional() });

export const ShareDetailResponse = Envelope.extend({
  shareLink: ShareLink.extend({
    depts: z.array(Named).optional(),
    groups: z.array(Named).optional(),
    users: z.array(Named).optional(),
  }),
});

export const ReceivedShare = ShareLink.extend({
  ownerId: IdString.optional(),
  ownerName: z.string().optional(),
});
export const ReceivedListResponse = ShareListResponse.extend({
  shareLinks: z.array(ReceivedShare).optional().default([]),
});

export const SubResponse = z.looseObject({
  shareId: IdString,
  code: Code,
  msg: z.string().optional().default(""),
});
export type SubResponse = z.infer<typeof SubResponse>;

export const BatchResponse = Envelope.extend({
  subResponseList: z.array(SubResponse).optional().default([]),
});

export const User = z.looseObject({
  userId: IdString,
  name: z.string(),
  id: IdString.optional(),
  deptId: IdString.optional(),
  deptName: z.string().optional(),
  mobile: z.string().optional(),
  role: z.union([z.string(), z.number()]).optional(),
  status: z.coerce.number().int().optional(),
});
export type User = z.infer<typeof User>;

/**
 * `GET /userList`: `total` and `list[]`. Users endpoints nest under `data` [doc: "Some endpoints nest
 * under data (users)"]; we also accept them at the top level, the one place this [inferred] shape lives.
 */
export const UserListResponse = Envelope.extend({
  data: z.looseObject({ total: z.coerce.number(), list: z.array(User).default([]) }).optional(),
  total: z.coerce.number().optional(),
  list: z.array(User).optional(),
}).transform((r) => ({
  code: r.code,
  msg: r.msg,
  total: r.data?.total ?? r.total ?? 0,
  list: r.data?.list ?? r.list ?? [],
}));

export const UserResponse = Envelope.extend({ data: User.extend({ orgId: IdString.optional() }) });

// ---- Handover, blocking and evidence [doc: "Handover, blocking and evidence"] ----

/** `T` with the keys that may be undefined made optional (absent rather than undefined). */
type Compact<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** Drops the keys whose value is undefined (optional fields stay absent, as exactOptionalPropertyTypes wants). */
function compact<T extends Record<string, unknown>>(value: T): Compact<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Compact<T>;
}

/** An optional value that may come as null or "" (both read as absent). */
const absent = (v: unknown): boolean => v === undefined || v === null || v === "";

/** An integer sent as a number or a numeric string (never coerced from null, unlike z.coerce). */
const Int = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);

/**
 * A time as KooDrive sends it: a string is kept as it is; a number is read as epoch milliseconds and given
 * as ISO 8601 [inferred: the reference gives no format for task or audit-log times].
 */
const Time = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => {
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "string") return v;
    const date = new Date(v);
    return Number.isNaN(date.getTime()) ? String(v) : date.toISOString();
  });

/** A paging cursor (`pageCursor` is a Long [doc]): a number is accepted only while it is exact. */
const Cursor = z
  .union([
    z.string(),
    z.number().refine(Number.isSafeInteger, "cursor sent as a number too large to be exact"),
  ])
  .nullish()
  .transform((v) => (absent(v) ? undefined : String(v)));

/** A task as `GET /task/{id}` and `GET /task/list` give it; ids and codes as strings, times as strings. */
export interface TaskInfo {
  taskId: string;
  taskType?: number;
  /** The source user [inferred]; see `taskSourceUser` in client.ts. */
  userId?: string;
  /** 0 NEW, 1 EXECUTING, 2 SUCCESS, 3 FAILED [doc]. */
  status: number;
  /** "18xxxxxx", on failure only [doc]. */
  resultCode?: string;
  /** JSON `{srcUserId, dstUserId}` [inferred], list items only. */
  initParams?: string;
  createTime?: string;
  startTime?: string;
  endTime?: string;
}

export const TaskInfo = z
  .looseObject({
    taskId: IdString,
    taskType: Int.nullish(),
    userId: IdString.nullish(),
    status: Int,
    resultCode: z.union([z.string(), z.number()]).nullish(),
    initParams: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
    createTime: Time,
    startTime: Time,
    endTime: Time,
  })
  .transform(
    (t): TaskInfo =>
      compact({
        taskId: t.taskId,
        taskType: t.taskType ?? undefined,
        userId: absent(t.userId) ? undefined : (t.userId as string),
        status: t.status,
        resultCode: absent(t.resultCode) ? undefined : String(t.resultCode),
        // An object is kept as the JSON text the field is documented as [inferred].
        initParams:
          t.initParams === null || t.initParams === undefined || t.initParams === ""
            ? undefined
            : typeof t.initParams === "string"
              ? t.initParams
              : JSON.stringify(t.initParams),
        createTime: t.createTime,
        startTime: t.startTime,
        endTime: t.endTime,
      }),
  );

/** `POST /task/create` -> `{taskId, code, msg}` [doc]. */
export const TaskCreateResponse = Envelope.extend({ taskId: IdString });

/**
 * `GET /task/list`: the array is `taskList` in the reference's field table and `taskListDtos` in its
 * example [doc]: both accepted; `nextCursor` absent on the last page.
 */
export const TaskListResponse = Envelope.extend({
  taskList: z.array(TaskInfo).nullish(),
  taskListDtos: z.array(TaskInfo).nullish(),
  nextCursor: Cursor,
}).transform((r) => ({ tasks: r.taskList ?? r.taskListDtos ?? [], nextCursor: r.nextCursor }));

/**
 * `GET /task/dstUserInfo/{src}` -> `{id, name}` [doc]. No recipient configured: `id` absent, null or ""
 * [inferred: the reference does not say; the simulator answers code 0 with `id: ""`].
 */
export const RecipientResponse = Envelope.extend({
  id: IdString.nullish(),
  name: z.string().nullish(),
}).transform((r) => (absent(r.id) ? null : { userId: r.id as string, name: r.name ?? "" }));

/** One `logInfoList[]` entry, the fields the evidence needs; a missing text field reads as "". */
export const AuditLogEntry = z
  .looseObject({
    logId: IdString.nullish(),
    // A share id sent as an inexact number could match a neighbouring share: refused like any id.
    resource: IdString.nullish(),
    operation: z.string().nullish(),
    operateTime: Time,
    operateResult: Int.nullish(),
  })
  .transform((e) =>
    compact({
      logId: e.logId ?? "",
      resource: e.resource ?? "",
      operation: e.operation ?? "",
      operateTime: e.operateTime ?? "",
      operateResult: e.operateResult ?? undefined,
    }),
  );
export type AuditLogEntry = z.output<typeof AuditLogEntry>;

/** `POST /auditlog` -> `{total, logInfoList[]}` [doc]; `total` is required (paging depends on it). */
export const AuditLogResponse = Envelope.extend({
  total: Int,
  logInfoList: z.array(AuditLogEntry).nullish(),
}).transform((r) => ({ total: r.total, entries: r.logInfoList ?? [] }));
