import type * as z from "zod";
import {
  chunk,
  type KooDriveClient,
  MAX_IDS_PER_CANCEL,
  PAGE_SIZE,
  type ShareOutcome,
  type SharePage,
} from "../../src/koodrive/client";
import { ReceivedListResponse, ShareDetailResponse, type ShareLink } from "../../src/koodrive/schema";

/**
 * KooDrive calls the tests use but the service does not (it lists page by page inside Workflow steps and
 * cancels through `cancelBatch`): built on the client's public `request` / `batchCall`, so they exercise
 * the same signing, retries and parsing.
 */

/** Every page of a user's shares, stopping only when `nextCursor` is absent [koodrive-api.md: List]. */
export async function* listSharePages(client: KooDriveClient, userId: string): AsyncGenerator<SharePage> {
  let cursor: string | undefined = "0";
  while (cursor !== undefined) {
    const page: SharePage = await client.listSharePage(userId, cursor);
    yield page;
    cursor = page.nextCursor;
  }
}

export async function listAllShares(client: KooDriveClient, userId: string): Promise<ShareLink[]> {
  const all: ShareLink[] = [];
  for await (const page of listSharePages(client, userId)) all.push(...page.shareLinks);
  return all;
}

/** Cancels in chunks of at most 100 ids, `parallelism` calls at a time; one outcome per id. */
export async function cancelShares(
  client: KooDriveClient,
  userId: string,
  shareIds: readonly string[],
  parallelism = 1,
): Promise<ShareOutcome[]> {
  const chunks = chunk(shareIds, MAX_IDS_PER_CANCEL);
  const results: ShareOutcome[][] = new Array(chunks.length);
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const i = next++;
      results[i] = await client.cancelBatch(userId, chunks[i] ?? []);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallelism, chunks.length)) }, worker));
  return results.flat();
}

/** `GET /share/{shareId}` with recipients. */
export async function getShare(client: KooDriveClient, userId: string, shareId: string) {
  const res = await client.request({
    call: "share.detail",
    method: "GET",
    path: `/koodrive/ose/v1/share/${encodeURIComponent(shareId)}`,
    userId,
    schema: ShareDetailResponse,
  });
  return res.shareLink;
}

/** Shares others gave the user, page by page. */
export async function* listReceivedPages(client: KooDriveClient, userId: string) {
  let cursor: string | undefined = "0";
  while (cursor !== undefined) {
    const res: z.output<typeof ReceivedListResponse> = await client.request({
      call: "share.received",
      method: "GET",
      path: "/koodrive/ose/v1/share/received",
      userId,
      query: { pageSize: PAGE_SIZE, pageCursor: cursor },
      schema: ReceivedListResponse,
    });
    yield res.shareLinks;
    cursor = res.nextCursor;
  }
}

/** `POST /share/exit`, at most 100 ids a call. */
export async function exitShares(
  client: KooDriveClient,
  userId: string,
  shareIds: readonly string[],
): Promise<ShareOutcome[]> {
  const out: ShareOutcome[] = [];
  for (const ids of chunk(shareIds, MAX_IDS_PER_CANCEL)) {
    out.push(...(await client.batchCall("share.exit", "/koodrive/ose/v1/share/exit", userId, ids)));
  }
  return out;
}

/** `PUT /users/{userId}` status 0 enabled, 1 disabled (the client's `setUserStatus`). */
export async function updateUserStatus(
  client: KooDriveClient,
  actingUserId: string,
  userId: string,
  status: 0 | 1,
): Promise<void> {
  await client.setUserStatus(actingUserId, userId, status);
}
