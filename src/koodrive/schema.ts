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
